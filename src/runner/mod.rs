//! The experiment runner: spec → cohort → features → cells → evaluation → report.
//!
//! [`run`] validates the experiment, opens (and verifies) the cohort, extracts radiomics per
//! case in parallel, plans the cells (model × repeat × fold, [`plan`]), runs them in parallel
//! with per-cell seeded streams, pools out-of-fold predictions, evaluates them and writes the
//! report. Parallel work is collected in input order, so thread count and scheduling never
//! reach a result. Finished cells are cached ([`cache`]) so an interrupted run resumes.

pub mod auto_mask;
pub mod cache;
mod channel_features;
mod evaluate;
mod execute;
mod features;
mod images;
mod latency;
pub mod operating_point;
mod patches;
pub mod plan;
mod prepare;
pub mod pretrain;
mod progress;
pub mod segmentation;
pub mod shard;
mod studies;
mod survival;
mod sweep;

pub use execute::{Mode, RunOptions, RunOutcome, run};
pub use prepare::{Prepared, SweepRun, prepare};

/// Errors of a run that are not errors of one stage's input; each names the case, model or
/// fold at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunnerError {
    /// Feature extraction failed for a case.
    #[error("case {case}: {source}")]
    Features {
        /// Case id.
        case: String,
        /// The cause.
        source: crate::features::FeatureError,
    },
    /// Loading a case failed.
    #[error("case {case}: {source}")]
    Case {
        /// Case id.
        case: String,
        /// The cause.
        source: crate::data::DataError,
    },
    /// A case lacks the experiment's label.
    #[error("case {case}: no label {label:?} in the manifest")]
    MissingLabel {
        /// Case id.
        case: String,
        /// Label name.
        label: String,
    },
    /// Cases disagree on their feature names (a feature class gave different outputs).
    #[error("case {case}: its feature names differ from those of case {first}")]
    FeatureNames {
        /// The case that differs.
        case: String,
        /// The first case, whose names set the columns.
        first: String,
    },
    /// The labels cannot support the analysis (one class, say).
    #[error("labels: {0}")]
    Labels(String),
    /// A model could not be built from its settings.
    #[error("model {model:?}: {message}")]
    ModelSettings {
        /// Model id.
        model: String,
        /// What is wrong.
        message: String,
    },
    /// Fitting or predicting failed in a cell.
    #[error("cell {cell}: {source}")]
    Cell {
        /// The cell key (model, repeat, fold).
        cell: String,
        /// The cause.
        source: crate::models::ModelError,
    },
    /// A merge found cells missing from the cache.
    #[error(
        "{count} of {total} cells are missing from the cache (e.g. {examples}); re-run their \
         shards, or merge with --allow-partial to write a report marked partial"
    )]
    MissingCells {
        /// Number of missing cells.
        count: usize,
        /// Number of cells in the plan.
        total: usize,
        /// Some of their keys.
        examples: String,
    },
    /// A statistic could not be computed.
    #[error("model {model:?}: {source}")]
    Eval {
        /// Model id (or pair).
        model: String,
        /// The cause.
        source: crate::eval::EvalError,
    },
    /// Training or applying a segmenter failed in a cell.
    #[error("segmenter cell {cell}: {message}")]
    Segmenter {
        /// The cell key (segmenter, repeat, fold).
        cell: String,
        /// What failed.
        message: String,
    },
    /// The survival analysis cannot be carried out.
    #[error("survival: {0}")]
    Survival(String),
    /// Pretraining a model's network on its pretraining cohort failed.
    #[error("model {model:?}: pretraining: {message}")]
    Pretraining {
        /// Model id.
        model: String,
        /// What failed.
        message: String,
    },
    /// Radiomics of a predicted mask cannot be computed (not a fallback case: a run fault).
    #[error("case {case}: predicted mask: {message}")]
    PredictedMask {
        /// Case id (or the cell, in parentheses).
        case: String,
        /// What is wrong.
        message: String,
    },
}
