//! `radbench stats` through its library entry point: the JSON shape the issue fixes, the
//! numbers on aSAH, multi-class and survival modes, and one clear error per kind of bad input.

use clap::Parser;
use radbench::cli::stats::{StatsArgs, StatsError, render};
use serde_json::Value;

use crate::util::shared_file;

#[derive(Parser)]
struct Wrapper {
    #[command(flatten)]
    args: StatsArgs,
}

fn args(line: &[&str]) -> StatsArgs {
    let mut argv = vec!["stats"];
    argv.extend_from_slice(line);
    Wrapper::try_parse_from(argv)
        .unwrap_or_else(|e| panic!("{e}"))
        .args
}

fn json(line: &[&str]) -> Value {
    let text = render(&args(line)).unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_str(&text).expect("valid JSON")
}

fn write_csv(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write csv");
    path.to_string_lossy().into_owned()
}

#[test]
fn asah_json_has_the_issue_shape_and_proc_numbers() {
    let Some(csv) = shared_file("conformance/stats/aSAH.csv") else {
        return;
    };
    let csv = csv.to_string_lossy().into_owned();
    let v = json(&[
        "--input",
        &csv,
        "--label",
        "outcome",
        "--positive",
        "Poor",
        "--scores",
        "wfns,s100b",
        "--bootstrap",
        "200",
        "--seed",
        "3",
        "--dca",
        "0.05:0.95:0.05",
    ]);
    assert_eq!(
        (
            v["n"].as_u64(),
            v["n_positive"].as_u64(),
            v["n_negative"].as_u64()
        ),
        (Some(113), Some(41), Some(72))
    );
    let wfns = &v["scores"]["wfns"];
    assert!((wfns["auc"].as_f64().unwrap_or(0.0) - 0.823678861788618).abs() < 1e-12);
    assert!((wfns["delong_variance"].as_f64().unwrap_or(0.0) - 0.00146991470882363).abs() < 1e-12);
    assert_eq!(wfns["auc_ci_delong"].as_array().map(Vec::len), Some(2));
    assert_eq!(wfns["auc_ci_bootstrap"].as_array().map(Vec::len), Some(2));
    assert!(wfns["average_precision"].is_f64());
    // wfns is a 1..5 grade, not a probability: no Brier score.
    assert!(wfns["brier"].is_null());
    let c = &v["comparisons"][0];
    assert_eq!(
        (c["a"].as_str(), c["b"].as_str(), c["method"].as_str()),
        (Some("wfns"), Some("s100b"), Some("delong-paired"))
    );
    assert!((c["z"].as_f64().unwrap_or(0.0) - 2.20898359144091).abs() < 1e-9);
    assert!((c["p"].as_f64().unwrap_or(0.0) - 0.0271757822291882).abs() < 1e-9);
    assert_eq!(
        v["comparisons"][1]["method"].as_str(),
        Some("bootstrap-paired")
    );
    let dca = &v["dca"];
    assert_eq!(dca["thresholds"].as_array().map(Vec::len), Some(19));
    assert_eq!(dca["treat_all"].as_array().map(Vec::len), Some(19));
    // Neither marker is a probability (wfns 1..5, s100b up to 2.07): both are left out of the
    // decision curves, each with a warning, and neither gets a Brier score.
    assert_eq!(dca["models"].as_object().map(|m| m.len()), Some(0));
    assert!(v["scores"]["s100b"]["brier"].is_null());
    assert!(v["warnings"].as_array().is_some_and(|w| w.len() == 2));
}

#[test]
fn same_input_same_bytes_and_markdown_renders() {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = write_csv(
        &dir,
        "p.csv",
        "y,a,b\n1,0.9,0.6\n0,0.2,0.4\n1,0.7,0.3\n0,0.4,0.5\n1,0.3,0.8\n0,0.1,0.2\n",
    );
    let line = [
        "--input",
        &csv,
        "--label",
        "y",
        "--positive",
        "1",
        "--scores",
        "a,b",
        "--bootstrap",
        "50",
    ];
    let one = render(&args(&line)).expect("render");
    assert_eq!(one, render(&args(&line)).expect("render"));
    let mut md = line.to_vec();
    md.extend(["--format", "md"]);
    let text = render(&args(&md)).expect("markdown");
    assert!(text.contains("| a |") && text.contains("delong-paired"));
}

#[test]
fn auc_below_half_is_reported_not_flipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = write_csv(
        &dir,
        "p.csv",
        "y,a\n1,0.1\n1,0.2\n0,0.8\n0,0.9\n1,0.6\n0,0.3\n",
    );
    let v = json(&[
        "--input",
        &csv,
        "--label",
        "y",
        "--positive",
        "1",
        "--scores",
        "a",
    ]);
    assert!(v["scores"]["a"]["auc"].as_f64().unwrap_or(1.0) < 0.5);
    assert!(
        v["warnings"][0]
            .as_str()
            .is_some_and(|w| w.contains("below 0.5"))
    );
    let flipped = json(&[
        "--input",
        &csv,
        "--label",
        "y",
        "--positive",
        "1",
        "--scores",
        "a",
        "--direction",
        "lower",
    ]);
    assert!(flipped["scores"]["a"]["auc"].as_f64().unwrap_or(0.0) > 0.5);
}

#[test]
fn multiclass_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut text = String::from("grade,pa,pb,pc\n");
    for i in 0..30 {
        let truth = ["a", "b", "c"][i % 3];
        let mut p = [0.2, 0.2, 0.2];
        p[i % 3] += 0.3 + (i % 5) as f64 / 20.0;
        p[(i + 1) % 3] += (i % 7) as f64 / 14.0;
        text += &format!("{truth},{},{},{}\n", p[0], p[1], p[2]);
    }
    let csv = write_csv(&dir, "m.csv", &text);
    let v = json(&[
        "--input",
        &csv,
        "--label",
        "grade",
        "--scores",
        "pa,pb,pc",
        "--classes",
        "a,b,c",
    ]);
    assert_eq!(v["classes"].as_array().map(Vec::len), Some(3));
    for c in ["a", "b", "c"] {
        assert_eq!(
            v["per_class"][c]["auc_ci_delong"].as_array().map(Vec::len),
            Some(2)
        );
    }
    assert!(v["macro_auc"].is_f64() && v["hand_till_m"].is_f64());
    let err = render(&args(&[
        "--input", &csv, "--label", "grade", "--scores", "pa,pb,pc",
    ]))
    .err();
    assert!(
        matches!(
            err,
            Some(StatsError::BadOption {
                option: "--classes",
                ..
            })
        ),
        "{err:?}"
    );
}

#[test]
fn survival_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut text = String::from("months,dead,volume\n");
    for i in 0..40 {
        text += &format!("{},{},{}\n", 1 + (i * 7) % 23, i % 3 != 0, i);
    }
    let csv = write_csv(&dir, "s.csv", &text);
    let argv = [
        "stats",
        "survival",
        "--input",
        &csv,
        "--time",
        "months",
        "--event",
        "dead",
        "--group",
        "volume",
        "--split-at",
        "median",
    ];
    let parsed = Wrapper::try_parse_from(argv)
        .unwrap_or_else(|e| panic!("{e}"))
        .args;
    let v: Value = serde_json::from_str(&render(&parsed).expect("survival")).expect("json");
    assert_eq!(v["groups"].as_object().map(|g| g.len()), Some(2));
    assert_eq!(v["logrank"]["df"].as_u64(), Some(1));
    assert!(v["logrank"]["p"].is_f64());
}

/// Each bad input gives one line naming the column (and row when there is one).
#[test]
fn bad_input_gives_one_clear_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: [(&str, &str, &[&str], &str); 8] = [
        (
            "y,a\n1,0.9\n0,abc\n1,0.4\n0,0.2\n",
            "non-numeric",
            &[],
            "column \"a\", row 2: \"abc\" is not a number",
        ),
        (
            "y,a\n1,0.9\n0,0.3\n1,0.4\n0,0.2\n",
            "missing column",
            &["--scores", "b"],
            "no column \"b\"",
        ),
        (
            "y,a\n1,0.9\n0,NaN\n1,0.4\n0,0.2\n",
            "NaN score",
            &[],
            "column \"a\", row 2: NaN is not a finite number",
        ),
        (
            "y,a\n1,0.9\n,0.3\n1,0.4\n0,0.2\n",
            "missing label",
            &[],
            "column \"y\", row 2: missing value",
        ),
        (
            "y,a\n1,0.9\n1,0.3\n1,0.4\n",
            "one class",
            &[],
            "only one value",
        ),
        (
            "y,a\n1,0.9\n0,0.3\n1,0.4\n",
            "one control",
            &[],
            "class \"0\" has 1 row(s)",
        ),
        (
            "y,a\n1,0.5\n0,0.5\n1,0.5\n0,0.5\n",
            "constant",
            &[],
            "score column \"a\" is constant",
        ),
        (
            "y,a\n1,0.9\n0,0.3\n1,0.4\n0,0.2\n",
            "bad dca",
            &["--dca", "0.1:x:0.1"],
            "--dca",
        ),
    ];
    for (k, (text, what, extra, expected)) in cases.iter().enumerate() {
        let csv = write_csv(&dir, &format!("bad{k}.csv"), text);
        let mut line = vec![
            "--input",
            &csv,
            "--label",
            "y",
            "--positive",
            "1",
            "--scores",
            "a",
        ];
        line.extend_from_slice(extra);
        if extra.first() == Some(&"--scores") {
            line.truncate(6);
            line.extend_from_slice(extra);
        }
        let message = match render(&args(&line)) {
            Ok(_) => panic!("{what}: accepted"),
            Err(e) => e.to_string(),
        };
        assert!(!message.contains('\n'), "{what}: {message}");
        assert!(message.contains(expected), "{what}: {message}");
    }
    let csv = write_csv(&dir, "neg.csv", "t,e\n1,1\n-2,0\n3,1\n");
    let argv = [
        "stats", "survival", "--input", &csv, "--time", "t", "--event", "e",
    ];
    let parsed = Wrapper::try_parse_from(argv)
        .unwrap_or_else(|e| panic!("{e}"))
        .args;
    let message = render(&parsed)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        message.contains("column \"t\", row 2: survival time -2 is negative"),
        "{message}"
    );
    let missing = render(&args(&[
        "--input",
        "/nonexistent/p.csv",
        "--label",
        "y",
        "--scores",
        "a",
    ]))
    .err();
    assert!(missing.is_some_and(|e| e.to_string().contains("no such file")));
}
