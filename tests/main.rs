//! Integration and conformance tests, linked into one binary.

mod cli_errors;
mod cnn3d;
mod cnn_data;
mod cnn_determinism;
mod cnn_kind;
mod cnn_segmentation;
mod cnn_training;
mod cnn_transfer;
mod conformance_dcurves;
mod conformance_ibsi;
mod conformance_proc;
mod conformance_pyradiomics;
mod data_nifti;
mod data_synth;
mod determinism;
mod experiments;
mod leakage;
mod medmnist;
mod splits;
mod stats_anchors;
mod stats_bootstrap;
mod stats_cli;
mod synth_scenarios;
mod util;
