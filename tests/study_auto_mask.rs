//! Radiomics of the predicted mask (`mask = "predicted:<segmenter>"`) through the runner on a
//! tiny `spleen-ct` cohort: every test prediction of the automated model is reproduced from
//! outside the runner (a logistic fitted on the training fold's reference-mask features,
//! applied to the features of the mask that fold's U-Net predicted); a blind segmenter whose
//! masks are all empty sends every case to the documented fallback (training class
//! frequencies) and the report lists them; the reference-mask model is untouched; a resumed
//! run re-extracts from the stored masks without retraining a segmenter.

use crate::util::radbench;
use radbench::data::image::Mask;
use radbench::features::{self, FeatureFamily};
use radbench::models::{PredictData, TrainingData};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const EXPERIMENT: &str = r#"
[experiment]
name = "tiny-auto"
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
id = "manual"
kind = "logistic"

[[model]]
id = "auto"
kind = "logistic"
mask = "predicted:unet"

[[model]]
id = "auto-blind"
kind = "logistic"
mask = "predicted:blind"

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

[[model]]
id = "blind"
kind = "segmenter"
empty_slice_stride = 32
[model.unet]
base_width = 4
levels = 2
epochs = 1
batch_size = 8
lr = 1e-9
threshold = 0.999
"#;

/// `model → case → (fold, probability)` from predictions.csv.
type Predictions = BTreeMap<String, BTreeMap<String, (usize, f64)>>;

fn predictions(folder: &Path) -> Predictions {
    let (header, rows) = crate::util::read_plain_csv(&folder.join("predictions.csv"));
    let col = |name: &str| crate::util::column(&header, &rows, name);
    let (model, case, fold, p) = (
        col("model"),
        col("case_id"),
        col("fold"),
        col("probability"),
    );
    let mut out = Predictions::new();
    for r in 0..rows.len() {
        out.entry(model[r].to_string()).or_default().insert(
            case[r].to_string(),
            (fold[r].parse().unwrap(), p[r].parse().unwrap()),
        );
    }
    out
}

fn run(exp: &Path, out: &Path) -> PathBuf {
    let (ok, text) = radbench(&[
        "run",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
        exp.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    PathBuf::from(
        text.lines()
            .find_map(|l| l.strip_prefix("report: "))
            .unwrap(),
    )
}

/// Every file under `dir` with its modification time.
fn stamps(dir: &Path) -> BTreeMap<PathBuf, std::time::SystemTime> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(stamps(&path));
        } else {
            out.insert(path.clone(), path.metadata().unwrap().modified().unwrap());
        }
    }
    out
}

/// Writes `n` cases of the `spleen-ct` scenario with `seed` into `cohort`.
fn synth_spleen(cohort: &Path, n: usize, seed: u64) {
    let (n, seed) = (n.to_string(), seed.to_string());
    let out = cohort.to_str().unwrap();
    let (ok, text) = radbench(&[
        "synth",
        "spleen-ct",
        "--n",
        &n,
        "--seed",
        &seed,
        "--out",
        out,
    ]);
    assert!(ok, "{text}");
}

#[test]
fn automated_model_reads_the_folds_predicted_masks_and_empty_ones_fall_back() {
    let dir = tempfile::tempdir().unwrap();
    let cohort = dir.path().join("cohort");
    synth_spleen(&cohort, 16, 3);
    let exp_path = dir.path().join("auto.toml");
    std::fs::write(&exp_path, EXPERIMENT).unwrap();
    let out = dir.path().join("out");
    let folder = run(&exp_path, &out);
    let bytes = std::fs::read(folder.join("report.json")).unwrap();
    let report: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let preds = predictions(&folder);

    // Independent reproduction: reference-mask features for training, predicted-mask
    // features for the test cases, the same logistic model and cell stream.
    let exp = radbench::spec::Experiment::load(&exp_path).unwrap();
    let settings = exp.feature_settings();
    let families: Vec<&dyn FeatureFamily> = vec![features::family_by_name("shape").unwrap()];
    let manifest = radbench::data::manifest::Manifest::load(&cohort.join("manifest.toml")).unwrap();
    let cases = manifest.cases();
    let mut names = Vec::new();
    let mut reference = Vec::new();
    let mut automated = Vec::new();
    let labels: Vec<usize> = cases
        .iter()
        .map(|c| usize::from(c.labels["decompensation"] == 1))
        .collect();
    for case in cases {
        let (image, mask) = radbench::data::cohort::load_case(case, 1).unwrap();
        let row = features::extract(&image, &mask, &settings, &families).unwrap();
        names = row.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        reference.push(row.iter().map(|(_, v)| *v).collect::<Vec<f64>>());
        let stored = radbench::data::nifti::read_mask(
            &folder.join(format!("masks/unet/{}.nii.gz", case.id)),
        )
        .unwrap();
        let predicted = Mask {
            grid: image.grid.clone(),
            voxels: stored.voxels,
        };
        automated.push(if predicted.voxels.iter().all(|&v| v == 0) {
            None
        } else {
            features::extract(&image, &predicted, &settings, &families)
                .ok()
                .map(|r| r.iter().map(|(_, v)| *v).collect::<Vec<f64>>())
        });
    }
    let fold_of = |id: &str| preds["manual"][id].0;
    let auto_entry = exp.models.iter().find(|m| m.id == "auto").unwrap();
    let (mut measured, mut differs) = (0, 0);
    for fold in 0..2 {
        let train: Vec<usize> = (0..cases.len())
            .filter(|&i| fold_of(&cases[i].id) != fold)
            .collect();
        let x = ndarray::Array2::from_shape_fn((train.len(), names.len()), |(r, c)| {
            reference[train[r]][c]
        });
        let y: Vec<usize> = train.iter().map(|&i| labels[i]).collect();
        let cell = radbench::runner::plan::Cell {
            model_index: 1,
            model: "auto".into(),
            repeat: 0,
            fold,
            sweep_seed: None,
        };
        let fitted = radbench::models::build(auto_entry)
            .unwrap()
            .fit(
                &TrainingData {
                    features: x.view(),
                    feature_names: &names,
                    labels: &y,
                    n_classes: 2,
                    images: &[],
                    patients: &[],
                },
                &mut cell.rng(exp.seed),
            )
            .unwrap();
        let prevalence = y.iter().sum::<usize>() as f64 / y.len() as f64;
        for i in (0..cases.len()).filter(|&i| fold_of(&cases[i].id) == fold) {
            let id = &cases[i].id;
            let got = preds["auto"][id].1;
            let want = match &automated[i] {
                Some(row) => {
                    let x = ndarray::Array2::from_shape_vec((1, row.len()), row.clone()).unwrap();
                    measured += 1;
                    fitted
                        .predict_proba(&PredictData {
                            features: x.view(),
                            feature_names: &names,
                            images: &[],
                        })
                        .unwrap()[[0, 1]]
                }
                None => prevalence,
            };
            assert!((got - want).abs() < 1e-12, "{id}: {got} vs {want}");
            differs += usize::from((got - preds["manual"][id].1).abs() > 1e-9);
            // The blind segmenter predicts nothing: the fallback is the training prevalence.
            let blind = preds["auto-blind"][id].1;
            assert!((blind - prevalence).abs() < 1e-12, "{id}: {blind}");
        }
    }
    assert!(
        measured >= 4,
        "only {measured} cases had a usable predicted mask"
    );
    assert!(differs > 0, "predicted masks changed no prediction");

    // The report names the fallback cases and the masks each model was developed on.
    let sections = report["auto_mask"].as_array().unwrap();
    assert_eq!(sections.len(), 2);
    assert_eq!(sections[0]["model"], "auto");
    assert_eq!(sections[0]["training_masks"], "reference");
    let blind = &sections[1];
    assert_eq!(
        (blind["model"].as_str(), blind["segmenter"].as_str()),
        (Some("auto-blind"), Some("blind"))
    );
    assert_eq!(blind["test_cases"], 16);
    let fallback = blind["fallback"].as_array().unwrap();
    assert_eq!(fallback.len(), 16);
    assert!(
        fallback
            .iter()
            .all(|f| f["reason"] == "empty predicted mask")
    );
    let md = std::fs::read_to_string(folder.join("report.md")).unwrap();
    assert!(md.contains("Radiomics of predicted masks") && md.contains("empty predicted mask"));

    // Resume: drop the automated cells; the rerun re-extracts from the stored masks (no
    // segmenter cell or mask is rewritten) and gives the same bytes.
    let segmenter_files = stamps(&out.join(".cache/segmenter-cells"));
    let mut dropped = 0;
    for path in stamps(&out.join(".cache/cells")).keys() {
        let name = path.file_name().unwrap().to_string_lossy();
        if name.starts_with("auto__") || name.starts_with("auto-blind__") {
            std::fs::remove_file(path).unwrap();
            dropped += 1;
        }
    }
    assert_eq!(dropped, 4);
    let again = run(&exp_path, &out);
    assert_eq!(std::fs::read(again.join("report.json")).unwrap(), bytes);
    assert_eq!(stamps(&out.join(".cache/segmenter-cells")), segmenter_files);
}

#[test]
fn predicted_mask_needs_a_segmenter_and_a_radiomics_model() {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("bad.toml");
    let check = |text: String, wants: &[&str]| {
        std::fs::write(&exp, text).unwrap();
        let e = radbench::spec::Experiment::load(&exp)
            .unwrap_err()
            .to_string();
        for w in wants {
            assert!(e.contains(w), "{w:?} not in {e}");
        }
    };
    check(
        EXPERIMENT.replace("predicted:blind", "predicted:nope"),
        &["bad.toml:29:", "auto-blind", "nope", "unet, blind"],
    );
    check(
        EXPERIMENT.replace("predicted:blind", "auto"),
        &["bad.toml:29:", "key `mask`", "predicted:<segmenter id>"],
    );
    check(
        EXPERIMENT.replace("seed = 9", "seed = 9\nseeds = [9, 10]"),
        &["seed sweep", "\"auto\""],
    );
    check(
        EXPERIMENT.replace(
            "[[model]]\nid = \"unet\"\nkind = \"segmenter\"",
            "[[model]]\nid = \"unet\"\nkind = \"segmenter\"\nmask = \"predicted:blind\"",
        ),
        &["mask"],
    );
}

/// Shards of an experiment with a model on predicted masks: whichever shard holds its cells
/// computes (or reuses) the segmenter cells it reads, and the merged run equals a plain one.
#[test]
fn shards_of_an_automated_model_merge_into_the_plain_report() {
    let dir = tempfile::tempdir().unwrap();
    let cohort = dir.path().join("cohort");
    synth_spleen(&cohort, 12, 5);
    // Only the cheap blind segmenter; `auto` now reads its masks too.
    let unet = EXPERIMENT.find("[[model]]\nid = \"unet\"").unwrap();
    let blind = EXPERIMENT.find("[[model]]\nid = \"blind\"").unwrap();
    let text = format!("{}{}", &EXPERIMENT[..unet], &EXPERIMENT[blind..])
        .replace("predicted:unet", "predicted:blind");
    let exp = dir.path().join("auto.toml");
    std::fs::write(&exp, text).unwrap();
    let sharded = dir.path().join("sharded");
    for shard in ["1/2", "0/2"] {
        let (ok, text) = radbench(&[
            "run",
            "--quiet",
            "--shard",
            shard,
            "--out",
            sharded.to_str().unwrap(),
            exp.to_str().unwrap(),
        ]);
        assert!(ok, "shard {shard}: {text}");
    }
    let merged = run(&exp, &sharded);
    let run_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(merged.join("run.json")).unwrap()).unwrap();
    assert_eq!(run_json["cells_computed"], 0);
    let plain = run(&exp, &dir.path().join("plain"));
    for name in ["report.json", "predictions.csv"] {
        assert!(
            std::fs::read(merged.join(name)).unwrap() == std::fs::read(plain.join(name)).unwrap(),
            "{name} differs"
        );
    }
}
