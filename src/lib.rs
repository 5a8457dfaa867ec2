//! radbench: a reproducible benchmark harness for medical-imaging prediction studies.
//!
//! One experiment file ([`spec::Experiment`]) names a cohort, a split, a set of models and the
//! statistics. Data flow one way, each arrow a plain type that can be tested on its own:
//!
//! spec → [`data::Cohort`] → [`features::FeatureTable`] → [`models`] → predictions →
//! [`eval`] → [`report`]; [`runner`] drives the stages with fixed seeds and writes a report
//! whose bytes are identical on every rerun.
#![deny(missing_docs)]

pub mod cli;
pub mod data;
pub mod error;
pub mod eval;
pub mod features;
pub mod models;
pub mod process;
pub mod report;
pub mod runner;
pub mod seed;
pub mod spec;

pub use error::Error;

/// The radbench version, part of every report's content hash.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git commit radbench was built from (`unknown` outside a checkout); written to `run.json`
/// only, never into the byte-compared report.
pub const GIT_COMMIT: &str = env!("RADBENCH_GIT_COMMIT");
