//! Integration and conformance tests, linked into one binary.

mod conformance_proc;
mod determinism;
mod util;
