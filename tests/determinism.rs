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
    // Every file the run writes (figures included) except run.json (host and timings).
    let files = |dir: &Path| {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.file_name().is_some_and(|n| n != "run.json") {
                    out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
                }
            }
        }
        out.sort();
        out
    };
    let written = files(&a);
    assert!(
        written.iter().any(|f| f == "figures/roc.svg"),
        "{written:?}"
    );
    for dir in [&b, &c, &d] {
        assert_eq!(written, files(dir), "{} writes other files", dir.display());
    }
    for name in &written {
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

    // The committed reference report (reports/quickstart/<version>/) must equal this run byte for
    // byte, so that any change to a result shows in review as a diff of `reports/`.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let reference = root.join("reports/quickstart").join(a.file_name().unwrap());
    assert!(
        reference.is_dir(),
        "no committed reference report {}: the quickstart's content version changed; regenerate \
         it with `radbench run experiments/quickstart.toml` and commit reports/quickstart/{} \
         (without run.json)",
        reference.display(),
        a.file_name().unwrap().to_string_lossy()
    );
    assert_eq!(
        written,
        files(&reference),
        "the run writes other files than the committed reference report {}",
        reference.display()
    );
    for name in &written {
        assert!(
            read(&a, name) == read(&reference, name),
            "{name} differs from the committed reference report {}; if the change is intended, \
             regenerate it with `radbench run experiments/quickstart.toml` and commit it",
            reference.display()
        );
    }

    // The headline: first-order radiomics beats chance clearly on the synthetic cohort.
    let report: serde_json::Value = serde_json::from_slice(&read(&a, "report.json")).unwrap();
    let auc = report["models"][0]["auc"].as_f64().unwrap();
    let lower = report["models"][0]["auc_ci_delong"][0].as_f64().unwrap();
    assert!(auc > 0.7 && lower > 0.6, "AUC {auc}, lower CI {lower}");
}

/// An interrupted run leaves some finished cells in the cache; the next run reuses exactly
/// those and writes the same report as an uninterrupted run. A shard run stands in for the
/// interrupted one, so which cells finished is known exactly.
#[test]
fn a_resumed_run_reuses_finished_cells_and_writes_the_same_report() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().unwrap();
    let fresh = tempfile::tempdir().unwrap();
    let shard = Command::new(env!("CARGO_BIN_EXE_radbench"))
        .args(["run", "--quiet", "--shard", "0/2", "--out"])
        .arg(out.path())
        .arg(root.join("experiments/quickstart.toml"))
        .output()
        .expect("radbench runs");
    let text = String::from_utf8_lossy(&shard.stdout);
    assert!(shard.status.success(), "{text}");
    assert!(
        text.contains("shard done: 5 cells planned, 5 computed"),
        "{text}"
    );
    let resumed = run_quickstart(out.path(), "2");
    let run: serde_json::Value = serde_json::from_slice(&read(&resumed, "run.json")).unwrap();
    assert_eq!(run["cells_reused"], 5);
    assert_eq!(run["cells_computed"], 5);
    let reference = run_quickstart(fresh.path(), "2");
    for name in ["report.json", "report.md", "predictions.csv"] {
        assert!(
            read(&resumed, name) == read(&reference, name),
            "{name} differs after resume"
        );
    }
}
