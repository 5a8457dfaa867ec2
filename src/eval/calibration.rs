//! Calibration of predicted probabilities.
//!
//! Principal items: [`brier_score`], [`scaled_brier_score`], [`calibration_intercept_slope`] →
//! [`CalibrationFit`] (logistic recalibration, Cox 1958; Van Calster et al. 2016/2019's
//! "weak calibration"), [`reliability_bins`] → [`ReliabilityBin`] (scikit-learn's
//! `calibration_curve`, strategy "uniform" = equal width or "quantile" = equal count) and
//! [`expected_calibration_error`] (Naeini et al. 2015, over the same bins).

use super::bootstrap::quantile_type7;
use super::{EvalError, check_binary};

/// Probabilities exactly 0 or 1 are moved this far inside (0, 1) before taking the logit.
pub const LOGIT_CLIP: f64 = 1e-15;

fn check_probabilities(probs: &[f64], outcomes: &[bool]) -> Result<(), EvalError> {
    check_binary(probs, outcomes)?;
    match probs.iter().position(|p| !(0.0..=1.0).contains(p)) {
        Some(index) => Err(EvalError::NotAProbability {
            index,
            value: probs[index],
        }),
        None => Ok(()),
    }
}

/// Mean squared difference between probability and outcome (0/1).
pub fn brier_score(probs: &[f64], outcomes: &[bool]) -> Result<f64, EvalError> {
    check_probabilities(probs, outcomes)?;
    let sum: f64 = probs
        .iter()
        .zip(outcomes)
        .map(|(&p, &y)| (p - f64::from(u8::from(y))).powi(2))
        .sum();
    Ok(sum / probs.len() as f64)
}

/// 1 − Brier / Brier of predicting the prevalence for everyone (= prevalence·(1 − prevalence)).
pub fn scaled_brier_score(probs: &[f64], outcomes: &[bool]) -> Result<f64, EvalError> {
    let brier = brier_score(probs, outcomes)?;
    let prevalence = outcomes.iter().filter(|&&y| y).count() as f64 / outcomes.len() as f64;
    Ok(1.0 - brier / (prevalence * (1.0 - prevalence)))
}

/// Logistic recalibration of predicted probabilities.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct CalibrationFit {
    /// Calibration-in-the-large: `a` in logit P(y) = a + logit(p) (slope fixed at 1). 0 is
    /// ideal; positive means the predictions are too low on average.
    pub intercept: f64,
    /// Calibration slope: `b` in logit P(y) = a' + b·logit(p). 1 is ideal; below 1 means the
    /// predictions are too extreme (overfitting).
    pub slope: f64,
    /// The intercept `a'` fitted together with the slope.
    pub slope_model_intercept: f64,
}

fn logit(p: f64) -> f64 {
    let p = p.clamp(LOGIT_CLIP, 1.0 - LOGIT_CLIP);
    (p / (1.0 - p)).ln()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Fits logit P(y) = a + b·x + offset by Newton–Raphson; `fit_slope = false` fixes b = 0.
fn newton_logistic(
    x: &[f64],
    offset: &[f64],
    y: &[bool],
    fit_slope: bool,
) -> Result<(f64, f64), EvalError> {
    let (mut a, mut b) = (0.0_f64, 0.0_f64);
    for _ in 0..100 {
        // Gradient g and Hessian h of the log-likelihood.
        let (mut g0, mut g1, mut h00, mut h01, mut h11) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for ((&xi, &oi), &yi) in x.iter().zip(offset).zip(y) {
            let p = sigmoid(a + b * xi + oi);
            let r = f64::from(u8::from(yi)) - p;
            let w = p * (1.0 - p);
            g0 += r;
            g1 += r * xi;
            h00 += w;
            h01 += w * xi;
            h11 += w * xi * xi;
        }
        let (da, db) = if fit_slope {
            let det = h00 * h11 - h01 * h01;
            ((h11 * g0 - h01 * g1) / det, (h00 * g1 - h01 * g0) / det)
        } else {
            (g0 / h00, 0.0)
        };
        if !da.is_finite() || !db.is_finite() {
            break;
        }
        a += da;
        b += db;
        if da.abs() < 1e-12 * (1.0 + a.abs()) && db.abs() < 1e-12 * (1.0 + b.abs()) {
            return Ok((a, b));
        }
    }
    Err(EvalError::NoConvergence {
        what: "logistic recalibration (are the outcomes separated by the score?)",
    })
}

/// Calibration intercept (slope fixed at 1) and calibration slope by logistic regression of
/// the outcome on logit(p). Probabilities of exactly 0 or 1 are clipped by [`LOGIT_CLIP`].
pub fn calibration_intercept_slope(
    probs: &[f64],
    outcomes: &[bool],
) -> Result<CalibrationFit, EvalError> {
    check_probabilities(probs, outcomes)?;
    let lp: Vec<f64> = probs.iter().map(|&p| logit(p)).collect();
    let zeros = vec![0.0; lp.len()];
    let (intercept, _) = newton_logistic(&zeros, &lp, outcomes, false)?;
    let (slope_model_intercept, slope) = newton_logistic(&lp, &zeros, outcomes, true)?;
    Ok(CalibrationFit {
        intercept,
        slope,
        slope_model_intercept,
    })
}

/// How reliability bins are formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Binning {
    /// Equal-width bins on [0, 1] (scikit-learn "uniform").
    EqualWidth,
    /// Bins with edges at the quantiles of the probabilities (scikit-learn "quantile").
    EqualCount,
}

/// One bin of a reliability diagram.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ReliabilityBin {
    /// Lower edge.
    pub lower: f64,
    /// Upper edge.
    pub upper: f64,
    /// Observations in the bin.
    pub count: usize,
    /// Mean predicted probability in the bin.
    pub mean_predicted: f64,
    /// Fraction of the bin's observations with the outcome.
    pub observed_fraction: f64,
}

/// Reliability bins as scikit-learn's `calibration_curve(y, p, n_bins, strategy)`: a
/// probability p goes to the first bin whose upper edge is ≥ p (inner edges only), and empty
/// bins are left out.
pub fn reliability_bins(
    probs: &[f64],
    outcomes: &[bool],
    n_bins: usize,
    binning: Binning,
) -> Result<Vec<ReliabilityBin>, EvalError> {
    check_probabilities(probs, outcomes)?;
    if n_bins == 0 {
        return Err(EvalError::InvalidBins { n_bins });
    }
    let edges: Vec<f64> = match binning {
        Binning::EqualWidth => (0..=n_bins).map(|k| k as f64 / n_bins as f64).collect(),
        Binning::EqualCount => {
            let mut sorted = probs.to_vec();
            sorted.sort_unstable_by(f64::total_cmp);
            (0..=n_bins)
                .map(|k| quantile_type7(&sorted, k as f64 / n_bins as f64))
                .collect()
        }
    };
    let inner = &edges[1..n_bins];
    let (mut count, mut sum_p, mut sum_y) =
        (vec![0_usize; n_bins], vec![0.0; n_bins], vec![0.0; n_bins]);
    for (&p, &y) in probs.iter().zip(outcomes) {
        let bin = inner.partition_point(|&e| e < p);
        count[bin] += 1;
        sum_p[bin] += p;
        sum_y[bin] += f64::from(u8::from(y));
    }
    Ok((0..n_bins)
        .filter(|&k| count[k] > 0)
        .map(|k| ReliabilityBin {
            lower: edges[k],
            upper: edges[k + 1],
            count: count[k],
            mean_predicted: sum_p[k] / count[k] as f64,
            observed_fraction: sum_y[k] / count[k] as f64,
        })
        .collect())
}

/// Expected calibration error: Σ (n_bin / N)·|mean predicted − observed fraction|.
pub fn expected_calibration_error(bins: &[ReliabilityBin]) -> f64 {
    let total: usize = bins.iter().map(|b| b.count).sum();
    bins.iter()
        .map(|b| b.count as f64 / total as f64 * (b.mean_predicted - b.observed_fraction).abs())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic data set (no ties at bin edges).
    fn anchor_data() -> (Vec<f64>, Vec<bool>) {
        let p: Vec<f64> = (0..40)
            .map(|i| ((i * 29) % 41) as f64 / 41.0 + 0.01)
            .collect();
        let y: Vec<bool> = (0..40)
            .map(|i| (i * 29 % 41) as f64 / 41.0 > ((i * 13) % 17) as f64 / 17.0 * 0.9)
            .collect();
        (p, y)
    }

    #[test]
    fn perfectly_calibrated_logistic_data_fit_near_zero_and_one() {
        // Outcomes drawn so that P(y) = p exactly in each stratum (p = k/10, counts exact).
        let (mut p, mut y) = (Vec::new(), Vec::new());
        for k in 1..10 {
            for j in 0..10 {
                p.push(k as f64 / 10.0);
                y.push(j < k);
            }
        }
        let fit = calibration_intercept_slope(&p, &y).expect("fit");
        assert!(fit.intercept.abs() < 1e-9, "{fit:?}");
        assert!(
            (fit.slope - 1.0).abs() < 1e-9 && fit.slope_model_intercept.abs() < 1e-9,
            "{fit:?}"
        );
        let bins = reliability_bins(&p, &y, 10, Binning::EqualWidth).expect("bins");
        assert!(expected_calibration_error(&bins) < 1e-12);
    }

    #[test]
    fn brier_and_bins_by_hand() {
        let (p, y) = anchor_data();
        let b = brier_score(&p, &y).expect("brier");
        let direct = p
            .iter()
            .zip(&y)
            .map(|(p, &y)| (p - if y { 1.0 } else { 0.0 }).powi(2))
            .sum::<f64>()
            / 40.0;
        assert_eq!(b, direct);
        let bins = reliability_bins(&p, &y, 4, Binning::EqualCount).expect("bins");
        assert_eq!(bins.iter().map(|b| b.count).sum::<usize>(), 40);
        assert!(reliability_bins(&[0.5, 1.2], &[true, false], 4, Binning::EqualWidth).is_err());
    }
}
