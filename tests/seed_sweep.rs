//! `seeds = [...]`: the experiment runs once per seed; the main tables stay the single-seed
//! result of `seed`, and sweep cells are cached and sharded like any other.

use crate::tiny::{read, run_command, run_to_report, tiny_experiment};
use std::path::Path;

const BODY: &str = "[features]\nclasses = [\"firstorder\", \"shape\"]\n\n\
[split]\nkind = \"stratified-kfold\"\nfolds = 3\n\n\
[[model]]\nid = \"logistic\"\nkind = \"logistic\"\nalpha = 1.0\n";

fn json(dir: &Path, name: &str) -> serde_json::Value {
    serde_json::from_slice(&read(dir, name)).unwrap()
}

#[test]
fn sweep_reports_spread_and_keeps_the_single_seed_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = tiny_experiment(
        &tmp.path().join("plain"),
        "tiny-sweep",
        "lesion-ct",
        60,
        "",
        "label = \"lesion\"",
        BODY,
    );
    let swept = tiny_experiment(
        &tmp.path().join("swept"),
        "tiny-sweep",
        "lesion-ct",
        60,
        "seeds = [5, 6, 7]",
        "label = \"lesion\"",
        BODY,
    );
    let p = run_to_report(&plain, &tmp.path().join("out-plain"), 2);
    let s = run_to_report(&swept, &tmp.path().join("out-swept"), 2);
    let (rp, rs) = (json(&p, "report.json"), json(&s, "report.json"));
    assert!(rp.get("seed_sweep").is_none());
    assert_eq!(
        rp["models"], rs["models"],
        "main tables are the result of `seed`"
    );
    assert_eq!(read(&p, "predictions.csv"), read(&s, "predictions.csv"));
    let sweep = &rs["seed_sweep"];
    assert_eq!(sweep["seeds"], serde_json::json!([5, 6, 7]));
    assert_eq!(sweep["runs"].as_array().unwrap().len(), 3);
    assert_eq!(
        sweep["runs"][0]["auc"], rs["models"][0]["auc"],
        "seed 5 is the main run"
    );
    let summary = sweep["summary"].as_array().unwrap();
    let metrics: Vec<&str> = summary
        .iter()
        .map(|r| r["metric"].as_str().unwrap())
        .collect();
    assert_eq!(metrics, ["auc", "average_precision", "accuracy"]);
    for row in summary {
        let f = |k: &str| row[k].as_f64().unwrap();
        assert_eq!(row["n"], 3);
        assert!(f("min") <= f("mean") && f("mean") <= f("max"), "{row}");
        assert!(f("sd") >= 0.0);
    }
    assert!(
        summary[0]["sd"].as_f64().unwrap() > 0.0,
        "other splits give other AUCs"
    );
    let md = String::from_utf8(read(&s, "report.md")).unwrap();
    assert!(md.contains("## Seed sweep"));

    // Shards then a full run: every cell, sweep cells included, comes from the shared cache.
    let cache = tmp.path().join("cache");
    let out = tmp.path().join("out-sharded");
    for shard in ["0/2", "1/2"] {
        let status = run_command(&swept, &out, 1)
            .args(["--cache"])
            .arg(&cache)
            .args(["--shard", shard])
            .status()
            .unwrap();
        assert!(status.success());
    }
    let merged = {
        let output = run_command(&swept, &out, 2)
            .arg("--cache")
            .arg(&cache)
            .output()
            .unwrap();
        assert!(output.status.success());
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        std::path::PathBuf::from(
            stdout
                .lines()
                .find_map(|l| l.strip_prefix("report: "))
                .unwrap(),
        )
    };
    assert_eq!(json(&merged, "run.json")["cells_computed"], 0);
    for name in ["report.json", "report.md", "report.html", "predictions.csv"] {
        assert!(
            read(&merged, name) == read(&s, name),
            "{name} differs after shards"
        );
    }
}
