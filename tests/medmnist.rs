//! AdrenalMNIST3D through the real reader: the `[medmnist]` manifest, SHA-256 verification,
//! the predefined split and an experiment on a small subset (first 60 train, 20 val, 40 test).

use crate::util::shared_file;
use radbench::data::{Cohort, DataError, Manifest, ManifestSource};
use std::path::Path;

const SHA_28: &str = "8ffd78c0f000265deb7cf4ee0b454136fb3170f9839ecaa7bb01adf9f88aa7d1";

/// A `[medmnist]` manifest in `dir` for `npz` (absolute) with `sha` and a subset limit.
fn subset_manifest(dir: &Path, npz: &Path, sha: &str) -> std::path::PathBuf {
    let path = dir.join("adrenal-subset.toml");
    let text = format!(
        "[cohort]\nname = \"adrenal-subset\"\n\n[medmnist]\nfile = \"{}\"\nsha256 = \"{sha}\"\n\
         label = \"hyperplasia\"\nspacing = [1.0, 1.0, 1.0]\n\
         limit = {{ train = 60, val = 20, test = 40 }}\n",
        npz.display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn repo_manifests_declare_the_shared_files_and_their_hashes() {
    for (name, file) in [
        ("adrenalmnist3d.toml", "adrenalmnist3d.npz"),
        ("adrenalmnist3d_64.toml", "adrenalmnist3d_64.npz"),
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data-manifests")
            .join(name);
        let manifest = Manifest::load(&path).unwrap();
        let ManifestSource::MedMnist(source) = &manifest.source else {
            panic!("{name} is not a [medmnist] manifest");
        };
        assert_eq!(source.label, "hyperplasia");
        assert_eq!(source.spacing, [1.0; 3]);
        assert!(source.file.relative.ends_with(file));
        let Some(shared) = shared_file(&format!("data/medmnist/{file}")) else {
            return;
        };
        let actual = radbench::data::manifest::sha256_file(&shared).unwrap();
        assert_eq!(source.file.sha256, actual, "{name}");
    }
}

#[test]
fn subset_cohort_has_ids_splits_labels_and_shape_masks() {
    let Some(npz) = shared_file("data/medmnist/adrenalmnist3d.npz") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let manifest = subset_manifest(dir.path(), &npz, SHA_28);
    let cohort = Cohort::open(&manifest, &dir.path().join("cache")).unwrap();
    let cases = cohort.cases();
    assert_eq!(cases.len(), 120);
    assert_eq!(cases[0].id, "train-0001");
    assert_eq!(cases[60].id, "val-0001");
    assert_eq!(cases[119].id, "test-0040");
    let count = |s: &str| {
        cases
            .iter()
            .filter(|c| c.split.as_deref() == Some(s))
            .count()
    };
    assert_eq!((count("train"), count("val"), count("test")), (60, 20, 40));
    assert!(
        cases
            .iter()
            .all(|c| matches!(c.label("hyperplasia"), Some(0 | 1)))
    );
    let (image, mask) = cohort.load_case(&cases[0], 1).unwrap();
    assert_eq!(image.grid.dims, [28, 28, 28]);
    assert_eq!(image.grid.spacing, [1.0; 3]);
    for (v, m) in image.voxels.iter().zip(&mask.voxels) {
        assert!(*v == 0.0 || *v == 255.0);
        assert_eq!(*m == 1, *v > 0.0);
    }
    // Reopening reuses the written cohort: same fingerprint.
    let again = Cohort::open(&manifest, &dir.path().join("cache")).unwrap();
    assert_eq!(again.fingerprint(), cohort.fingerprint());
}

#[test]
fn truncated_npz_fails_verification_and_decoding_with_the_file_named() {
    let Some(npz) = shared_file("data/medmnist/adrenalmnist3d.npz") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(&npz).unwrap();
    let cut = dir.path().join("cut.npz");
    std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
    // Declared with the real file's hash: the checksum catches it before any decoding.
    let manifest = subset_manifest(dir.path(), &cut, SHA_28);
    let msg = Cohort::open(&manifest, &dir.path().join("cache"))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("fail verification") && msg.contains("cut.npz"),
        "{msg}"
    );
    // Declared with the truncated file's own hash: decoding fails with a clear error.
    let sha = radbench::data::manifest::sha256_file(&cut).unwrap();
    let manifest = subset_manifest(dir.path(), &cut, &sha);
    let err = Cohort::open(&manifest, &dir.path().join("cache")).unwrap_err();
    assert!(matches!(err, DataError::Npz { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("cut.npz") && msg.contains("cannot read npz"),
        "{msg}"
    );
}

#[test]
fn subset_experiment_fits_on_train_thresholds_on_val_and_tests_once() {
    let Some(npz) = shared_file("data/medmnist/adrenalmnist3d.npz") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    subset_manifest(dir.path(), &npz, SHA_28);
    let experiment = dir.path().join("adrenal.toml");
    std::fs::write(
        &experiment,
        r#"
[experiment]
name = "adrenal-subset"
seed = 7

[data]
manifest = "adrenal-subset.toml"
label = "hyperplasia"

[features]
classes = ["shape"]

[split]
kind = "predefined"

[[model]]
id = "shape-logistic"
kind = "logistic"
alpha = 1.0

[[model]]
id = "resnet18-2.5d"
kind = "cnn"
input = { layout = { kind = "orthogonal25d" }, size = [28, 28], normalise = { kind = "window", lo = 0.0, hi = 255.0 } }
network = { arch = "resnet", depth = "resnet18", base_width = 4, stem = "small" }
train = { epochs = 2, batch_size = 16, lr = 0.002, patience = 1 }
validation = "split"

[evaluation]
compare = [["resnet18-2.5d", "shape-logistic"]]

[published]
source = "MedMNIST v2"
auc = { "resnet18-2.5d" = 0.718, "resnet18-3d" = 0.827 }
acc = { "resnet18-2.5d" = 0.772, "auto-sklearn" = 0.802 }
"#,
    )
    .unwrap();
    let out = radbench::runner::run(&radbench::runner::RunOptions {
        experiment,
        out: dir.path().join("reports"),
        cache: None,
        progress: false,
        mode: radbench::runner::Mode::Full,
    })
    .unwrap();
    let (report_dir, report) = out.report.unwrap();
    assert_eq!(report.parts, vec!["test".to_string()]);
    for model in &report.models {
        assert_eq!(
            model.n_cases, 40,
            "{}: only test cases are predicted",
            model.id
        );
    }
    let summary = report.test_summary.as_ref().unwrap();
    assert_eq!(summary.n_test, 40);
    let expected_majority = summary.n_positive.max(40 - summary.n_positive) as f64 / 40.0;
    assert_eq!(summary.majority_accuracy, expected_majority);
    for row in &summary.models {
        let [lo, hi] = row.auc_ci_bootstrap;
        assert!(lo <= row.auc && row.auc <= hi, "{row:?}");
        assert!(row.threshold.is_some(), "{}: a val threshold", row.id);
    }
    assert_eq!(summary.holm_p.len(), 1);
    let methods: Vec<&str> = summary
        .published
        .iter()
        .map(|p| p.method.as_str())
        .collect();
    assert_eq!(methods, ["resnet18-2.5d", "resnet18-3d", "auto-sklearn"]);
    assert!(summary.published[0].auc.is_some() && summary.published[1].auc.is_none());
    // The CNN early-stopped on the 20 val cases: its curve has a val AUC every epoch.
    let cnn = &report.models[1];
    let epochs = cnn.cell_summaries[0]["epochs"].as_array().unwrap();
    assert!(
        epochs.iter().all(|e| e["val_auc"].is_number()),
        "{epochs:?}"
    );
    let md = std::fs::read_to_string(report_dir.join("report.md")).unwrap();
    assert!(md.contains("Test split") && md.contains("Holm"), "{md}");
    // Train and val cases are never predicted; every test case is.
    let csv = std::fs::read_to_string(report_dir.join("predictions.csv")).unwrap();
    assert!(!csv.contains("train-0001") && !csv.contains("val-0001"));
    assert!(csv.contains("test-0040"));
}
