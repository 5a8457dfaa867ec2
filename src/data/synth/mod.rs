//! Synthetic scenarios (stub).
