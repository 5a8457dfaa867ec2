//! The crate-wide error: one variant per stage.

/// Any radbench error; `Display` is the one line the CLI prints.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Cohort data.
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    /// Evaluation statistics.
    #[error(transparent)]
    Eval(#[from] crate::eval::EvalError),
    /// `radbench stats` input.
    #[error(transparent)]
    Stats(#[from] crate::cli::stats::StatsError),
}
