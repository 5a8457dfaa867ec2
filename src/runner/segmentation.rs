//! Segmenter cells: for each `kind = "segmenter"` model, repeat and fold, a U-Net trained on the
//! training part's image + mask pairs (axial slices, or whole volumes with `dims = 3`) predicts
//! a mask for every test case (and, to set the survival threshold without looking at the test
//! part, for every training case). The test masks are kept beside the cell for the models
//! that extract radiomics from them ([`super::auto_mask`]).
//!
//! A cell's stream is `["segmenter", id, "repeat", r, "fold", f]`; finished cells are stored
//! atomically under `<cache>/segmenter-cells/<slice>/`, where the slice hashes what the cells
//! depend on, so an interrupted run resumes. Cells run in parallel and are collected in plan
//! order, so thread count never reaches a result.

use super::RunnerError;
use crate::Error;
use crate::data::split::Folds;
use crate::eval::threshold::{ProportionInterval, proportion_ci};
use crate::models::CaseImages;
use crate::models::cnn::segment::{CaseSegmentation, fit_segmenter, training_slices};
use crate::models::cnn::segment3d::training_volume;
use crate::models::segmenter::{SegmenterSettings, channel_images, keep_slice, parse_settings};
use crate::report::studies::{SegmentationResult, SegmentedCase};
use crate::report::{self, write_atomic};
use crate::spec::Experiment;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The stored outcome of one segmenter cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegCellResult {
    /// Test case ids, in cohort order.
    pub case_ids: Vec<String>,
    /// Quality of each test case's predicted mask.
    pub cases: Vec<CaseSegmentation>,
    /// Median predicted volume of the training cases (mL).
    pub train_median_ml: f64,
    /// Epochs trained.
    pub epochs: usize,
    /// SHA-256 of the trained weights.
    pub weights: String,
}

/// One segmenter's cells: `results[repeat][fold]`, and where its predicted masks are kept.
pub struct SegmenterRun {
    /// Segmenter id.
    pub id: String,
    /// Its settings.
    pub settings: SegmenterSettings,
    /// Cell results by repeat and fold.
    pub results: Vec<Vec<SegCellResult>>,
    dir: PathBuf,
}

impl SegmenterRun {
    /// Folder of the predicted test masks of (`repeat`, `fold`) in the cache.
    fn masks_dir(&self, repeat: usize, fold: usize) -> PathBuf {
        masks_dir(&self.dir, &self.id, repeat, fold)
    }

    /// The stored predicted mask (label 1) of test case `case` in (`repeat`, `fold`).
    pub fn predicted_mask_path(&self, repeat: usize, fold: usize, case: &str) -> PathBuf {
        self.masks_dir(repeat, fold).join(format!("{case}.nii.gz"))
    }
}

fn cell_key(id: &str, repeat: usize, fold: usize) -> String {
    format!("{id}__r{repeat}__f{fold}")
}

/// Every cell keeps its test cases' predicted masks here (radiomics of the predicted mask reads
/// them; `write_masks` copies those of repeat 0 into the report).
fn masks_dir(dir: &Path, id: &str, repeat: usize, fold: usize) -> PathBuf {
    dir.join(format!("{}.masks", cell_key(id, repeat, fold)))
}

/// Whether every test case of a stored cell has its predicted mask on disk.
fn masks_present(dir: &Path, id: &str, repeat: usize, fold: usize, case_ids: &[String]) -> bool {
    let folder = masks_dir(dir, id, repeat, fold);
    case_ids
        .iter()
        .all(|c| folder.join(format!("{c}.nii.gz")).is_file())
}

/// Runs (or reads from the cache) every segmenter cell. With `compute` false, a missing cell
/// is an error; `images` (cohort order) are needed only when computing.
pub fn run_segmenters(
    exp: &Experiment,
    folds: &[Folds],
    case_ids: &[String],
    images: &[CaseImages],
    cache_root: &Path,
    fingerprint: &str,
    compute: bool,
) -> Result<Vec<SegmenterRun>, Error> {
    let mut runs = Vec::with_capacity(exp.segmenters.len());
    for entry in &exp.segmenters {
        let settings = parse_settings(&entry.settings).map_err(|e| RunnerError::ModelSettings {
            model: entry.id.clone(),
            message: e.to_string(),
        })?;
        let slice = serde_json::json!({
            "seed": exp.seed,
            "mask_label": exp.mask_label,
            "split": &exp.split,
            "segmenter": entry,
        });
        let dir = cache_root
            .join("segmenter-cells")
            .join(report::content_version(&slice.to_string(), fingerprint));
        let plan: Vec<(usize, usize)> = folds
            .iter()
            .enumerate()
            .flat_map(|(r, f)| (0..f.k()).map(move |k| (r, k)))
            .collect();
        let done: Vec<SegCellResult> = plan
            .par_iter()
            .map(|&(repeat, fold)| -> Result<SegCellResult, Error> {
                let key = cell_key(&entry.id, repeat, fold);
                let test = folds[repeat].test_indices(fold);
                let test_ids: Vec<String> = test.iter().map(|&i| case_ids[i].clone()).collect();
                let path = dir.join(format!("{key}.json"));
                if let Some(r) = std::fs::read(&path)
                    .ok()
                    .and_then(|b| serde_json::from_slice::<SegCellResult>(&b).ok())
                    .filter(|r| r.case_ids == test_ids && r.cases.len() == test_ids.len())
                    .filter(|_| masks_present(&dir, &entry.id, repeat, fold, &test_ids))
                {
                    return Ok(r);
                }
                if !compute || images.len() != case_ids.len() {
                    return Err(Error::from(RunnerError::MissingCells {
                        count: 1,
                        total: plan.len(),
                        examples: key,
                    }));
                }
                let mut rng = crate::seed::rng_for(
                    exp.seed,
                    &[
                        "segmenter",
                        &entry.id,
                        "repeat",
                        &repeat.to_string(),
                        "fold",
                        &fold.to_string(),
                    ],
                );
                let mask_dir = masks_dir(&dir, &entry.id, repeat, fold);
                let result = fit_cell(
                    &settings,
                    folds[repeat].train_indices(fold),
                    test,
                    images,
                    &mut rng,
                    Some(&mask_dir),
                )
                .map_err(|message| RunnerError::Segmenter {
                    cell: key.clone(),
                    message,
                })?;
                let bytes = serde_json::to_vec(&result).unwrap_or_default();
                write_atomic(&path, &bytes)?;
                Ok(result)
            })
            .collect::<Result<_, Error>>()?;
        let mut results: Vec<Vec<SegCellResult>> = folds.iter().map(|_| Vec::new()).collect();
        for ((repeat, _), r) in plan.into_iter().zip(done) {
            results[repeat].push(r);
        }
        runs.push(SegmenterRun {
            id: entry.id.clone(),
            settings,
            results,
            dir,
        });
    }
    Ok(runs)
}

/// Fits one cell's U-Net on the training rows and segments the test rows; predicted test masks
/// are written into `mask_dir` when given.
fn fit_cell(
    settings: &SegmenterSettings,
    train: &[usize],
    test: &[usize],
    images: &[CaseImages],
    rng: &mut crate::seed::SeededRng,
    mask_dir: Option<&Path>,
) -> Result<SegCellResult, String> {
    let mut samples = Vec::new();
    for &i in train {
        let case = &images[i];
        let inputs = channel_images(case, &settings.channels)?;
        if settings.unet.dims == 3 {
            samples.push(
                training_volume(&case.case_id, &inputs, &case.mask, settings.unet.normalise)
                    .map_err(|e| e.to_string())?,
            );
            continue;
        }
        let slices = training_slices(&case.case_id, &inputs, &case.mask, settings.unet.normalise)
            .map_err(|e| e.to_string())?;
        samples.extend(
            slices
                .into_iter()
                .enumerate()
                .filter(|(k, _)| keep_slice(&case.mask, *k, settings.empty_slice_stride))
                .map(|(_, s)| s),
        );
    }
    let fitted = fit_segmenter(&samples, &settings.unet, rng).map_err(|e| e.to_string())?;
    drop(samples);
    if let Some(dir) = mask_dir {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let segment = |i: usize| -> Result<CaseSegmentation, String> {
        let case = &images[i];
        let inputs = channel_images(case, &settings.channels)?;
        let predicted = fitted
            .predict_mask(&case.case_id, &inputs)
            .map_err(|e| e.to_string())?;
        let quality = fitted.evaluate(&case.case_id, &predicted, &case.mask);
        if let Some(dir) = mask_dir
            && test.contains(&i)
        {
            let path = dir.join(format!("{}.nii.gz", case.case_id));
            crate::data::nifti::write_mask(&path, &predicted)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(quality)
    };
    let train_ml: Vec<f64> = train
        .iter()
        .map(|&i| segment(i).map(|q| q.predicted_ml))
        .collect::<Result<_, _>>()?;
    let cases: Vec<CaseSegmentation> =
        test.iter().map(|&i| segment(i)).collect::<Result<_, _>>()?;
    Ok(SegCellResult {
        case_ids: test.iter().map(|&i| images[i].case_id.clone()).collect(),
        cases,
        train_median_ml: median(&train_ml),
        epochs: fitted.curve().epochs.len(),
        weights: fitted.fingerprint().map_err(|e| e.to_string())?,
    })
}

/// Median of the values (mean of the middle two for an even count); NaN for none.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if !n.is_multiple_of(2) => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn sd(v: &[f64]) -> f64 {
    let m = mean(v);
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() as f64 - 1.0)).sqrt()
}

/// Out-of-fold quality of each segmenter (repeat 0), cases in cohort order.
pub fn segmentation_results(
    runs: &[SegmenterRun],
    folds: &[Folds],
    ci_level: f64,
) -> Result<Vec<SegmentationResult>, Error> {
    runs.iter()
        .map(|run| -> Result<SegmentationResult, Error> {
            let mut cases: Vec<(usize, SegmentedCase)> = Vec::new();
            for (fold, cell) in run.results[0].iter().enumerate() {
                for (&row, q) in folds[0].test_indices(fold).iter().zip(&cell.cases) {
                    cases.push((
                        row,
                        SegmentedCase {
                            case: q.case.clone(),
                            fold,
                            dice: q.dice,
                            predicted_ml: q.predicted_ml,
                            reference_ml: q.reference_ml,
                            qc_fail: q.qc_fail,
                        },
                    ));
                }
            }
            cases.sort_by_key(|(row, _)| *row);
            let cases: Vec<SegmentedCase> = cases.into_iter().map(|(_, c)| c).collect();
            let dice: Vec<f64> = cases.iter().map(|c| c.dice).collect();
            let pred: Vec<f64> = cases.iter().map(|c| c.predicted_ml).collect();
            let refv: Vec<f64> = cases.iter().map(|c| c.reference_ml).collect();
            let diff: Vec<f64> = pred.iter().zip(&refv).map(|(p, r)| p - r).collect();
            let fails = cases.iter().filter(|c| c.qc_fail).count();
            let ci = proportion_ci(fails, cases.len(), ci_level, ProportionInterval::Wilson)
                .map_err(|source| RunnerError::Eval {
                    model: run.id.clone(),
                    source,
                })?;
            let bias = mean(&diff);
            let spread = 1.96 * sd(&diff);
            Ok(SegmentationResult {
                id: run.id.clone(),
                dice_mean: mean(&dice),
                dice_sd: sd(&dice),
                dice_median: median(&dice),
                qc_min_dice: run.settings.unet.qc_min_dice,
                qc_failure: crate::eval::threshold::Proportion {
                    value: fails as f64 / cases.len() as f64,
                    successes: fails,
                    trials: cases.len(),
                    ci,
                },
                mean_predicted_ml: mean(&pred),
                mean_reference_ml: mean(&refv),
                volume_bias_ml: bias,
                volume_limits_ml: [bias - spread, bias + spread],
                volume_correlation: pearson(&pred, &refv),
                fold_train_median_ml: run.results[0].iter().map(|c| c.train_median_ml).collect(),
                fold_epochs: run.results[0].iter().map(|c| c.epochs).collect(),
                cases,
            })
        })
        .collect()
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let (ma, mb) = (mean(a), mean(b));
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

/// Copies the predicted masks of repeat 0 of every segmenter with `write_masks` into
/// `<report>/masks/<id>/<case>.nii.gz`; returns the relative paths written.
pub fn copy_masks(
    runs: &[SegmenterRun],
    folds: &[Folds],
    case_ids: &[String],
    report_dir: &Path,
) -> Result<Vec<String>, Error> {
    let mut written = Vec::new();
    for run in runs.iter().filter(|r| r.settings.write_masks) {
        for fold in 0..folds[0].k() {
            for &i in folds[0].test_indices(fold) {
                let name = format!("{}.nii.gz", case_ids[i]);
                let from = run.masks_dir(0, fold).join(&name);
                let bytes = std::fs::read(&from).map_err(|source| report::ReportError::Io {
                    path: from.clone(),
                    source,
                })?;
                let rel = format!("masks/{}/{name}", run.id);
                write_atomic(&report_dir.join(&rel), &bytes)?;
                written.push(rel);
            }
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_statistics() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
        assert!((pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.5]) - 0.9986).abs() < 1e-3);
        assert!((sd(&[1.0, 2.0, 3.0]) - 1.0).abs() < 1e-12);
    }
}
