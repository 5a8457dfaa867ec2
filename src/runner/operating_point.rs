//! `[operating_point]` evaluation: each model's binary reading of the test cases of repeat 0
//! at its training folds' thresholds, and the simulated reader on the same cases.

use super::RunnerError;
use crate::Error;
use crate::data::split::Folds;
use crate::eval::roc::Direction;
use crate::eval::threshold::{ProportionInterval, ThresholdMetrics, threshold_metrics};
use crate::report::PredictionRow;
use crate::report::operating_point::{OperatingPointResult, OperatingPointRow};
use crate::spec::Experiment;
use crate::spec::operating_point::{OperatingPointSpec, ReaderModel};
use rand::RngExt;

/// Metrics of binary calls (`score − threshold ≥ 0` ⇔ positive) against truth.
fn metrics(shifted: &[f64], truth: &[bool], level: f64) -> Result<ThresholdMetrics, Error> {
    threshold_metrics(
        shifted,
        truth,
        0.0,
        Direction::CasesHigher,
        level,
        ProportionInterval::Wilson,
    )
    .map_err(|source| {
        RunnerError::Eval {
            model: "operating point".into(),
            source,
        }
        .into()
    })
}

/// The reader's call on one case: positive with probability `sensitivity` when truly positive,
/// with probability 1 − `specificity` when truly negative.
pub fn reader_call(reader: &ReaderModel, seed: u64, case: &str, positive: bool) -> bool {
    let u: f64 = crate::seed::rng_for(seed, &["reader", case]).random();
    if positive {
        u < reader.sensitivity
    } else {
        u >= reader.specificity
    }
}

/// Overall and per-part metrics of `(fold, shifted score, truth)` triples.
fn row(
    who: &str,
    kind: &str,
    calls: &[(usize, f64, bool)],
    parts: usize,
    level: f64,
) -> Result<OperatingPointRow, Error> {
    let split = |keep: &dyn Fn(usize) -> bool| {
        let picked: Vec<&(usize, f64, bool)> = calls.iter().filter(|c| keep(c.0)).collect();
        (
            picked.iter().map(|c| c.1).collect::<Vec<f64>>(),
            picked.iter().map(|c| c.2).collect::<Vec<bool>>(),
        )
    };
    let (s, t) = split(&|_| true);
    let overall = metrics(&s, &t, level)?;
    let per_part = (0..parts)
        .map(|f| {
            let (s, t) = split(&|g| g == f);
            metrics(&s, &t, level)
        })
        .collect::<Result<_, _>>()?;
    Ok(OperatingPointRow {
        who: who.into(),
        kind: kind.into(),
        overall,
        per_part,
    })
}

/// The operating-point section from the prediction rows of repeat 0.
pub fn operating_points(
    spec: &OperatingPointSpec,
    exp: &Experiment,
    rows: &[PredictionRow],
    folds: &[Folds],
) -> Result<OperatingPointResult, Error> {
    let level = exp.ci_level;
    let parts = folds[0].k();
    let mut out = Vec::new();
    for m in &exp.models {
        let calls: Vec<(usize, f64, bool)> = rows
            .iter()
            .filter(|r| r.repeat == 0 && r.model == m.id)
            .map(|r| {
                let score: f64 = spec.positive.iter().map(|&c| r.probabilities[c]).sum();
                // A fold whose training data gave no threshold falls back to 0.5.
                let t = r.threshold.unwrap_or(0.5);
                (r.fold, score - t, spec.positive.contains(&r.label))
            })
            .collect();
        out.push(row(&m.id, "model", &calls, parts, level)?);
    }
    if let Some(reader) = &spec.reader
        && let Some(first) = exp.models.first()
    {
        let calls: Vec<(usize, f64, bool)> = rows
            .iter()
            .filter(|r| r.repeat == 0 && r.model == first.id)
            .map(|r| {
                let truth = spec.positive.contains(&r.label);
                let called = reader_call(reader, exp.seed, &r.case_id, truth);
                (r.fold, if called { 1.0 } else { -1.0 }, truth)
            })
            .collect();
        out.push(row(&reader.name, "simulated reader", &calls, parts, level)?);
    }
    Ok(OperatingPointResult {
        name: spec.name.clone(),
        positive_classes: spec
            .positive
            .iter()
            .map(|&c| exp.classes[c].clone())
            .collect(),
        reader_model: spec.reader.as_ref().map(|r| [r.sensitivity, r.specificity]),
        rows: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_hits_its_stated_accuracy() {
        let reader = ReaderModel {
            name: "r".into(),
            sensitivity: 0.9,
            specificity: 0.7,
        };
        let n = 4000;
        let tp = (0..n)
            .filter(|i| reader_call(&reader, 1, &format!("p{i}"), true))
            .count();
        let tn = (0..n)
            .filter(|i| !reader_call(&reader, 1, &format!("n{i}"), false))
            .count();
        // Binomial SD ≈ 0.005 and 0.007: 4 SD bounds.
        assert!((tp as f64 / n as f64 - 0.9).abs() < 0.02, "{tp}");
        assert!((tn as f64 / n as f64 - 0.7).abs() < 0.03, "{tn}");
        assert_eq!(
            reader_call(&reader, 1, "x", true),
            reader_call(&reader, 1, "x", true)
        );
    }
}
