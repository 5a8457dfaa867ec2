//! Cohorts: manifests with SHA-256 of every file, image IO, splits and synthetic scenarios.
//!
//! Principal types: [`image::Image`] and [`image::Mask`] on a [`image::Grid`];
//! [`manifest::Manifest`] (a cohort's files, hashes and labels); [`Cohort`] (a verified
//! manifest ready to load); [`split`] (stratified, patient-grouped folds); [`synth`] (built-in
//! synthetic scenarios).

pub mod image;
pub mod nrrd;
pub mod split;

/// Errors from reading, verifying or generating cohort data. Each names the file or case at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An NRRD file could not be read.
    #[error(transparent)]
    Nrrd(#[from] nrrd::NrrdError),
    /// A cohort cannot be split as asked (too few cases of a class, say).
    #[error("cannot split the cohort: {0}")]
    Split(String),
}
