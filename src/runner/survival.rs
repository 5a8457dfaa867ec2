//! The `[survival]` analysis: the test cases of repeat 0 split into low and high volume at the
//! median volume of each part's training cases, Kaplan–Meier curves with medians, and the
//! log-rank test (src/eval/survival).

use super::RunnerError;
use super::segmentation::{SegmenterRun, median};
use crate::Error;
use crate::data::manifest::CaseEntry;
use crate::data::split::Folds;
use crate::eval::survival::{groups_by_threshold, kaplan_meier, logrank_test};
use crate::models::CaseImages;
use crate::report::studies::{HIGH, LOW, SurvivalGroup, SurvivalResult};
use crate::spec::survival::{SurvivalGrouping, SurvivalSpec};

/// Volume of a mask's non-zero voxels in mL.
pub fn mask_ml(mask: &crate::data::image::Mask) -> f64 {
    mask.voxels.iter().filter(|&&v| v != 0).count() as f64 * mask.grid.voxel_volume_mm3() / 1000.0
}

/// Each test case's volume and its part's threshold (repeat 0): `(row, volume, threshold)`.
fn volumes(
    spec: &SurvivalSpec,
    folds: &Folds,
    runs: &[SegmenterRun],
    images: &[CaseImages],
) -> Result<Vec<(usize, f64, f64)>, RunnerError> {
    let mut out = Vec::new();
    for fold in 0..folds.k() {
        let test = folds.test_indices(fold);
        match &spec.group_by {
            SurvivalGrouping::PredictedVolume(id) => {
                let run = runs
                    .iter()
                    .find(|r| &r.id == id)
                    .ok_or_else(|| RunnerError::Survival(format!("no segmenter {id:?} was run")))?;
                let cell = &run.results[0][fold];
                for (&row, q) in test.iter().zip(&cell.cases) {
                    out.push((row, q.predicted_ml, cell.train_median_ml));
                }
            }
            SurvivalGrouping::ReferenceVolume => {
                if images.is_empty() {
                    return Err(RunnerError::Survival(
                        "reference volumes need the masks, which were not loaded".into(),
                    ));
                }
                let train: Vec<f64> = folds
                    .train_indices(fold)
                    .iter()
                    .map(|&i| mask_ml(&images[i].mask))
                    .collect();
                let threshold = median(&train);
                for &row in test {
                    out.push((row, mask_ml(&images[row].mask), threshold));
                }
            }
        }
    }
    out.sort_by_key(|(row, _, _)| *row);
    Ok(out)
}

/// Survival of the test cases (repeat 0) by low vs high volume.
pub fn survival_result(
    spec: &SurvivalSpec,
    cases: &[CaseEntry],
    folds: &[Folds],
    runs: &[SegmenterRun],
    images: &[CaseImages],
    level: f64,
) -> Result<SurvivalResult, Error> {
    let eval_error = |source| RunnerError::Eval {
        model: "survival".into(),
        source,
    };
    let rows = volumes(spec, &folds[0], runs, images)?;
    let mut times = Vec::with_capacity(rows.len());
    let mut events = Vec::with_capacity(rows.len());
    for &(row, _, _) in &rows {
        let case = &cases[row];
        match (case.time, case.event) {
            (Some(t), Some(e)) => {
                times.push(t);
                events.push(e);
            }
            _ => {
                return Err(RunnerError::Survival(format!(
                    "case {}: no `time` / `event` in the manifest",
                    case.id
                ))
                .into());
            }
        }
    }
    // Each case is compared with its own part's threshold: volume − threshold > 0 ⇔ high.
    let above: Vec<f64> = rows.iter().map(|(_, v, t)| v - t).collect();
    let groups = groups_by_threshold(&above, 0.0).map_err(eval_error)?;
    let both = groups.contains(&0) && groups.contains(&1);
    let logrank = if both {
        Some(logrank_test(&times, &events, &groups).map_err(eval_error)?)
    } else {
        None
    };
    let mut out_groups = Vec::with_capacity(2);
    for (g, name) in [LOW, HIGH].into_iter().enumerate() {
        if !groups.contains(&g) {
            continue;
        }
        let t: Vec<f64> = (0..rows.len())
            .filter(|&i| groups[i] == g)
            .map(|i| times[i])
            .collect();
        let e: Vec<bool> = (0..rows.len())
            .filter(|&i| groups[i] == g)
            .map(|i| events[i])
            .collect();
        let km = kaplan_meier(&t, &e, level).map_err(eval_error)?;
        out_groups.push(SurvivalGroup {
            name: name.into(),
            n: t.len(),
            events: e.iter().filter(|&&x| x).count(),
            median: km.median(),
            km,
        });
    }
    let mut thresholds: Vec<f64> = Vec::new();
    for fold in 0..folds[0].k() {
        if let Some(&(_, _, t)) = rows
            .iter()
            .find(|(row, _, _)| folds[0].test_indices(fold).contains(row))
        {
            thresholds.push(t);
        }
    }
    Ok(SurvivalResult {
        group_by: match &spec.group_by {
            SurvivalGrouping::PredictedVolume(id) => format!("predicted-volume:{id}"),
            SurvivalGrouping::ReferenceVolume => "reference-volume".into(),
        },
        time_unit: spec.time_unit.clone(),
        fold_thresholds_ml: thresholds,
        groups: out_groups,
        logrank,
        ci_level: level,
    })
}
