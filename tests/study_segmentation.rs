//! `kind = "segmenter"` and `[survival]` through the runner on a tiny `spleen-ct` cohort: a
//! U-Net trained in each fold segments every test case, the report carries Dice, volumes and
//! quality control, survival by high vs low predicted volume matches src/eval/survival on the
//! same data, figures and predicted masks are written, and a rerun gives the same bytes.

use crate::util::radbench;
use radbench::eval::survival::{kaplan_meier, logrank_test};
use std::path::Path;

const EXPERIMENT: &str = r#"
[experiment]
name = "tiny-spleen"
seed = 9

[data]
manifest = "cohort/manifest.toml"
label = "decompensation"

[features]
classes = ["shape"]

[split]
kind = "stratified-kfold"
folds = 2

[[model]]
id = "volume"
kind = "logistic"

[[model]]
id = "unet"
kind = "segmenter"
empty_slice_stride = 8
write_masks = true
[model.unet]
base_width = 4
levels = 2
epochs = 1
batch_size = 8
lr = 0.01

[survival]
group_by = "predicted-volume:unet"

[published]
source = "test"

[published.segmentation]
segmenter = "unet"
dice = 0.96
median_survival_low = 22.0
"#;

#[test]
fn segmenter_and_survival_run_end_to_end_and_rerun_identically() {
    let dir = tempfile::tempdir().unwrap();
    let cohort = dir.path().join("cohort");
    let (ok, text) = radbench(&[
        "synth",
        "spleen-ct",
        "--n",
        "16",
        "--seed",
        "3",
        "--out",
        cohort.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    let exp = dir.path().join("spleen.toml");
    std::fs::write(&exp, EXPERIMENT).unwrap();
    let run = |out: &Path| {
        let (ok, text) = radbench(&[
            "run",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
            exp.to_str().unwrap(),
        ]);
        assert!(ok, "{text}");
        text.lines()
            .find_map(|l| l.strip_prefix("report: "))
            .unwrap()
            .to_string()
    };
    let folder = run(&dir.path().join("a"));
    let folder = Path::new(&folder);
    let bytes = std::fs::read(folder.join("report.json")).unwrap();
    let again = run(&dir.path().join("b"));
    assert!(
        bytes == std::fs::read(Path::new(&again).join("report.json")).unwrap(),
        "segmentation report differs on rerun"
    );
    let r: serde_json::Value = serde_json::from_slice(&bytes).unwrap();

    // Segmentation: every case once, Dice in [0, 1], volumes from the voxel spacing.
    let seg = &r["segmentation"][0];
    assert_eq!(seg["id"], "unet");
    let cases = seg["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 16);
    for c in cases {
        let d = c["dice"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&d), "{c}");
        assert!(c["reference_ml"].as_f64().unwrap() > 50.0, "{c}");
        let fail = c["qc_fail"].as_bool().unwrap();
        assert_eq!(fail, d < 0.5 || c["predicted_ml"].as_f64().unwrap() == 0.0);
    }
    let fails = cases.iter().filter(|c| c["qc_fail"] == true).count();
    assert_eq!(seg["qc_failure"]["successes"], fails);
    let mean_dice = cases
        .iter()
        .map(|c| c["dice"].as_f64().unwrap())
        .sum::<f64>()
        / 16.0;
    assert!((seg["dice_mean"].as_f64().unwrap() - mean_dice).abs() < 1e-12);

    // Survival: recompute the groups from the report's own volumes and thresholds and the
    // manifest's times, then compare with src/eval/survival.
    let manifest = radbench::data::manifest::Manifest::load(&cohort.join("manifest.toml")).unwrap();
    let entries = manifest.cases();
    let thresholds: Vec<f64> = seg["fold_train_median_ml"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_f64().unwrap())
        .collect();
    let (mut times, mut events, mut groups) = (Vec::new(), Vec::new(), Vec::new());
    for c in cases {
        let entry = entries.iter().find(|e| e.id == c["case"]).unwrap();
        times.push(entry.time.unwrap());
        events.push(entry.event.unwrap());
        let fold = c["fold"].as_u64().unwrap() as usize;
        groups.push(usize::from(
            c["predicted_ml"].as_f64().unwrap() > thresholds[fold],
        ));
    }
    let sv = &r["survival"];
    assert_eq!(sv["group_by"], "predicted-volume:unet");
    let present: Vec<usize> = (0..2).filter(|g| groups.contains(g)).collect();
    assert_eq!(sv["groups"].as_array().unwrap().len(), present.len());
    if present.len() == 2 {
        let lr = logrank_test(&times, &events, &groups).unwrap();
        assert!((sv["logrank"]["p"].as_f64().unwrap() - lr.p).abs() < 1e-12);
        assert!((sv["logrank"]["chi2"].as_f64().unwrap() - lr.chi2).abs() < 1e-9);
    } else {
        assert!(sv["logrank"].is_null());
    }
    for (slot, &g) in present.iter().enumerate() {
        let pick = |i: &usize| groups[*i] == g;
        let t: Vec<f64> = (0..16).filter(pick).map(|i| times[i]).collect();
        let e: Vec<bool> = (0..16).filter(pick).map(|i| events[i]).collect();
        let km = kaplan_meier(&t, &e, 0.95).unwrap();
        let group = &sv["groups"][slot];
        assert_eq!(group["name"], ["low volume", "high volume"][g]);
        assert_eq!(group["n"], t.len());
        let median = km.median().median;
        match group["median"]["median"].as_f64() {
            Some(m) => assert!((m - median).abs() < 1e-12),
            None => assert!(median.is_infinite()),
        }
        let survival: Vec<f64> = group["km"]["survival"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(survival, km.survival);
    }

    // Published rows, figures inline in the HTML, masks as NIfTI.
    let published = r["published_segmentation"].as_array().unwrap();
    assert_eq!(published.len(), 2);
    assert_eq!(published[0]["published"], 0.96);
    let html = std::fs::read_to_string(folder.join("report.html")).unwrap();
    assert!(html.contains("Number at risk") && html.contains("Dice per case"));
    assert!(html.contains("Survival by volume"));
    for f in ["kaplan_meier.svg", "dice.svg"] {
        assert!(folder.join("figures").join(f).is_file(), "{f}");
    }
    let first = &cases[0]["case"].as_str().unwrap();
    let mask = radbench::data::nifti::read_mask(
        &folder.join("masks/unet").join(format!("{first}.nii.gz")),
    )
    .unwrap();
    assert_eq!(mask.grid.dims, [64, 64, 32]);
}

#[test]
fn survival_needs_a_known_segmenter() {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("bad.toml");
    std::fs::write(
        &exp,
        EXPERIMENT.replace("predicted-volume:unet", "predicted-volume:nope"),
    )
    .unwrap();
    let e = radbench::spec::Experiment::load(&exp)
        .unwrap_err()
        .to_string();
    assert!(e.contains("nope") && e.contains("survival.group_by"), "{e}");
    std::fs::write(&exp, EXPERIMENT.replace("epochs = 1", "epoch = 1")).unwrap();
    let e = radbench::spec::Experiment::load(&exp)
        .unwrap_err()
        .to_string();
    assert!(e.contains("epoch") && e.contains("unet"), "{e}");
}
