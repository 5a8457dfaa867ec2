//! Splits of a cohort into folds (filled in below).
