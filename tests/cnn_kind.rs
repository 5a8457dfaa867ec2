//! `kind = "cnn"` through the runner: a tiny network on a small synthetic cohort trains in
//! each fold, predicts per case, records its loss curve, and gives the same report on rerun.

use std::path::Path;
use std::process::Command;

fn radbench(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_radbench"))
        .args(args)
        .output()
        .expect("radbench runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn a_tiny_cnn_runs_in_every_fold_and_reruns_identically() {
    let dir = tempfile::tempdir().unwrap();
    let cohort = dir.path().join("cohort");
    radbench(&[
        "synth",
        "lesion-ct",
        "--n",
        "30",
        "--seed",
        "3",
        "--out",
        cohort.to_str().unwrap(),
    ]);
    let exp = dir.path().join("cnn.toml");
    std::fs::write(
        &exp,
        r#"
[experiment]
name = "tiny-cnn"
seed = 5

[data]
manifest = "cohort/manifest.toml"
label = "lesion"

[split]
kind = "stratified-kfold"
folds = 2

[[model]]
id = "radiomics"
kind = "logistic"

[[model]]
id = "cnn"
kind = "cnn"
input = { layout = { kind = "slices2d", k = 1 }, size = [16, 16], normalise = { kind = "z-score-in-mask" } }
network = { arch = "resnet", depth = "resnet18", base_width = 4, stem = "small" }
train = { epochs = 1, batch_size = 8 }

[evaluation]
compare = [["cnn", "radiomics"]]
"#,
    )
    .unwrap();
    let report_of = |out: &Path| {
        let stdout = radbench(&[
            "run",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
            exp.to_str().unwrap(),
        ]);
        let folder = stdout
            .lines()
            .find_map(|l| l.strip_prefix("report: "))
            .unwrap()
            .to_string();
        std::fs::read(Path::new(&folder).join("report.json")).unwrap()
    };
    let first = report_of(&dir.path().join("a"));
    let second = report_of(&dir.path().join("b"));
    assert!(first == second, "CNN report differs on rerun");
    let r: serde_json::Value = serde_json::from_slice(&first).unwrap();
    let cnn = &r["models"][1];
    assert_eq!(cnn["kind"], "cnn");
    assert_eq!(cnn["n_cases"], 30);
    assert!(cnn["auc"].as_f64().unwrap().is_finite());
    assert_eq!(
        cnn["cell_summaries"][0]["epochs"].as_array().unwrap().len(),
        1
    );
    assert_eq!(r["comparisons"][0]["a"], "cnn");
}
