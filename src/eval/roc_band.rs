//! A pointwise confidence band for an ROC curve: the sensitivity at fixed false-positive rates,
//! bootstrapped with cases and controls resampled separately (stratified, as pROC's `ci.se`).
//!
//! On the step-wise empirical curve the sensitivity at false-positive rate x is the largest
//! true-positive rate among thresholds whose false-positive rate is ≤ x.

use super::EvalError;
use super::bootstrap::quantile_type7;
use super::check_binary;
use crate::seed::SeededRng;
use rand::RngExt;
use serde::Serialize;

/// Lower and upper sensitivity at each false-positive rate of a grid.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RocBand {
    /// False-positive rates (1 − specificity), ascending from 0 to 1.
    pub false_positive_rate: Vec<f64>,
    /// Lower bound of the sensitivity at each rate.
    pub lower: Vec<f64>,
    /// Upper bound of the sensitivity at each rate.
    pub upper: Vec<f64>,
    /// Confidence level.
    pub level: f64,
    /// Number of bootstrap replicates.
    pub replicates: usize,
}

/// Sensitivity of the empirical ROC curve at each false-positive rate of `grid`.
fn sensitivity_at(case_scores: &[f64], control_scores: &[f64], grid: &[f64]) -> Vec<f64> {
    let mut controls = control_scores.to_vec();
    controls.sort_unstable_by(|a, b| b.total_cmp(a));
    let n_controls = controls.len() as f64;
    let n_cases = case_scores.len() as f64;
    grid.iter()
        .map(|&x| {
            // The most controls that may be called positive: ⌊x·n⌋, and a threshold must not
            // split tied controls, so step back over a tie at the boundary.
            let allowed = ((x * n_controls) + 1e-9).floor() as usize;
            let threshold = if allowed >= controls.len() {
                f64::NEG_INFINITY
            } else {
                // Calling positive the scores strictly above controls[allowed] calls at most
                // `allowed` controls positive (ties with it stay negative).
                controls[allowed]
            };
            let called = case_scores
                .iter()
                .filter(|&&s| {
                    if threshold == f64::NEG_INFINITY {
                        true
                    } else {
                        s > threshold
                    }
                })
                .count();
            called as f64 / n_cases
        })
        .collect()
}

/// A `level` pointwise band from `replicates` stratified bootstrap resamples, drawn from `rng`,
/// on a grid of `points` false-positive rates from 0 to 1 (higher score = case).
pub fn roc_sensitivity_band(
    scores: &[f64],
    labels: &[bool],
    points: usize,
    replicates: usize,
    level: f64,
    rng: &mut SeededRng,
) -> Result<RocBand, EvalError> {
    check_binary(scores, labels)?;
    super::check_level(level)?;
    let grid: Vec<f64> = (0..points.max(2))
        .map(|i| i as f64 / (points.max(2) - 1) as f64)
        .collect();
    let cases: Vec<f64> = scores
        .iter()
        .zip(labels)
        .filter(|&(_, &y)| y)
        .map(|(&s, _)| s)
        .collect();
    let controls: Vec<f64> = scores
        .iter()
        .zip(labels)
        .filter(|&(_, &y)| !y)
        .map(|(&s, _)| s)
        .collect();
    let mut per_point: Vec<Vec<f64>> = vec![Vec::with_capacity(replicates); grid.len()];
    let (mut case_sample, mut control_sample) = (cases.clone(), controls.clone());
    for _ in 0..replicates {
        for v in case_sample.iter_mut() {
            *v = cases[rng.random_range(0..cases.len())];
        }
        for v in control_sample.iter_mut() {
            *v = controls[rng.random_range(0..controls.len())];
        }
        for (slot, se) in
            per_point
                .iter_mut()
                .zip(sensitivity_at(&case_sample, &control_sample, &grid))
        {
            slot.push(se);
        }
    }
    let alpha = (1.0 - level) / 2.0;
    let (mut lower, mut upper) = (Vec::new(), Vec::new());
    for values in &mut per_point {
        values.sort_unstable_by(f64::total_cmp);
        lower.push(quantile_type7(values, alpha));
        upper.push(quantile_type7(values, 1.0 - alpha));
    }
    Ok(RocBand {
        false_positive_rate: grid,
        lower,
        upper,
        level,
        replicates,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitivity_follows_the_step_curve() {
        // Cases 0.9, 0.6; controls 0.8, 0.3: at FPR 0 only 0.9 is above every control.
        let se = sensitivity_at(&[0.9, 0.6], &[0.8, 0.3], &[0.0, 0.5, 1.0]);
        assert_eq!(se, vec![0.5, 1.0, 1.0]);
    }

    #[test]
    fn band_brackets_the_curve_and_is_reproducible() {
        let scores: Vec<f64> = (0..60).map(|i| ((i * 37) % 60) as f64 / 60.0).collect();
        let labels: Vec<bool> = scores.iter().map(|&s| s > 0.4).collect();
        let labels: Vec<bool> = labels
            .iter()
            .enumerate()
            .map(|(i, &y)| if i % 7 == 0 { !y } else { y })
            .collect();
        let band = |seed| {
            let mut rng = crate::seed::rng_for(seed, &["band"]);
            roc_sensitivity_band(&scores, &labels, 21, 200, 0.95, &mut rng).unwrap()
        };
        let a = band(1);
        assert_eq!(a, band(1));
        assert_ne!(a, band(2));
        let cases: Vec<f64> = scores
            .iter()
            .zip(&labels)
            .filter(|p| *p.1)
            .map(|p| *p.0)
            .collect();
        let controls: Vec<f64> = scores
            .iter()
            .zip(&labels)
            .filter(|p| !*p.1)
            .map(|p| *p.0)
            .collect();
        let point = sensitivity_at(&cases, &controls, &a.false_positive_rate);
        for (i, se) in point.iter().enumerate() {
            assert!(a.lower[i] <= a.upper[i]);
            assert!(a.lower[i] <= se + 1e-12 && *se <= a.upper[i] + 1e-12, "{i}");
        }
        assert!(a.upper[5] - a.lower[5] > 0.0);
        assert!(
            roc_sensitivity_band(
                &scores,
                &labels,
                21,
                10,
                1.5,
                &mut crate::seed::rng_for(1, &[])
            )
            .is_err()
        );
    }
}
