//! Radiomics of predicted masks: the test part of a `mask = "predicted:<segmenter>"` model.
//!
//! In repeat r, fold k the model is fitted on the training cases' reference-mask features (as
//! any radiomics model), then each test case's features are extracted from the mask that fold
//! k's segmenter (trained on fold k's training cases only) predicted for it. Those masks are
//! kept in the segmenter cell's cache folder, so a resumed run re-extracts without retraining.
//!
//! A test case whose predicted mask is empty, or whose features cannot be computed from it (the
//! extractor refuses the mask, or a value is not finite), is a *fallback* case: the automated
//! pipeline produced no measurement, so the model is not asked; the case keeps its place in
//! the evaluation (paired comparisons stay on the same cases) with the class frequencies of
//! the cell's training cases as its probabilities, the no-information prediction. Fallback
//! cases are stored with the cell and listed in the report.

use super::RunnerError;
use super::cache::CellResult;
use super::channel_features::{ChannelFamilies, channel_families};
use super::plan::Cell;
use super::segmentation::SegmenterRun;
use crate::Error;
use crate::data::image::Mask;
use crate::features::{self, FeatureFamily, FeatureSettings};
use crate::models::{CaseImages, Fitted, PredictData};
use crate::report::auto_mask::{AutoMaskResult, FALLBACK_PREDICTION, FallbackRow};
use crate::spec::Experiment;
use ndarray::Array2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// A test case that the model did not score because its predicted mask gave no features.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FallbackCase {
    /// Case id.
    pub case: String,
    /// Why: `empty predicted mask`, or the extractor's message.
    pub reason: String,
}

/// The feature classes the experiment extracts: primary image first, then each channel.
pub(super) struct Extraction {
    settings: FeatureSettings,
    families: Vec<&'static dyn FeatureFamily>,
    channels: ChannelFamilies,
}

impl Extraction {
    /// The experiment's extraction, as [`super::features::extract_features`] runs it.
    pub(super) fn of(exp: &Experiment) -> Result<Extraction, Error> {
        Ok(Extraction {
            settings: exp.feature_settings(),
            families: super::features::experiment_families(exp)?,
            channels: channel_families(exp)?,
        })
    }

    /// The feature row of `case` inside `predicted` (label 1 = structure, on the case's image
    /// grid), columns named `names`; `Ok(Err(reason))` when the mask yields no usable row.
    pub(super) fn row(
        &self,
        case: &CaseImages,
        predicted: &Mask,
        names: &[String],
    ) -> Result<Result<Vec<f64>, String>, Error> {
        if predicted.grid.dims != case.image.grid.dims {
            return Err(RunnerError::PredictedMask {
                case: case.case_id.clone(),
                message: format!(
                    "predicted mask of {:?} voxels, image of {:?}",
                    predicted.grid.dims, case.image.grid.dims
                ),
            }
            .into());
        }
        if predicted.voxels.iter().all(|&v| v == 0) {
            return Ok(Err("empty predicted mask".into()));
        }
        // The prediction is on the image's grid by construction; take the image's geometry so
        // that a NIfTI round trip of the spacing cannot move a shape feature.
        let label = self.settings.label;
        let mask = Mask {
            grid: case.image.grid.clone(),
            voxels: predicted
                .voxels
                .iter()
                .map(|&v| if v != 0 { label } else { 0 })
                .collect(),
        };
        let mut row = match features::extract(&case.image, &mask, &self.settings, &self.families) {
            Ok(row) => row,
            Err(e) => return Ok(Err(format!("no features from the predicted mask: {e}"))),
        };
        for (channel, families) in &self.channels {
            let Some(pixels) = case.channels.get(channel) else {
                return Err(RunnerError::PredictedMask {
                    case: case.case_id.clone(),
                    message: format!("no channel {channel:?} loaded"),
                }
                .into());
            };
            match features::extract(pixels, &mask, &self.settings, families) {
                Ok(values) => row.extend(
                    values
                        .into_iter()
                        .map(|(name, value)| (format!("{channel}_{name}"), value)),
                ),
                Err(e) => {
                    return Ok(Err(format!(
                        "no channel {channel} features from the predicted mask: {e}"
                    )));
                }
            }
        }
        if row.len() != names.len() || row.iter().zip(names).any(|((n, _), m)| n != m) {
            return Err(RunnerError::PredictedMask {
                case: case.case_id.clone(),
                message: "the features of the predicted mask are not the columns of the \
                          reference-mask table"
                    .into(),
            }
            .into());
        }
        if let Some((name, _)) = row.iter().find(|(_, v)| !v.is_finite()) {
            return Ok(Err(format!(
                "feature {name} is not finite on the predicted mask"
            )));
        }
        Ok(Ok(row.into_iter().map(|(_, v)| v).collect()))
    }
}

/// Test-case probabilities of a `mask = "predicted:<segmenter>"` cell and its fallback cases.
/// `test` are the cell's test rows (cohort order), `train_labels` its training classes.
#[allow(clippy::too_many_arguments)]
pub(super) fn predict_test(
    exp: &Experiment,
    segmenter: &str,
    runs: &[SegmenterRun],
    cell: &Cell,
    test: &[usize],
    images: &[CaseImages],
    names: &[String],
    fitted: &dyn Fitted,
    train_labels: &[usize],
    n_classes: usize,
) -> Result<(Array2<f64>, Vec<FallbackCase>), Error> {
    let fail = |message: String| RunnerError::PredictedMask {
        case: format!("(cell {})", cell.key()),
        message,
    };
    let run = runs
        .iter()
        .find(|r| r.id == segmenter)
        .ok_or_else(|| fail(format!("segmenter {segmenter:?} was not run")))?;
    if images.is_empty() {
        return Err(fail("the images were not loaded".into()).into());
    }
    let extraction = Extraction::of(exp)?;
    let rows: Vec<Result<Vec<f64>, String>> = test
        .par_iter()
        .map(|&i| {
            let case = &images[i];
            let path = run.predicted_mask_path(cell.repeat, cell.fold, &case.case_id);
            let predicted =
                crate::data::nifti::read_mask(&path).map_err(|source| RunnerError::Case {
                    case: case.case_id.clone(),
                    source,
                })?;
            extraction.row(case, &predicted, names)
        })
        .collect::<Result<_, Error>>()?;
    let measured: Vec<usize> = (0..rows.len()).filter(|&r| rows[r].is_ok()).collect();
    let mut probabilities = Array2::zeros((test.len(), n_classes));
    let prior = class_frequencies(train_labels, n_classes);
    let mut fallback = Vec::new();
    for (r, row) in rows.iter().enumerate() {
        if let Err(reason) = row {
            probabilities
                .row_mut(r)
                .assign(&ndarray::ArrayView1::from(&prior));
            fallback.push(FallbackCase {
                case: images[test[r]].case_id.clone(),
                reason: reason.clone(),
            });
        }
    }
    if !measured.is_empty() {
        let mut x = Array2::zeros((measured.len(), names.len()));
        for (m, &r) in measured.iter().enumerate() {
            if let Ok(values) = &rows[r] {
                x.row_mut(m).assign(&ndarray::ArrayView1::from(values));
            }
        }
        let p = fitted
            .predict_proba(&PredictData {
                features: x.view(),
                feature_names: names,
                images: &[],
            })
            .map_err(|source| RunnerError::Cell {
                cell: cell.key(),
                source,
            })?;
        for (m, &r) in measured.iter().enumerate() {
            probabilities.row_mut(r).assign(&p.row(m));
        }
    }
    Ok((probabilities, fallback))
}

/// The report section of the models on predicted masks: their repeat-0 cells' fallback cases
/// in cohort order (`case_ids`); `None` when no model reads predicted masks.
pub(super) fn summary(
    exp: &Experiment,
    cells: &[Cell],
    results: &[Option<(CellResult, bool)>],
    case_ids: &[String],
) -> Option<Vec<AutoMaskResult>> {
    let out: Vec<AutoMaskResult> = exp
        .models
        .iter()
        .enumerate()
        .filter_map(|(m, entry)| {
            let segmenter = entry.mask.segmenter()?;
            let mut test_cases = 0;
            let mut fallback = Vec::new();
            for (cell, result) in cells.iter().zip(results) {
                if cell.model_index != m || cell.repeat != 0 {
                    continue;
                }
                let Some((r, _)) = result else { continue };
                test_cases += r.case_ids.len();
                fallback.extend(r.mask_fallback.iter().map(|f| FallbackRow {
                    case: f.case.clone(),
                    fold: cell.fold,
                    reason: f.reason.clone(),
                }));
            }
            let position = |case: &str| case_ids.iter().position(|c| c == case);
            fallback.sort_by_key(|f| position(&f.case));
            Some(AutoMaskResult {
                model: entry.id.clone(),
                segmenter: segmenter.to_string(),
                training_masks: "reference".into(),
                test_cases,
                fallback_prediction: FALLBACK_PREDICTION.into(),
                fallback,
            })
        })
        .collect();
    (!out.is_empty()).then_some(out)
}

/// The share of each class among `labels` (the no-information prediction).
pub(super) fn class_frequencies(labels: &[usize], n_classes: usize) -> Vec<f64> {
    let mut counts = vec![0.0; n_classes];
    for &y in labels {
        if let Some(c) = counts.get_mut(y) {
            *c += 1.0;
        }
    }
    let n = labels.len().max(1) as f64;
    counts.into_iter().map(|c| c / n).collect()
}

#[cfg(test)]
#[path = "auto_mask_tests.rs"]
mod tests;
