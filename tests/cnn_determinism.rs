//! CNN training is bit-identical on rerun and at any candle thread count.
//!
//! candle sizes its CPU pool from `RAYON_NUM_THREADS` once per process, so the thread-count
//! check re-runs this test binary as a child process (test `child_fingerprint`, enabled by the
//! environment variable `RADBENCH_CNN_CHILD`) at 1 and 2 threads and compares the fingerprints
//! of the trained weights and predictions.

use crate::cnn_data::{cohort, patches};
use crate::cnn_training::tiny_spec;
use radbench::models::cnn::classifier::CnnClassifier;
use radbench::seed::rng_for;
use sha2::{Digest, Sha256};

/// Trains the tiny net and returns (weights fingerprint, SHA-256 of the prediction bits).
fn train_and_fingerprint(seed: u64) -> (String, String) {
    let (x, y) = patches(&cohort(7, "det", 16, 2, 1.5), 2);
    let mut spec = tiny_spec(2);
    spec.train.epochs = 2;
    spec.train.batch_size = 8;
    spec.train.clip_grad_norm = Some(1.0);
    let fitted = CnnClassifier::fit(&x, &y, &spec, &mut rng_for(seed, &["det"])).unwrap();
    let mut h = Sha256::new();
    for row in fitted.predict_proba(&x).unwrap() {
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
    assert_ne!(a.0, c.0);
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
