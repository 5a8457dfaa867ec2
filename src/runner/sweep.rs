//! The seed sweep: the experiment run once per seed of `[experiment] seeds`, each seed with its
//! own split and cell streams, summarised per model and metric (mean, SD, min, max) beside the
//! byte-reproducible single-seed result of `seed`.

use super::cache::CellResult;
use super::evaluate::discrimination;
use super::prepare::Prepared;
use crate::eval::threshold::average_precision;
use crate::report::{SeedRun, SeedSweep, SweepSummary};
use std::collections::BTreeMap;

/// The sweep's table, or `None` when the experiment lists no `seeds`. `results` are aligned
/// with `prepared.cells`; cells missing from a partial merge leave their cases out.
pub fn seed_sweep(
    prepared: &Prepared,
    results: &[Option<(CellResult, bool)>],
) -> Option<SeedSweep> {
    let exp = &prepared.exp;
    if exp.seeds.is_empty() {
        return None;
    }
    let index_of: BTreeMap<&str, usize> = prepared
        .cohort
        .cases()
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.as_str(), i))
        .collect();
    let n = index_of.len();
    let k = exp.classes.len();
    let mut runs = Vec::new();
    for &seed in &exp.seeds {
        for (m, entry) in exp.models.iter().enumerate() {
            // Repeat 0's pooled out-of-fold predictions of this model under this seed.
            let mut probs: Vec<Option<(&[f64], Option<f64>)>> = vec![None; n];
            for (cell, result) in prepared.cells.iter().zip(results) {
                let Some((r, _)) = result else { continue };
                if cell.model_index != m || cell.repeat != 0 || cell.seed(exp.seed) != seed {
                    continue;
                }
                for (id, p) in r.case_ids.iter().zip(&r.probabilities) {
                    if let Some(&i) = index_of.get(id.as_str()) {
                        probs[i] = Some((p.as_slice(), r.threshold));
                    }
                }
            }
            let kept: Vec<usize> = (0..n).filter(|&i| probs[i].is_some()).collect();
            let rows: Vec<(&[f64], Option<f64>)> = kept.iter().filter_map(|&i| probs[i]).collect();
            let labels: Vec<usize> = kept.iter().map(|&i| prepared.labels[i]).collect();
            let p: Vec<&[f64]> = rows.iter().map(|(p, _)| *p).collect();
            let auc = discrimination(&p, &labels, k);
            let (average_precision, accuracy) = if k == 2 {
                let scores: Vec<f64> = p.iter().map(|p| p[1]).collect();
                let positive: Vec<bool> = labels.iter().map(|&y| y == 1).collect();
                let correct = rows
                    .iter()
                    .zip(&positive)
                    .filter(|&(&(p, t), &y)| (p[1] - t.unwrap_or(0.5) >= 0.0) == y)
                    .count();
                (
                    average_precision(&scores, &positive).ok(),
                    fraction(correct, rows.len()),
                )
            } else {
                let correct = p
                    .iter()
                    .zip(&labels)
                    .filter(|(p, y)| argmax(p) == **y)
                    .count();
                (None, fraction(correct, p.len()))
            };
            runs.push(SeedRun {
                seed,
                model: entry.id.clone(),
                auc,
                average_precision,
                accuracy,
            });
        }
    }
    let mut summary = Vec::new();
    for entry in &exp.models {
        let mine: Vec<&SeedRun> = runs.iter().filter(|r| r.model == entry.id).collect();
        let metrics: [(&str, MetricOf); 3] = [
            ("auc", |r| r.auc),
            ("average_precision", |r| r.average_precision),
            ("accuracy", |r| r.accuracy),
        ];
        for (metric, get) in metrics {
            let values: Vec<f64> = mine
                .iter()
                .filter_map(|r| get(r))
                .filter(|v| v.is_finite())
                .collect();
            if let Some(s) = spread(&entry.id, metric, &values) {
                summary.push(s);
            }
        }
    }
    Some(SeedSweep {
        seeds: exp.seeds.clone(),
        runs,
        summary,
    })
}

/// Reads one metric of a seed run.
type MetricOf = fn(&SeedRun) -> Option<f64>;

fn fraction(num: usize, den: usize) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

/// Index of the largest value (the lowest index wins a tie, as the confusion matrix).
fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

/// Mean, sample SD, min and max of `values` (none when empty).
fn spread(model: &str, metric: &str, values: &[f64]) -> Option<SweepSummary> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let sd = if values.len() > 1 {
        (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        f64::NAN
    };
    Some(SweepSummary {
        model: model.to_string(),
        metric: metric.to_string(),
        n: values.len(),
        mean,
        sd,
        min: values.iter().copied().fold(f64::INFINITY, f64::min),
        max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_of_known_values() {
        let s = spread("m", "auc", &[0.7, 0.8, 0.9]).unwrap();
        assert!((s.mean - 0.8).abs() < 1e-12);
        assert!((s.sd - 0.1).abs() < 1e-12);
        assert_eq!((s.min, s.max, s.n), (0.7, 0.9, 3));
        assert!(spread("m", "auc", &[0.5]).unwrap().sd.is_nan());
        assert!(spread("m", "auc", &[]).is_none());
    }
}
