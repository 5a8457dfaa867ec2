//! Report figures end to end: every figure a binary and a multi-class experiment name is
//! written, well-formed, has text, is embedded in report.html, and is byte-identical on rerun.

use crate::tiny::{assert_well_formed_svg, read, run_to_report, tiny_experiment};

const BINARY_BODY: &str = "[features]\nclasses = [\"firstorder\", \"shape\"]\n\n\
[split]\nkind = \"stratified-kfold\"\nfolds = 3\n\n\
[[model]]\nid = \"logistic\"\nkind = \"logistic\"\nalpha = 1.0\n\n\
[[model]]\nid = \"volume only\"\nkind = \"logistic\"\nfeatures = [\"original_shape_VoxelVolume\"]\n";

fn check_figures(dir: &std::path::Path, again: &std::path::Path, expected: &[&str]) {
    let report: serde_json::Value = serde_json::from_slice(&read(dir, "report.json")).unwrap();
    let names: Vec<&str> = report["figures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for e in expected {
        assert!(names.contains(e), "{e} missing from {names:?}");
    }
    let html = String::from_utf8(read(dir, "report.html")).unwrap();
    for name in &names {
        let file = format!("figures/{name}");
        let svg = String::from_utf8(read(dir, &file)).unwrap();
        assert_well_formed_svg(name, &svg);
        assert!(
            html.contains(svg.trim()),
            "{name} is not inline in report.html"
        );
        assert!(
            read(again, &file) == svg.as_bytes(),
            "{name} differs on rerun"
        );
    }
}

#[test]
fn binary_figures_are_written_well_formed_and_reproducible() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = tiny_experiment(
        tmp.path(),
        "tiny-binary",
        "lesion-ct",
        60,
        "",
        "label = \"lesion\"",
        BINARY_BODY,
    );
    let a = run_to_report(&exp, &tmp.path().join("a"), 2);
    let b = run_to_report(&exp, &tmp.path().join("b"), 1);
    check_figures(
        &a,
        &b,
        &[
            "roc.svg",
            "dca.svg",
            "calibration.svg",
            "pr.svg",
            "confusion-logistic.svg",
            "confusion-volume_only.svg",
        ],
    );
    let roc = String::from_utf8(read(&a, "figures/roc.svg")).unwrap();
    assert!(
        roc.contains("bootstrap band") && roc.contains("<polygon"),
        "ROC has no band"
    );
    let report: serde_json::Value = serde_json::from_slice(&read(&a, "report.json")).unwrap();
    let band = &report["models"][0]["binary"]["roc_band"];
    assert_eq!(band["lower"].as_array().unwrap().len(), 51);
    let p = &report["provenance"];
    assert_eq!(p["feature_settings_mode"], "pyradiomics");
    assert_eq!(p["split_assignment_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(
        p["manifests"][0]["sha256"].as_str().unwrap(),
        sha256_of(&tmp.path().join("manifest.toml"))
    );
    let text = String::from_utf8(read(&a, "report.json")).unwrap();
    assert!(!text.contains("\"threads\"") && !text.contains("git_commit"));
    let md = String::from_utf8(read(&a, "report.md")).unwrap();
    assert!(md.contains("## Provenance") && md.contains("run.json"));
    // Machine details and latency go to run.json only.
    let run: serde_json::Value = serde_json::from_slice(&read(&a, "run.json")).unwrap();
    assert!(run["git_commit"].as_str().is_some_and(|c| !c.is_empty()));
    for id in ["logistic", "volume only"] {
        let l = &run["inference_latency"][id];
        assert!(l["p50_seconds"].as_f64().unwrap() > 0.0, "{run}");
        assert!(l["p95_seconds"].as_f64().unwrap() >= l["p50_seconds"].as_f64().unwrap());
        assert!(
            l["cases"].as_u64().unwrap() >= 10,
            "fold 0 has about 20 test cases"
        );
        assert!(l["threads"].as_u64().unwrap() >= 1);
    }
}

fn sha256_of(path: &std::path::Path) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(std::fs::read(path).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn multiclass_confusion_matrix_is_drawn() {
    let tmp = tempfile::tempdir().unwrap();
    let body = "[features]\nclasses = [\"firstorder\", \"shape\"]\n\n\
[split]\nkind = \"stratified-kfold\"\nfolds = 3\n\n\
[[model]]\nid = \"logistic\"\nkind = \"logistic\"\nalpha = 1.0\n";
    let exp = tiny_experiment(
        tmp.path(),
        "tiny-multiclass",
        "mri-liver-3class",
        60,
        "",
        "label = \"lesion_class\"\nclasses = [\"benign\", \"primary\", \"metastasis\"]",
        body,
    );
    let a = run_to_report(&exp, &tmp.path().join("a"), 2);
    let b = run_to_report(&exp, &tmp.path().join("b"), 1);
    check_figures(&a, &b, &["confusion-logistic.svg"]);
    let svg = String::from_utf8(read(&a, "figures/confusion-logistic.svg")).unwrap();
    assert!(svg.contains("metastasis") && svg.contains("predicted class"));
}
