//! The segmenter's 3-D U-Net (`[model.unet] dims = 3`): it learns a bright blob from whole
//! volumes, refuses volumes whose sides do not divide by 2^levels and slice inputs, and trains
//! to the same weights and masks on rerun and at 1 or 4 candle threads (the thread check runs
//! this binary as a child, as `cnn_determinism` does).

use crate::cnn_data::{Case, cohort};
use radbench::models::cnn::augment::Augment;
use radbench::models::cnn::segment::{
    FittedSegmenter, SegSample, SegmenterSpec, fit_segmenter, training_slices,
};
use radbench::models::cnn::segment3d::training_volume;
use radbench::seed::rng_for;
use sha2::{Digest, Sha256};

/// Class-1 cases only: their lesion is bright (contrast 3), class-0 lesions are invisible.
fn visible(seed: u64, name: &str, n: usize) -> Vec<Case> {
    cohort(seed, name, n, 2, 3.0)
        .into_iter()
        .filter(|c| c.label == 1)
        .collect()
}

fn spec() -> SegmenterSpec {
    SegmenterSpec {
        dims: 3,
        base_width: 4,
        levels: 1,
        epochs: 30,
        batch_size: 2,
        lr: 5e-2,
        augment: Augment {
            flips: true,
            rot90: true,
            ..Default::default()
        },
        ..Default::default()
    }
}

fn volumes(cases: &[Case], spec: &SegmenterSpec) -> Vec<SegSample> {
    cases
        .iter()
        .map(|c| training_volume(&c.id, &[&c.image], &c.mask, spec.normalise).unwrap())
        .collect()
}

/// SHA-256 of the weights and of the predicted masks of `cases`.
fn fingerprint(fitted: &FittedSegmenter, cases: &[Case]) -> String {
    let mut h = Sha256::new();
    for c in cases {
        h.update(&fitted.predict_mask(&c.id, &[&c.image]).unwrap().voxels);
    }
    let masks: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("{} {masks}", fitted.fingerprint().unwrap())
}

fn train_and_fingerprint(seed: u64) -> String {
    let train = visible(21, "seg3d-det", 8);
    let mut s = spec();
    s.epochs = 2;
    let fitted = fit_segmenter(&volumes(&train, &s), &s, &mut rng_for(seed, &["unet3d"])).unwrap();
    fingerprint(&fitted, &train)
}

#[test]
fn unet3d_learns_a_blob_from_whole_volumes() {
    let train = visible(21, "seg3d-train", 16);
    let test = visible(21, "seg3d-test", 8);
    let spec = spec();
    let fitted =
        fit_segmenter(&volumes(&train, &spec), &spec, &mut rng_for(3, &["unet3d"])).unwrap();
    let curve = &fitted.curve().epochs;
    assert_eq!(curve.len(), spec.epochs);
    assert!(
        curve[spec.epochs - 1].train_loss < curve[0].train_loss,
        "{curve:?}"
    );
    let dice: Vec<f64> = test
        .iter()
        .map(|c| {
            let predicted = fitted.predict_mask(&c.id, &[&c.image]).unwrap();
            assert_eq!(predicted.grid, c.mask.grid);
            fitted.evaluate(&c.id, &predicted, &c.mask).dice
        })
        .collect();
    let mean = dice.iter().sum::<f64>() / dice.len() as f64;
    assert!(mean > 0.6, "mean Dice {mean}: {dice:?}");
}

#[test]
fn unet3d_refuses_sides_not_divisible_and_slice_inputs() {
    let train = visible(21, "seg3d-bad", 4);
    let two_levels = SegmenterSpec {
        levels: 2,
        epochs: 1,
        ..spec()
    };
    // The test volumes are 24 × 24 × 6: 6 slices do not divide by 4.
    let e = fit_segmenter(
        &volumes(&train, &two_levels),
        &two_levels,
        &mut rng_for(1, &["x"]),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        e.contains("not divisible by 2^levels = 4") && e.contains("seg3d-bad"),
        "{e}"
    );
    let c = &train[0];
    let slices = training_slices(&c.id, &[&c.image], &c.mask, two_levels.normalise).unwrap();
    let e = fit_segmenter(&slices, &spec(), &mut rng_for(1, &["x"]))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("[channels, d, h, w]"), "{e}");
    let four = SegmenterSpec { dims: 4, ..spec() };
    let e = fit_segmenter(&volumes(&train, &four), &four, &mut rng_for(1, &["x"]))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("dims = 4"), "{e}");
}

/// Prints the fingerprint when run as a child of `unet3d_is_deterministic_across_threads`.
#[test]
fn unet3d_child_fingerprint() {
    if std::env::var_os("RADBENCH_SEG3D_CHILD").is_none() {
        return;
    }
    println!("SEG3D-FINGERPRINT {}", train_and_fingerprint(5));
}

#[test]
fn unet3d_is_deterministic_across_threads() {
    let exe = std::env::current_exe().unwrap();
    let run = |threads: &str| {
        let out = std::process::Command::new(&exe)
            .args([
                "cnn_segmentation3d::unet3d_child_fingerprint",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("RADBENCH_SEG3D_CHILD", "1")
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success(), "child at {threads} threads: {stdout}");
        stdout
            .lines()
            .find_map(|l| {
                l.split_once("SEG3D-FINGERPRINT ")
                    .map(|(_, f)| f.to_string())
            })
            .unwrap_or_else(|| panic!("no fingerprint at {threads} threads: {stdout}"))
    };
    let one = run("1");
    assert_eq!(one, run("4"), "1 vs 4 threads");
    assert_eq!(one, train_and_fingerprint(5), "child vs this process");
    assert_ne!(one, train_and_fingerprint(6), "the seed must matter");
}

/// The 3-D U-Net as a `kind = "segmenter"` of an experiment, feeding the automated radiomics
/// model: masks on the image grid, Dice and QC in the report, same bytes on rerun.
#[test]
fn unet3d_segmenter_runs_in_an_experiment() {
    let dir = tempfile::tempdir().unwrap();
    let cohort = dir.path().join("cohort");
    let radbench = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_radbench"))
            .args(args)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{text}");
        text
    };
    radbench(&[
        "synth",
        "spleen-ct",
        "--n",
        "10",
        "--seed",
        "3",
        "--out",
        cohort.to_str().unwrap(),
    ]);
    let exp = dir.path().join("seg3d.toml");
    std::fs::write(
        &exp,
        r#"
[experiment]
name = "tiny-seg3d"
seed = 4
[data]
manifest = "cohort/manifest.toml"
label = "decompensation"
[features]
classes = ["shape"]
[split]
kind = "stratified-kfold"
folds = 2
[[model]]
id = "auto"
kind = "logistic"
mask = "predicted:unet3d"
[[model]]
id = "unet3d"
kind = "segmenter"
write_masks = true
[model.unet]
dims = 3
base_width = 2
levels = 2
epochs = 1
batch_size = 2
lr = 0.05
"#,
    )
    .unwrap();
    let run = |out: &str| {
        let text = radbench(&[
            "run",
            "--quiet",
            "--out",
            dir.path().join(out).to_str().unwrap(),
            exp.to_str().unwrap(),
        ]);
        std::path::PathBuf::from(
            text.lines()
                .find_map(|l| l.strip_prefix("report: "))
                .unwrap(),
        )
    };
    let folder = run("a");
    let bytes = std::fs::read(folder.join("report.json")).unwrap();
    assert_eq!(std::fs::read(run("b").join("report.json")).unwrap(), bytes);
    let r: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let cases = r["segmentation"][0]["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 10);
    assert!(
        cases
            .iter()
            .all(|c| (0.0..=1.0).contains(&c["dice"].as_f64().unwrap()))
    );
    assert_eq!(r["auto_mask"][0]["test_cases"], 10);
    let first = cases[0]["case"].as_str().unwrap();
    let mask = radbench::data::nifti::read_mask(
        &folder.join("masks/unet3d").join(format!("{first}.nii.gz")),
    )
    .unwrap();
    assert_eq!(mask.grid.dims, [64, 64, 32]);
}
