//! Evaluation statistics.
