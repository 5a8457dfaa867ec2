//! `pretrained = { cohort = ... }` through the runner: the network is pretrained on another
//! synthetic cohort before the cells, cached, reused on rerun, retrained when a setting
//! changes, and its checkpoint keys the fine-tuned cells; bad pretraining input gives one
//! clear error line naming the model and the key.

use radbench::runner::{Mode, RunOptions, RunOutcome, run};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A pretraining manifest, a main manifest (two small `lesion-ct` cohorts of other seeds) and
/// an experiment writer in a temporary folder.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        for (file, n, seed) in [("pre.toml", 16, 7), ("main.toml", 16, 11)] {
            std::fs::write(
                dir.path().join(file),
                format!(
                    "[cohort]\nname = \"{file}\"\n[synthetic]\nscenario = \"lesion-ct\"\nn = {n}\nseed = {seed}\n"
                ),
            )
            .unwrap();
        }
        Fixture { dir }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Writes the experiment `file` with `pretrained = { <pretrained> }`; returns its path.
    fn experiment(&self, file: &str, pretrained: &str) -> PathBuf {
        let path = self.root().join(file);
        std::fs::write(
            &path,
            format!(
                r#"
[experiment]
name = "tiny-pretrain"
seed = 5

[data]
manifest = "main.toml"
label = "lesion"

[features]
classes = ["firstorder"]

[split]
kind = "stratified-kfold"
folds = 2

[[model]]
id = "tuned"
kind = "cnn"
input = {{ layout = {{ kind = "slices2d", k = 1 }}, size = [16, 16], normalise = {{ kind = "z-score-in-mask" }} }}
network = {{ arch = "resnet", depth = "resnet18", base_width = 4, stem = "small" }}
train = {{ epochs = 1, batch_size = 8, freeze = 0 }}
pretrained = {{ {pretrained} }}
"#
            ),
        )
        .unwrap();
        path
    }

    fn run(&self, experiment: &Path, out: &str) -> RunOutcome {
        run(&RunOptions {
            experiment: experiment.to_path_buf(),
            out: self.root().join(out),
            cache: Some(self.root().join("cache")),
            progress: false,
            mode: Mode::Full,
        })
        .unwrap()
    }
}

fn report_json(outcome: &RunOutcome) -> Vec<u8> {
    let (dir, _) = outcome.report.as_ref().unwrap();
    std::fs::read(dir.join("report.json")).unwrap()
}

const COHORT: &str =
    r#"cohort = "pre.toml", label = "lesion", skip = ["fc."], train = { batch_size = 8 }"#;

#[test]
fn pretrains_once_reuses_the_checkpoint_and_keys_the_cells_on_it() {
    let f = Fixture::new();
    let exp = f.experiment("one.toml", &format!("{COHORT}, epochs = 1"));

    let first = f.run(&exp, "a");
    assert_eq!(first.pretraining.len(), 1);
    let pre = &first.pretraining[0];
    assert!(pre.trained, "the first run pretrains");
    assert!(
        pre.checkpoint
            .starts_with(f.root().join("cache").join("pretrained"))
    );
    assert!(pre.checkpoint.is_file());
    assert_eq!(first.cells_computed, 2);

    let json: serde_json::Value = serde_json::from_slice(&report_json(&first)).unwrap();
    let p = &json["provenance"]["pretrained"][0];
    assert_eq!(p["model"], "tuned");
    assert_eq!(p["cohort"], "pre.toml");
    assert_eq!(p["cases"], 16);
    assert_eq!(p["classes"], serde_json::json!([0, 1]));
    assert_eq!(p["checkpoint_sha256"], pre.checkpoint_sha256.as_str());
    assert_eq!(p["manifest_sha256"].as_str().unwrap().len(), 64);
    // Every tensor but the skipped head comes from the checkpoint.
    assert!(p["load"]["loaded"].as_u64().unwrap() > 10, "{p}");
    assert_eq!(p["load"]["skipped"], 2);
    assert_eq!(p["load"]["missing"], 0);
    assert_eq!(p["load"]["unexpected"], 0);
    let (dir, _) = first.report.as_ref().unwrap();
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        md.contains(&pre.checkpoint_sha256),
        "report.md names the checkpoint"
    );

    // A rerun reads the checkpoint and every cell from the cache: same bytes.
    let second = f.run(&exp, "b");
    assert!(!second.pretraining[0].trained, "a rerun must not retrain");
    assert_eq!(second.pretraining[0].checkpoint, pre.checkpoint);
    assert_eq!((second.cells_computed, second.cells_reused), (0, 2));
    assert!(report_json(&first) == report_json(&second));

    // Another pretraining setting: another checkpoint, and the cells are fitted again.
    let exp2 = f.experiment("two.toml", &format!("{COHORT}, epochs = 2"));
    let third = f.run(&exp2, "c");
    let other = &third.pretraining[0];
    assert!(other.trained);
    assert_ne!(other.checkpoint, pre.checkpoint);
    assert_ne!(other.checkpoint_sha256, pre.checkpoint_sha256);
    assert_eq!(third.cells_computed, 2);

    // A checkpoint whose bytes changed (same settings) also invalidates the fine-tuned cells.
    std::fs::copy(&other.checkpoint, &pre.checkpoint).unwrap();
    let fourth = f.run(&exp, "d");
    assert!(!fourth.pretraining[0].trained);
    assert_eq!(
        fourth.pretraining[0].checkpoint_sha256,
        other.checkpoint_sha256
    );
    assert_eq!((fourth.cells_computed, fourth.cells_reused), (2, 0));
}

/// Runs the CLI on `experiment`; asserts exit code 2 and returns the one error line.
fn cli_error(root: &Path, experiment: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_radbench"))
        .args(["run", "--quiet", "--out"])
        .arg(root.join("out"))
        .arg(experiment)
        .output()
        .expect("radbench runs");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {stderr:?}");
    lines[0].to_string()
}

#[test]
fn bad_pretraining_input_names_the_model_and_the_key() {
    let f = Fixture::new();
    let missing = f.experiment(
        "missing.toml",
        r#"cohort = "absent.toml", label = "lesion", epochs = 1"#,
    );
    let line = cli_error(f.root(), &missing);
    for needle in ["\"tuned\"", "`pretrained.cohort`", "absent.toml"] {
        assert!(line.contains(needle), "{needle} not in {line:?}");
    }

    let no_label = f.experiment(
        "label.toml",
        r#"cohort = "pre.toml", label = "grade", epochs = 1"#,
    );
    let line = cli_error(f.root(), &no_label);
    for needle in ["\"tuned\"", "`pretrained.label`", "\"grade\""] {
        assert!(line.contains(needle), "{needle} not in {line:?}");
    }

    let unknown = f.experiment(
        "unknown.toml",
        r#"cohort = "pre.toml", label = "lesion", epoch = 1"#,
    );
    let line = cli_error(f.root(), &unknown);
    for needle in ["\"tuned\"", "`pretrained`", "`epoch`"] {
        assert!(line.contains(needle), "{needle} not in {line:?}");
    }

    let both = f.experiment(
        "both.toml",
        r#"cohort = "pre.toml", path = "w.safetensors", label = "lesion""#,
    );
    let line = cli_error(f.root(), &both);
    assert!(line.contains("exactly one of `path`"), "{line}");
}
