//! Split designs end to end: by-site external validation and repeated hold-out.

use std::path::Path;
use std::process::Command;

fn run(experiment: &Path, out: &Path) -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_radbench"))
        .args(["run", "--quiet", "--out"])
        .arg(out)
        .arg(experiment)
        .output()
        .expect("radbench runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let dir = stdout
        .lines()
        .find_map(|l| l.strip_prefix("report: "))
        .expect("report folder");
    serde_json::from_slice(&std::fs::read(Path::new(dir).join("report.json")).unwrap()).unwrap()
}

#[test]
fn by_site_validates_each_external_site_and_never_tests_the_training_site() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().unwrap();
    let r = run(
        &root.join("experiments/quickstart-by-site.toml"),
        out.path(),
    );
    assert_eq!(r["parts"], serde_json::json!(["site B", "site C"]));
    let sites = &r["cohort"]["sites"];
    let external =
        sites["B"]["n_cases"].as_u64().unwrap() + sites["C"]["n_cases"].as_u64().unwrap();
    assert_eq!(r["models"][0]["n_cases"].as_u64().unwrap(), external);
    assert_eq!(r["models"][0]["fold_auc"].as_array().unwrap().len(), 2);
}

#[test]
fn repeated_holdout_reports_one_auc_per_repeat() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root.join("experiments/quickstart.toml"))
        .unwrap()
        .replace(
            "kind = \"stratified-kfold\"\nfolds = 5\nrepeats = 1",
            "kind = \"repeated-holdout\"\ntest_fraction = 0.3\nrepeats = 3",
        )
        .replace(
            "../data-manifests/",
            &format!("{}/data-manifests/", root.display()),
        );
    assert!(text.contains("repeated-holdout"));
    let exp = dir.path().join("holdout.toml");
    std::fs::write(&exp, text).unwrap();
    let r = run(&exp, &dir.path().join("out"));
    assert_eq!(r["parts"], serde_json::json!(["hold-out"]));
    let repeats = r["models"][0]["repeat_auc"].as_array().unwrap();
    assert_eq!(repeats.len(), 3);
    assert!(repeats.iter().all(|a| a.as_f64().unwrap() > 0.5));
}
