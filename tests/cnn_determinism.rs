//! CNN training is bit-identical on rerun and at any candle thread count.
//!
//! candle sizes its CPU pool from `RAYON_NUM_THREADS` once per process, so the thread-count
//! check re-runs this test binary as a child process (test `child_fingerprint`, enabled by the
//! environment variable `RADBENCH_CNN_CHILD`) at 1 and 2 threads and compares the fingerprints
//! of the trained weights and predictions, for a tiny 2-D and a tiny 3-D ResNet.

use crate::cnn_data::{cohort, crops, patches};
use crate::cnn_training::tiny_spec;
use radbench::models::cnn::classifier::{ArchSpec, CnnClassifier, CnnSpec};
use radbench::models::cnn::input::Sample;
use radbench::models::cnn::resnet::{ResNetDepth, Stem};
use radbench::seed::rng_for;
use sha2::{Digest, Sha256};

/// Trains the tiny 2-D and 3-D nets and returns (weights fingerprints, SHA-256 of the
/// prediction bits), each the 2-D one then the 3-D one.
fn train_and_fingerprint(seed: u64) -> (String, String) {
    let (w2, p2) = fingerprint_2d(seed);
    let (w3, p3) = fingerprint_3d(seed);
    (format!("{w2}+{w3}"), format!("{p2}+{p3}"))
}

fn fingerprint_2d(seed: u64) -> (String, String) {
    let (x, y) = patches(&cohort(7, "det", 16, 2, 1.5), 2);
    let mut spec = tiny_spec(2);
    spec.train.epochs = 2;
    spec.train.batch_size = 8;
    spec.train.clip_grad_norm = Some(1.0);
    fingerprint_of(&x, &y, &spec, seed)
}

/// A 3-D ResNet-18 of width 2 with the small affine on: batch order, augmentation, 3-D
/// convolutions and pooling must all be reproducible.
fn fingerprint_3d(seed: u64) -> (String, String) {
    let (x, y) = crops(&cohort(7, "det3d", 12, 2, 1.5));
    let mut spec = crate::cnn3d::tiny_spec_3d(2);
    spec.arch = ArchSpec::Resnet3d {
        depth: ResNetDepth::R18,
        base_width: 2,
        stem: Stem::Small,
    };
    spec.train.epochs = 2;
    spec.train.clip_grad_norm = Some(1.0);
    fingerprint_of(&x, &y, &spec, seed)
}

fn fingerprint_of(x: &[Sample], y: &[usize], spec: &CnnSpec, seed: u64) -> (String, String) {
    let fitted = CnnClassifier::fit(x, y, spec, &mut rng_for(seed, &["det"])).unwrap();
    let mut h = Sha256::new();
    for row in fitted.predict_proba(x).unwrap() {
        for p in row {
            h.update(p.to_bits().to_le_bytes());
        }
    }
    for row in fitted.embed(&x[..4]).unwrap() {
        for v in row {
            h.update(v.to_bits().to_le_bytes());
        }
    }
    let predictions: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    (fitted.fingerprint().unwrap(), predictions)
}

#[test]
fn rerun_is_bit_identical_and_seed_matters() {
    let a = train_and_fingerprint(1);
    let b = train_and_fingerprint(1);
    assert_eq!(a, b);
    let c = train_and_fingerprint(2);
    let (a2, a3) = a.0.split_once('+').unwrap();
    let (c2, c3) = c.0.split_once('+').unwrap();
    assert_ne!(a2, c2);
    assert_ne!(a3, c3);
}

/// Prints the fingerprints when run as a child of `thread_count_does_not_change_results`.
#[test]
fn child_fingerprint() {
    if std::env::var_os("RADBENCH_CNN_CHILD").is_none() {
        return;
    }
    let (weights, predictions) = train_and_fingerprint(1);
    println!("CNN-FINGERPRINT {weights} {predictions}");
}

#[test]
fn thread_count_does_not_change_results() {
    let exe = std::env::current_exe().unwrap();
    let run = |threads: &str| {
        let out = std::process::Command::new(&exe)
            .args([
                "cnn_determinism::child_fingerprint",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("RADBENCH_CNN_CHILD", "1")
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "child at {threads} threads failed: {stdout}"
        );
        stdout
            .lines()
            .find_map(|l| l.split_once("CNN-FINGERPRINT ").map(|(_, f)| f.to_string()))
            .unwrap_or_else(|| {
                panic!("no fingerprint from the child at {threads} threads: {stdout}")
            })
    };
    let one = run("1");
    let two = run("2");
    let four = run("4");
    assert_eq!(one, two, "1 vs 2 threads");
    assert_eq!(one, four, "1 vs 4 threads");
    let (w, p) = train_and_fingerprint(1);
    assert_eq!(one, format!("{w} {p}"), "child vs this process");
}
