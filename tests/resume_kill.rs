//! Resume after SIGKILL: a run killed once some cells are cached, then rerun, writes the same
//! report as an uninterrupted run; cell files are only ever whole (temp + rename), and a torn
//! cell file is recomputed rather than read.

use crate::tiny::{files_under, read, run_command, run_to_report, tiny_experiment};
use std::time::{Duration, Instant};

const BODY: &str = "[features]\nclasses = [\"firstorder\", \"shape\"]\n\n\
[split]\nkind = \"stratified-kfold\"\nfolds = 6\n\n\
[[model]]\nid = \"forest\"\nkind = \"forest\"\nn_trees = 150\nmin_samples_leaf = 2\n";

/// Finished cell files (not temporary ones) under a cache.
fn cell_files(cache: &std::path::Path) -> Vec<std::path::PathBuf> {
    files_under(&cache.join("cells"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect()
}

#[test]
fn killed_run_resumes_to_the_identical_report() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = tiny_experiment(
        tmp.path(),
        "tiny-kill",
        "lesion-ct",
        60,
        "",
        "label = \"lesion\"",
        BODY,
    );
    let reference = run_to_report(&exp, &tmp.path().join("reference"), 1);

    let out = tmp.path().join("killed");
    let cache = out.join(".cache");
    let mut killed_mid_run = false;
    // A few attempts, in case a run finishes between two polls.
    for _ in 0..3 {
        let _ = std::fs::remove_dir_all(&out);
        let mut child = run_command(&exp, &out, 1).spawn().unwrap();
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "the run failed");
                break;
            }
            if !cell_files(&cache).is_empty() {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                killed_mid_run = true;
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(300), "run hangs");
            std::thread::sleep(Duration::from_millis(5));
        }
        let finished = files_under(&out).iter().any(|p| p.ends_with("report.json"));
        if killed_mid_run && !finished {
            break;
        }
        killed_mid_run = false;
    }
    assert!(
        killed_mid_run,
        "could not kill the run while cells were still missing"
    );
    let stored = cell_files(&cache);
    assert!(!stored.is_empty(), "no cell stored");
    // Whatever the kill interrupted, a stored cell file is complete JSON.
    for f in &stored {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(f).unwrap())
            .unwrap_or_else(|e| panic!("{} is torn: {e}", f.display()));
        assert!(v["probabilities"].is_array());
    }
    // A torn file (as a non-atomic writer would leave) must be recomputed, not read.
    let torn = &stored[0];
    let bytes = std::fs::read(torn).unwrap();
    std::fs::write(torn, &bytes[..bytes.len() / 2]).unwrap();

    let resumed = run_to_report(&exp, &out, 1);
    let run: serde_json::Value = serde_json::from_slice(&read(&resumed, "run.json")).unwrap();
    assert_eq!(
        run["cells_reused"].as_u64().unwrap() as usize,
        stored.len() - 1,
        "every whole cached cell is reused; the torn one is not"
    );
    assert_eq!(resumed.file_name(), reference.file_name());
    for name in [
        "report.json",
        "report.md",
        "report.html",
        "predictions.csv",
        "figures/roc.svg",
    ] {
        assert!(
            read(&resumed, name) == read(&reference, name),
            "{name} differs after resume"
        );
    }
}
