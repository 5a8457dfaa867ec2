//! Issue 2 "bad input": each case gives one clear line on stderr and exit code 2, no panic.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn radbench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_radbench"))
        .args(args)
        .output()
        .expect("radbench runs")
}

/// Asserts exit code 2 and a single `radbench: error:` line mentioning every `needle`.
fn assert_clear_error(out: &Output, needles: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.starts_with("radbench: error: "))
        .unwrap_or_else(|| panic!("no error line in {stderr:?}"));
    for n in needles {
        assert!(line.contains(n), "{n:?} not in {line:?}");
    }
    stderr
}

fn sha256_hex(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A small synthetic cohort on disk and an experiment over it.
struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let cohort = root.join("cohort");
        let out = radbench(&[
            "synth",
            "lesion-ct",
            "--n",
            "24",
            "--seed",
            "5",
            "--out",
            cohort.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let f = Fixture { _dir: dir, root };
        f.write_experiment("");
        f
    }

    fn manifest(&self) -> PathBuf {
        self.root.join("cohort/manifest.toml")
    }

    fn experiment(&self) -> PathBuf {
        self.root.join("exp.toml")
    }

    fn write_experiment(&self, extra_split_line: &str) {
        let text = format!(
            "[experiment]\nname = \"bad\"\nseed = 1\n\n[data]\nmanifest = \"cohort/manifest.toml\"\n\
             label = \"lesion\"\n\n[split]\nkind = \"stratified-kfold\"\nfolds = 2\n{extra_split_line}\n\
             [[model]]\nid = \"lr\"\nkind = \"logistic\"\n"
        );
        std::fs::write(self.experiment(), text).unwrap();
    }

    fn run(&self) -> Output {
        radbench(&[
            "run",
            "--quiet",
            "--out",
            self.root.join("reports").to_str().unwrap(),
            self.experiment().to_str().unwrap(),
        ])
    }

    /// The first case's file listed under `kind` ("images" or "masks").
    fn first_file(&self, kind: &str) -> PathBuf {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.root.join("cohort").join(kind))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files.remove(0)
    }

    /// Replaces a file and records its new hash in the manifest, so only its content is wrong.
    fn replace_file_keeping_manifest_valid(&self, file: &Path, bytes: &[u8]) {
        let old = sha256_hex(file);
        std::fs::write(file, bytes).unwrap();
        let new = sha256_hex(file);
        let m = std::fs::read_to_string(self.manifest()).unwrap();
        assert!(m.contains(&old));
        std::fs::write(self.manifest(), m.replace(&old, &new)).unwrap();
    }
}

#[test]
fn unknown_key_in_experiment_names_key_and_line() {
    let f = Fixture::new();
    f.write_experiment("foldz = 3");
    let out = f.run();
    assert_clear_error(&out, &["exp.toml:12:", "foldz", "repeats"]);
}

#[test]
fn missing_manifest_is_named() {
    let f = Fixture::new();
    std::fs::remove_file(f.manifest()).unwrap();
    assert_clear_error(&f.run(), &["manifest.toml"]);
}

#[test]
fn checksum_mismatch_is_named_by_verify_and_run() {
    let f = Fixture::new();
    let image = f.first_file("images");
    let mut bytes = std::fs::read(&image).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&image, bytes).unwrap();
    let name = image.file_name().unwrap().to_str().unwrap().to_string();
    let verify = radbench(&["manifest", "verify", f.manifest().to_str().unwrap()]);
    let stderr = assert_clear_error(&verify, &["verification failed"]);
    assert!(stderr.contains(&name), "{stderr}");
    let run = String::from_utf8_lossy(&f.run().stderr).to_string();
    assert!(run.contains(&name), "{run}");
}

#[test]
fn truncated_nifti_names_the_file() {
    let f = Fixture::new();
    let image = f.first_file("images");
    let bytes = std::fs::read(&image).unwrap();
    f.replace_file_keeping_manifest_valid(&image, &bytes[..bytes.len() / 2]);
    let name = image.file_name().unwrap().to_str().unwrap().to_string();
    assert_clear_error(&f.run(), &[&name]);
}

#[test]
fn mask_of_another_shape_names_the_case() {
    use radbench::data::image::{Grid, Mask};
    let f = Fixture::new();
    let mask_path = f.first_file("masks");
    let grid = Grid::new([10, 10, 4], [0.8, 0.8, 2.5]);
    let mut voxels = vec![0u8; grid.len()];
    voxels[grid.index(5, 5, 2)] = 1;
    let tmp = f.root.join("other.nii.gz");
    radbench::data::nifti::write_mask(&tmp, &Mask { grid, voxels }).unwrap();
    f.replace_file_keeping_manifest_valid(&mask_path, &std::fs::read(&tmp).unwrap());
    assert_clear_error(&f.run(), &["case case-", "does not match", "shape"]);
}

#[test]
fn empty_mask_names_the_case() {
    let f = Fixture::new();
    let mask_path = f.first_file("masks");
    let mut mask = radbench::data::nifti::read_mask(&mask_path).unwrap();
    mask.voxels.iter_mut().for_each(|v| *v = 0);
    let tmp = f.root.join("empty.nii.gz");
    radbench::data::nifti::write_mask(&tmp, &mask).unwrap();
    f.replace_file_keeping_manifest_valid(&mask_path, &std::fs::read(&tmp).unwrap());
    assert_clear_error(&f.run(), &["case case-", "no voxel with label 1"]);
}

#[test]
fn one_class_labels_are_refused() {
    let f = Fixture::new();
    let m = std::fs::read_to_string(f.manifest()).unwrap();
    let flipped = m.replace("lesion = 1", "lesion = 0");
    assert_ne!(m, flipped, "the manifest writes labels as `lesion = 1`");
    std::fs::write(f.manifest(), flipped).unwrap();
    assert_clear_error(&f.run(), &["same class", "lesion"]);
}
