//! Integration and conformance tests, linked into one binary.

mod data_nifti;
mod data_synth;
mod util;
