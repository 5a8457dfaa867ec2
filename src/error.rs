//! The crate-wide error: one variant per stage; `Display` is the one line the CLI prints.

/// Any radbench error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Experiment file.
    #[error(transparent)]
    Spec(#[from] crate::spec::SpecError),
    /// Cohort data.
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    /// Feature extraction.
    #[error(transparent)]
    Feature(#[from] crate::features::FeatureError),
    /// Models.
    #[error(transparent)]
    Model(#[from] crate::models::ModelError),
    /// Statistics.
    #[error(transparent)]
    Eval(#[from] crate::eval::EvalError),
    /// Report writing.
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    /// The runner.
    #[error(transparent)]
    Runner(#[from] crate::runner::RunnerError),
    /// `radbench diff --fail-on-change` found changes.
    #[error("{0} value(s) differ between the reports")]
    ReportsDiffer(usize),
    /// `radbench bench-compare --fail-on-regression` found regressions.
    #[error("{0} benchmark(s) regressed beyond the noise threshold")]
    BenchRegressed(usize),
    /// Command-line usage that parses but cannot be carried out.
    #[error("{0}")]
    Usage(String),
    /// `radbench stats` input.
    #[error(transparent)]
    Stats(#[from] crate::cli::stats::StatsError),
}
