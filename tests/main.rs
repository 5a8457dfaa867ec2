//! Integration and conformance tests, linked into one binary.

mod conformance_pyradiomics;
mod util;
