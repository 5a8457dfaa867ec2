//! Cohort (stub).
