//! Confidence intervals and tests for a performance mean over repeated train/test splits.
//!
//! Principal items: [`corrected_resampled_t`] → [`CorrectedTTest`]. Reference: Nadeau & Bengio
//! (2003), Machine Learning 52:239, the corrected resampled t-test: the variance of the mean
//! over J overlapping splits is inflated from σ²/J to (1/J + n_test/n_train)·σ², because the
//! training sets share observations. WORC reports its metric CIs this way
//! (`WORC.statistics.compute_CI.compute_confidence`).

use super::{EvalError, check_level};

/// The corrected resampled t statistic and CI for the mean of per-split values.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct CorrectedTTest {
    /// Mean over the splits.
    pub mean: f64,
    /// Sample variance of the per-split values (J − 1 denominator).
    pub variance: f64,
    /// (1/J + n_test/n_train)·variance.
    pub corrected_variance: f64,
    /// (mean − null) / sqrt(corrected variance).
    pub t: f64,
    /// J − 1.
    pub df: f64,
    /// Two-sided p-value from Student's t.
    pub p: f64,
    /// mean ∓ t_{df, (1+level)/2}·sqrt(corrected variance).
    pub ci: [f64; 2],
}

/// Corrected resampled t-test of per-split `values` (a metric, or a difference of two models'
/// metrics on the same splits) against `null`, with `n_train`/`n_test` cases per split.
pub fn corrected_resampled_t(
    values: &[f64],
    n_train: usize,
    n_test: usize,
    null: f64,
    level: f64,
) -> Result<CorrectedTTest, EvalError> {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    check_level(level)?;
    if let Some(index) = values.iter().position(|v| !v.is_finite()) {
        return Err(EvalError::NanScore { index });
    }
    let j = values.len();
    if j < 2 || n_train == 0 {
        return Err(EvalError::TooFewSplits { splits: j, n_train });
    }
    let mean = values.iter().sum::<f64>() / j as f64;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (j - 1) as f64;
    let corrected_variance = (1.0 / j as f64 + n_test as f64 / n_train as f64) * variance;
    let se = corrected_variance.sqrt();
    let df = (j - 1) as f64;
    let t_dist =
        StudentsT::new(0.0, 1.0, df).map_err(|_| EvalError::TooFewSplits { splits: j, n_train })?;
    let t = if mean == null {
        0.0
    } else {
        (mean - null) / se
    };
    let half = t_dist.inverse_cdf(1.0 - (1.0 - level) / 2.0) * se;
    Ok(CorrectedTTest {
        mean,
        variance,
        corrected_variance,
        t,
        df,
        p: 2.0 * t_dist.cdf(-t.abs()),
        ci: [mean - half, mean + half],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correction_widens_the_naive_interval() {
        let aucs = [0.81, 0.77, 0.84, 0.79, 0.80, 0.83, 0.78, 0.82, 0.76, 0.80];
        let r = corrected_resampled_t(&aucs, 80, 20, 0.5, 0.95).expect("valid");
        assert!((r.mean - 0.80).abs() < 1e-12);
        // Σ squared deviations 0.006 over 9; corrected by (1/10 + 20/80) = 0.35.
        let variance = 0.006 / 9.0;
        assert!((r.variance - variance).abs() < 1e-12);
        assert!((r.corrected_variance - 0.35 * variance).abs() < 1e-15);
        // t_{9, 0.975} = 2.2621571627409915 (R: qt(0.975, 9))
        let half = 2.262_157_162_740_991_5 * (0.35 * variance).sqrt();
        assert!((r.ci[1] - 0.80 - half).abs() < 1e-9, "{:?}", r.ci);
        assert!(r.p < 1e-6);
        assert!(corrected_resampled_t(&[0.8], 80, 20, 0.5, 0.95).is_err());
    }
}
