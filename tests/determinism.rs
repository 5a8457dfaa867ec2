//! Issue 2 item 11: the quickstart gives byte-identical reports on rerun, at 1 and 2 threads,
//! and after resuming from cached cells.

use std::path::Path;
use std::process::Command;

/// Runs the quickstart into `out` with `threads` rayon threads; returns the report folder.
fn run_quickstart(out: &Path, threads: &str) -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new(env!("CARGO_BIN_EXE_radbench"))
        .args(["run", "--quiet", "--out"])
        .arg(out)
        .arg(root.join("experiments/quickstart.toml"))
        .env("RAYON_NUM_THREADS", threads)
        .output()
        .expect("radbench runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "quickstart failed: {}{}",
        stdout,
        String::from_utf8_lossy(&output.stderr)
    );
    print!("{stdout}");
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("report: "))
        .expect("the run prints its report folder");
    std::path::PathBuf::from(line)
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{}/{name}: {e}", dir.display()))
}

#[test]
fn quickstart_is_byte_identical_across_reruns_threads_and_resume() {
    let one = tempfile::tempdir().unwrap();
    let two = tempfile::tempdir().unwrap();
    let again = tempfile::tempdir().unwrap();
    let a = run_quickstart(one.path(), "1");
    let b = run_quickstart(two.path(), "2");
    let c = run_quickstart(again.path(), "2");
    // Same output root as the first run: every cell comes from the cache.
    let d = run_quickstart(one.path(), "2");
    assert_eq!(a.file_name(), b.file_name(), "same content version");
    assert_eq!(a, d);
    for name in ["report.json", "report.md", "predictions.csv"] {
        let first = read(&a, name);
        assert!(!first.is_empty());
        assert!(first == read(&b, name), "{name}: 1 vs 2 threads differ");
        assert!(first == read(&c, name), "{name}: rerun differs");
        assert!(first == read(&d, name), "{name}: resumed run differs");
    }
    let run: serde_json::Value = serde_json::from_slice(&read(&d, "run.json")).unwrap();
    assert_eq!(
        run["cells_computed"], 0,
        "the resumed run reuses every cell"
    );

    // The headline: first-order radiomics beats chance clearly on the synthetic cohort.
    let report: serde_json::Value = serde_json::from_slice(&read(&a, "report.json")).unwrap();
    let auc = report["models"][0]["auc"].as_f64().unwrap();
    let lower = report["models"][0]["auc_ci_delong"][0].as_f64().unwrap();
    assert!(auc > 0.7 && lower > 0.6, "AUC {auc}, lower CI {lower}");
}
