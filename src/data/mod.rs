//! Cohorts: manifests with SHA-256 of every file, image IO, splits and synthetic scenarios.
//!
//! Principal types: [`image::Image`] and [`image::Mask`] on a [`image::Grid`];
//! [`nifti`] (hand-written NIfTI-1 reader and deterministic writer);
//! [`manifest::Manifest`] (a cohort's files, hashes and labels, or a synthetic scenario);
//! [`Cohort`] (a verified manifest ready to load); [`split`] (stratified, patient-grouped
//! folds); [`synth`] (built-in synthetic scenarios, each a [`synth::Scenario`]).
//!
//! References: the NIfTI-1 header definition (`nifti1.h`, NIfTI DFWG 2004) for image IO;
//! SimpleITK's LPS convention for geometry, which is what pyradiomics sees.

pub mod cohort;
pub mod image;
pub mod manifest;
pub mod medmnist;
pub mod nifti;
pub mod npz;
pub mod nrrd;
pub mod split;
pub mod synth;

pub use cohort::Cohort;
pub use manifest::{CaseEntry, FileRef, Manifest, ManifestSource, VerifyReport};

mod error;

pub use error::DataError;
