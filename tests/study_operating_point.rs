//! `[operating_point]` through the runner on a tiny `mri-liver-3class` cohort: malignant vs
//! benign at each training fold's Youden threshold per external site, beside a simulated
//! reader whose calls are re-derived here from its documented model.

use radbench::runner::operating_point::reader_call;
use radbench::spec::operating_point::ReaderModel;
use std::path::Path;
use std::process::Command;

fn radbench(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_radbench"))
        .args(args)
        .output()
        .expect("radbench runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    text
}

#[test]
fn operating_point_and_reader_per_site() {
    let dir = tempfile::tempdir().unwrap();
    let cohort = dir.path().join("cohort");
    radbench(&[
        "synth",
        "mri-liver-3class",
        "--n",
        "90",
        "--seed",
        "4",
        "--out",
        cohort.to_str().unwrap(),
    ]);
    let exp = dir.path().join("mri.toml");
    std::fs::write(
        &exp,
        r#"
[experiment]
name = "tiny-mri"
seed = 11

[data]
manifest = "cohort/manifest.toml"
label = "lesion_class"
classes = ["benign", "primary malignant", "metastatic"]

[features]
classes = ["firstorder"]

[split]
kind = "by-site"
train_sites = ["A"]

[[model]]
id = "radiomics"
kind = "logistic"

[operating_point]
name = "malignant vs benign"
positive_classes = ["primary malignant", "metastatic"]
reader = { sensitivity = 0.9, specificity = 0.75 }
"#,
    )
    .unwrap();
    let out = radbench(&[
        "run",
        "--quiet",
        "--out",
        dir.path().join("out").to_str().unwrap(),
        exp.to_str().unwrap(),
    ]);
    let folder = out
        .lines()
        .find_map(|l| l.strip_prefix("report: "))
        .unwrap();
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(Path::new(folder).join("report.json")).unwrap())
            .unwrap();
    let op = &r["operating_point"];
    assert_eq!(op["positive_classes"][1], "metastatic");
    let rows = op["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["who"], "radiomics");
    assert_eq!(rows[1]["kind"], "simulated reader");
    assert_eq!(rows[0]["per_part"].as_array().unwrap().len(), 2);

    // Re-derive the reader's table from predictions.csv and its model.
    let csv = std::fs::read_to_string(Path::new(folder).join("predictions.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (id, label) = (col("case_id"), col("label"));
    let reader = ReaderModel {
        name: "simulated reader".into(),
        sensitivity: 0.9,
        specificity: 0.75,
    };
    let (mut tp, mut pos, mut tn, mut neg) = (0, 0, 0, 0);
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let truth = f[label] != "0";
        let called = reader_call(&reader, 11, f[id], truth);
        if truth {
            pos += 1;
            tp += usize::from(called);
        } else {
            neg += 1;
            tn += usize::from(!called);
        }
    }
    let overall = &rows[1]["overall"];
    assert_eq!(overall["sensitivity"]["successes"], tp);
    assert_eq!(overall["sensitivity"]["trials"], pos);
    assert_eq!(overall["specificity"]["successes"], tn);
    assert_eq!(overall["specificity"]["trials"], neg);
    assert_eq!(rows[0]["overall"]["sensitivity"]["trials"], pos);
    let md = std::fs::read_to_string(Path::new(folder).join("report.md")).unwrap();
    assert!(md.contains("Operating point: malignant vs benign"), "{md}");
}
