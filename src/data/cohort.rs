//! Cohort (stub).
/// A cohort.
pub struct Cohort;
