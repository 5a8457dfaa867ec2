//! `experiments/ceus-tace-response.toml` (source paper 4) as shipped parses, and a shrunken
//! copy of it (a small cohort, two hold-outs, one CNN epoch) runs end to end: time–intensity
//! curve features of the contrast cine, B-mode radiomics from the `bmode` channel, a CNN on the
//! frames as channels, and paired DeLong tests between all three pairs.

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

fn shipped() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/ceus-tace-response.toml");
    std::fs::read_to_string(path).unwrap()
}

/// Replaces `from` (which must occur) with `to`.
fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "the experiment no longer contains {from:?}"
    );
    text.replace(from, to)
}

#[test]
fn the_shipped_experiment_compares_three_models_pairwise() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/ceus-tace-response.toml");
    let exp = radbench::spec::Experiment::load(&path).unwrap();
    let ids: Vec<&str> = exp.models.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["cnn-cine", "tic-logistic", "bmode-logistic"]);
    assert_eq!(exp.compare.len(), 3);
    assert_eq!(exp.feature_classes, ["tic"]);
    assert!(exp.channel_feature_classes.contains_key("bmode"));
    for model in &exp.models {
        radbench::models::build(model).unwrap();
    }
}

#[test]
fn a_tiny_version_runs_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let cohort = dir.path().join("cohort");
    radbench(&[
        "synth",
        "ceus-cine",
        "--n",
        "24",
        "--seed",
        "3",
        "--out",
        cohort.to_str().unwrap(),
    ]);
    let mut text = edit(
        &shipped(),
        "manifest = \"../data-manifests/synth-ceus-cine.toml\"",
        "manifest = \"cohort/manifest.toml\"",
    );
    text = edit(&text, "repeats = 5", "repeats = 2");
    text = edit(&text, "size = [32, 32]", "size = [16, 16]");
    text = edit(&text, "base_width = 8", "base_width = 2");
    text = edit(
        &text,
        "epochs = 12, batch_size = 16",
        "epochs = 1, batch_size = 8",
    );
    text = edit(&text, "k = 10 }", "k = 3 }");
    let exp = dir.path().join("ceus.toml");
    std::fs::write(&exp, text).unwrap();
    let stdout = radbench(&[
        "run",
        "--quiet",
        "--out",
        dir.path().join("out").to_str().unwrap(),
        exp.to_str().unwrap(),
    ]);
    let folder = stdout
        .lines()
        .find_map(|l| l.strip_prefix("report: "))
        .unwrap()
        .to_string();
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(Path::new(&folder).join("report.json")).unwrap())
            .unwrap();
    let models = report["models"].as_array().unwrap();
    assert_eq!(models.len(), 3);
    for model in models {
        assert!(model["auc"].as_f64().unwrap().is_finite(), "{model}");
    }
    let pairs: Vec<(String, String)> = report["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["a"].to_string(), c["b"].to_string()))
        .collect();
    assert_eq!(pairs.len(), 3);
    let names: Vec<&str> = report["features"]["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(names.contains(&"original_tic_PeakIntensity"), "{names:?}");
    assert!(
        names.contains(&"bmode_original_firstorder_Variance"),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .all(|n| n.starts_with("original_tic_") || n.starts_with("bmode_"))
    );
    // One crop (all frames) per case: as many CNN patches as test cases; feature models have
    // no patch level.
    assert_eq!(
        models[0]["patch_level"]["n_patches"], models[0]["n_cases"],
        "{}",
        models[0]["patch_level"]
    );
    assert!(models[1].get("patch_level").is_none());
    // The B-mode model selected among B-mode columns only.
    let selected = models[2]["cell_summaries"][0]["selected"].to_string();
    assert!(
        selected.contains("bmode_") && !selected.contains("tic"),
        "{selected}"
    );
}
