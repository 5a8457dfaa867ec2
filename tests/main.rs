//! Integration and conformance tests, linked into one binary.

mod cli_errors;
mod conformance_proc;
mod conformance_pyradiomics;
mod determinism;
mod util;
