//! Integration and conformance tests, linked into one binary.

mod cli_errors;
mod cnn_data;
mod cnn_determinism;
mod cnn_segmentation;
mod cnn_training;
mod cnn_transfer;
mod conformance_proc;
mod determinism;
mod util;
