//! Integration and conformance tests, linked into one binary.

mod conformance_dcurves;
mod conformance_proc;
mod stats_anchors;
mod stats_bootstrap;
mod stats_cli;
mod util;
