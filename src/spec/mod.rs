//! Experiment files.
