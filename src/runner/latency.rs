//! Per-model inference latency for `run.json`: after fitting the first cell of a model
//! (repeat 0, fold 0), each of its test cases is predicted alone (batch 1) and timed.
//!
//! Timings vary by machine and load, so they are written to `run.json` only, never into the
//! byte-reproducible report; the predictions made while timing are discarded.

use crate::features::FeatureTable;
use crate::models::{CaseImages, Fitted, PredictData};
use ndarray::Axis;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

/// Latency of one model's per-case prediction.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Median seconds per case.
    pub p50_seconds: f64,
    /// 95th percentile (nearest rank) seconds per case.
    pub p95_seconds: f64,
    /// Number of cases timed.
    pub cases: usize,
    /// Worker threads of the run while timing (other cells may run at the same time).
    pub threads: usize,
}

/// Latencies collected by the cells that measure them, keyed by model index.
#[derive(Debug, Default)]
pub struct LatencyLog(Mutex<BTreeMap<usize, Latency>>);

impl LatencyLog {
    /// Records model `model`'s latency.
    pub fn record(&self, model: usize, latency: Latency) {
        if let Ok(mut map) = self.0.lock() {
            map.insert(model, latency);
        }
    }

    /// The latencies, by model index.
    pub fn into_map(self) -> BTreeMap<usize, Latency> {
        self.0.into_inner().unwrap_or_default()
    }
}

/// The nearest-rank `p`-quantile of ascending `sorted` values.
fn nearest_rank(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Times `fitted.predict_proba` on each of the `rows` (table rows) alone; `images[i]` are the
/// images of table row `rows[i]` (empty for a model without images).
pub fn measure(
    fitted: &dyn Fitted,
    table: &FeatureTable,
    rows: &[usize],
    images: &[&CaseImages],
) -> Option<Latency> {
    let mut seconds = Vec::with_capacity(rows.len());
    for (i, &row) in rows.iter().enumerate() {
        let x = table.values.select(Axis(0), &[row]);
        let one: Vec<&CaseImages> = images.get(i).map(|c| vec![*c]).unwrap_or_default();
        let started = Instant::now();
        let predicted = fitted.predict_proba(&PredictData {
            features: x.view(),
            feature_names: &table.names,
            images: &one,
        });
        seconds.push(started.elapsed().as_secs_f64());
        predicted.ok()?;
    }
    seconds.sort_unstable_by(f64::total_cmp);
    Some(Latency {
        p50_seconds: nearest_rank(&seconds, 0.5),
        p95_seconds: nearest_rank(&seconds, 0.95),
        cases: seconds.len(),
        threads: rayon::current_num_threads(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(nearest_rank(&v, 0.5), 10.0);
        assert_eq!(nearest_rank(&v, 0.95), 19.0);
        assert_eq!(nearest_rank(&[3.0], 0.95), 3.0);
        assert!(nearest_rank(&[], 0.5).is_nan());
    }
}
