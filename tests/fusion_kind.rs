//! `kind = "fusion"` through the runner: early, late and joint fusion of radiomics and a tiny
//! CNN train in each fold of a small synthetic cohort, predict every case, record their fit
//! summaries, and give the same report on rerun.

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

const CNN: &str = r#"input = { layout = { kind = "slices2d", k = 1 }, size = [16, 16], normalise = { kind = "z-score-in-mask" } }, network = { arch = "resnet", depth = "resnet18", base_width = 4, stem = "small" }, train = { epochs = 1, batch_size = 8 }"#;

#[test]
fn every_fusion_strategy_runs_in_every_fold_and_reruns_identically() {
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
    let exp = dir.path().join("fusion.toml");
    std::fs::write(
        &exp,
        format!(
            r#"
[experiment]
name = "tiny-fusion"
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
id = "early"
kind = "fusion"
strategy = "early"
cnn = {{ {CNN} }}
head = {{ kind = "logistic", selection = {{ method = "univariate-auc", k = 4 }} }}

[[model]]
id = "late"
kind = "fusion"
strategy = "late"
inner_folds = 2
members = [{{ id = "radiomics", kind = "logistic" }}, {{ id = "cnn", kind = "cnn", {CNN} }}]

[[model]]
id = "joint"
kind = "fusion"
strategy = "joint"
cnn = {{ {CNN} }}

[evaluation]
compare = [["early", "radiomics"], ["late", "radiomics"], ["joint", "radiomics"]]
"#
        ),
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
    assert!(first == second, "fusion report differs on rerun");
    let r: serde_json::Value = serde_json::from_slice(&first).unwrap();
    for (i, strategy) in [(1, "early"), (2, "late"), (3, "joint")] {
        let m = &r["models"][i];
        assert_eq!(m["kind"], "fusion");
        assert_eq!(m["n_cases"], 30);
        assert!(m["auc"].as_f64().unwrap().is_finite(), "{strategy}");
        let summary = &m["cell_summaries"][0];
        assert_eq!(summary["strategy"], strategy);
    }
    assert_eq!(
        r["models"][1]["cell_summaries"][1]["selected"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert!(r["models"][2]["cell_summaries"][0]["meta"]["coefficients"]["logit_p1[cnn]"].is_f64());
    assert!(r["models"][3]["cell_summaries"][0]["cnn"]["fingerprint"].is_string());
}
