//! The crate-wide error: one variant per stage.

/// Any radbench error; `Display` is the one line the CLI prints.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Cohort data.
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    /// Radiomics feature extraction.
    #[error(transparent)]
    Features(#[from] crate::features::FeatureError),
}
