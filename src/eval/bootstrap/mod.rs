//! Bootstrap confidence intervals, reproducible at any thread count.
//!
//! Principal items: [`bootstrap`] → [`Bootstrap`], [`BootstrapSpec`], the [`Statistic`] trait
//! and its implementations [`Aucs`], [`AucDifference`], [`SensitivitySpecificity`],
//! [`NetBenefits`], [`NetBenefitDifference`]. References: Efron & Tibshirani (1993), *An
//! Introduction to the Bootstrap* (percentile and BCa intervals, ch. 13–14); pROC's
//! `ci.auc(method = "bootstrap")` (stratified resampling: cases and controls drawn separately,
//! percentile interval with R's quantile type 7 = numpy "linear").
//!
//! A resample is a vector of multiplicities (how often each observation was drawn), so a
//! statistic is evaluated without copying or re-sorting: AUCs walk a presorted order with
//! weights in O(n). Replicate `b` draws from its own stream `seed::rng_for(seed, ["bootstrap",
//! b])`; replicates are computed by rayon in fixed chunks and gathered in replicate order, so
//! the result is bit-identical with 1 or many threads.

use rand::RngExt;
use rayon::prelude::*;

use super::{EvalError, check_level, normal_cdf};
use crate::seed::rng_for;

mod statistics;
pub use statistics::{
    AucDifference, Aucs, NetBenefitDifference, NetBenefits, SensitivitySpecificity,
};

/// Replicates per parallel work item (fixed, so the split never depends on the thread count).
const CHUNK: usize = 32;

/// How to bootstrap.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BootstrapSpec {
    /// Number of replicates (pROC's default 2000).
    pub replicates: usize,
    /// Experiment seed; replicate b uses the stream `["bootstrap", b]`.
    pub seed: u64,
    /// Resample cases and controls separately, keeping their numbers (pROC's default).
    pub stratified: bool,
    /// Confidence level of the intervals.
    pub level: f64,
}

impl Default for BootstrapSpec {
    fn default() -> Self {
        Self {
            replicates: 2000,
            seed: 0,
            stratified: true,
            level: 0.95,
        }
    }
}

/// A statistic evaluated on a weighted resample.
pub trait Statistic: Sync {
    /// Number of values the statistic returns.
    fn width(&self) -> usize;
    /// Number of observations it is defined on.
    fn observations(&self) -> usize;
    /// Evaluates on a resample: `weights[i]` is how many times observation `i` was drawn.
    fn evaluate(&self, weights: &[u32], out: &mut [f64]);
    /// Leave-one-out values (one row per observation) for the BCa acceleration. The default
    /// re-evaluates with one weight set to 0 (O(n) evaluations); implementations override it
    /// with closed forms.
    fn jackknife(&self) -> Vec<Vec<f64>> {
        let n = self.observations();
        let mut weights = vec![1_u32; n];
        (0..n)
            .map(|i| {
                weights[i] = 0;
                let mut row = vec![0.0; self.width()];
                self.evaluate(&weights, &mut row);
                weights[i] = 1;
                row
            })
            .collect()
    }
}

/// A bootstrap distribution and its intervals, one entry per component of the statistic.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Bootstrap {
    /// The statistic on the original sample.
    pub estimate: Vec<f64>,
    /// Percentile interval (quantile type 7).
    pub percentile: Vec<[f64; 2]>,
    /// Bias-corrected and accelerated interval; NaN where every replicate falls on one side
    /// of the estimate (no bias correction possible).
    pub bca: Vec<[f64; 2]>,
    /// Standard deviation of the replicates (n − 1 denominator).
    pub standard_error: Vec<f64>,
    /// Replicates where the statistic was undefined (e.g. no case drawn); left out of the
    /// intervals, as pROC does with a warning.
    pub undefined_replicates: Vec<usize>,
    /// The settings used.
    pub spec: BootstrapSpec,
    /// The replicate values per component, in replicate order.
    #[serde(skip)]
    pub distribution: Vec<Vec<f64>>,
}

impl Bootstrap {
    /// Normal-approximation test of component `k` against 0: z = estimate / SE and the
    /// two-sided p (pROC's bootstrap `roc.test` for an AUC difference).
    pub fn z_test(&self, k: usize) -> (f64, f64) {
        let z = self.estimate[k] / self.standard_error[k];
        (z, 2.0 * normal_cdf(-z.abs()))
    }
}

/// Quantile of sorted values by R's type 7 (numpy's default "linear").
pub fn quantile_type7(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() || p.is_nan() {
        return f64::NAN;
    }
    let h = (sorted.len() - 1) as f64 * p.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Draws the multiplicities of replicate `b` into `weights`.
fn resample(weights: &mut [u32], strata: &[Vec<usize>], seed: u64, b: usize) {
    weights.fill(0);
    let mut rng = rng_for(seed, &["bootstrap", &b.to_string()]);
    for stratum in strata {
        // Strata are checked to fit u32; 32-bit draws halve the ChaCha output consumed.
        let len = stratum.len() as u32;
        for _ in 0..len {
            weights[stratum[rng.random_range(0..len) as usize]] += 1;
        }
    }
}

/// Bootstraps `statistic` over observations labelled `labels` (the labels define the strata).
pub fn bootstrap<S: Statistic + ?Sized>(
    statistic: &S,
    labels: &[bool],
    spec: &BootstrapSpec,
) -> Result<Bootstrap, EvalError> {
    check_level(spec.level)?;
    if spec.replicates < 2 {
        return Err(EvalError::TooFewReplicates {
            replicates: spec.replicates,
        });
    }
    let n = statistic.observations();
    if n > u32::MAX as usize {
        return Err(EvalError::TooManyObservations { n });
    }
    if labels.len() != n {
        return Err(EvalError::LengthMismatch {
            what: "statistic vs labels",
            left: n,
            right: labels.len(),
        });
    }
    let strata: Vec<Vec<usize>> = if spec.stratified {
        vec![
            (0..n).filter(|&i| labels[i]).collect(),
            (0..n).filter(|&i| !labels[i]).collect(),
        ]
    } else {
        vec![(0..n).collect()]
    };
    let width = statistic.width();
    let mut estimate = vec![0.0; width];
    statistic.evaluate(&vec![1; n], &mut estimate);

    let chunks: Vec<Vec<f64>> = (0..spec.replicates.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let range = c * CHUNK..((c + 1) * CHUNK).min(spec.replicates);
            let mut weights = vec![0_u32; n];
            let mut rows = vec![0.0; range.len() * width];
            for (r, b) in range.enumerate() {
                resample(&mut weights, &strata, spec.seed, b);
                statistic.evaluate(&weights, &mut rows[r * width..(r + 1) * width]);
            }
            rows
        })
        .collect();
    let rows: Vec<f64> = chunks.into_iter().flatten().collect();
    let distribution: Vec<Vec<f64>> = (0..width)
        .map(|k| rows.iter().skip(k).step_by(width).copied().collect())
        .collect();

    let jackknife = statistic.jackknife();
    let alpha = 1.0 - spec.level;
    let mut result = Bootstrap {
        estimate,
        percentile: Vec::with_capacity(width),
        bca: Vec::with_capacity(width),
        standard_error: Vec::with_capacity(width),
        undefined_replicates: Vec::with_capacity(width),
        spec: spec.clone(),
        distribution,
    };
    for k in 0..width {
        let mut finite: Vec<f64> = result.distribution[k]
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        result
            .undefined_replicates
            .push(spec.replicates - finite.len());
        finite.sort_unstable_by(f64::total_cmp);
        result.percentile.push([
            quantile_type7(&finite, alpha / 2.0),
            quantile_type7(&finite, 1.0 - alpha / 2.0),
        ]);
        let count = finite.len() as f64;
        let mean = finite.iter().sum::<f64>() / count;
        let variance = finite.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (count - 1.0);
        result.standard_error.push(variance.sqrt());
        let column: Vec<f64> = jackknife.iter().map(|row| row[k]).collect();
        result
            .bca
            .push(bca_interval(&finite, result.estimate[k], &column, alpha));
    }
    Ok(result)
}

/// BCa interval from sorted finite replicates, the estimate and the jackknife values.
fn bca_interval(sorted: &[f64], estimate: f64, jackknife: &[f64], alpha: f64) -> [f64; 2] {
    use statrs::distribution::{ContinuousCDF, Normal};
    let normal = Normal::standard();
    let below = sorted.partition_point(|&v| v < estimate) as f64;
    let at_or_below = sorted.partition_point(|&v| v <= estimate) as f64;
    // Ties with the estimate count ½, as scipy.stats.bootstrap does.
    let z0 = normal.inverse_cdf((below + at_or_below) / (2.0 * sorted.len() as f64));
    let finite: Vec<f64> = jackknife
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let mean = finite.iter().sum::<f64>() / finite.len() as f64;
    let (mut s2, mut s3) = (0.0, 0.0);
    for v in &finite {
        let d = mean - v;
        s2 += d * d;
        s3 += d * d * d;
    }
    let acceleration = if s2 > 0.0 {
        s3 / (6.0 * s2.powf(1.5))
    } else {
        0.0
    };
    let adjusted = |z_alpha: f64| {
        let shift = z0 + z_alpha;
        normal_cdf(z0 + shift / (1.0 - acceleration * shift))
    };
    if !z0.is_finite() {
        return [f64::NAN, f64::NAN];
    }
    [
        quantile_type7(sorted, adjusted(normal.inverse_cdf(alpha / 2.0))),
        quantile_type7(sorted, adjusted(normal.inverse_cdf(1.0 - alpha / 2.0))),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::roc::Direction;

    fn toy() -> (Vec<f64>, Vec<f64>, Vec<bool>) {
        let labels: Vec<bool> = (0..60).map(|i| i % 3 == 0).collect();
        let a: Vec<f64> = (0..60)
            .map(|i| ((i * 37) % 61) as f64 / 61.0 + if i % 3 == 0 { 0.3 } else { 0.0 })
            .collect();
        let b: Vec<f64> = (0..60).map(|i| ((i * 17) % 13) as f64 / 13.0).collect();
        (a.iter().map(|x| x / 1.3).collect(), b, labels)
    }

    #[test]
    fn weighted_auc_equals_auc_of_the_expanded_sample() {
        let (a, _, labels) = toy();
        let stat = Aucs::new(&[&a], &labels).expect("valid");
        let weights: Vec<u32> = (0..60).map(|i| (i * 7 % 4) as u32).collect();
        let mut out = [0.0];
        stat.evaluate(&weights, &mut out);
        let (mut s, mut l) = (Vec::new(), Vec::new());
        for i in 0..60 {
            for _ in 0..weights[i] {
                s.push(a[i]);
                l.push(labels[i]);
            }
        }
        assert_eq!(out[0], crate::eval::roc::auc(&s, &l).expect("valid"));
    }

    #[test]
    fn closed_form_jackknives_match_the_generic_one() {
        struct Generic<'a, S: Statistic + ?Sized>(&'a S);
        impl<S: Statistic + ?Sized> Statistic for Generic<'_, S> {
            fn width(&self) -> usize {
                self.0.width()
            }
            fn observations(&self) -> usize {
                self.0.observations()
            }
            fn evaluate(&self, w: &[u32], out: &mut [f64]) {
                self.0.evaluate(w, out)
            }
        }
        let (a, b, labels) = toy();
        let grid = [0.1, 0.3, 0.5];
        let stats: Vec<Box<dyn Statistic>> = vec![
            Box::new(AucDifference::new(&a, &b, &labels).expect("valid")),
            Box::new(
                SensitivitySpecificity::new(&a, &labels, 0.5, Direction::CasesHigher)
                    .expect("valid"),
            ),
            Box::new(NetBenefitDifference::new(&a, &b, &labels, &grid).expect("valid")),
        ];
        for stat in &stats {
            let closed = stat.jackknife();
            let generic = Generic(stat.as_ref()).jackknife();
            for (x, y) in closed.iter().flatten().zip(generic.iter().flatten()) {
                assert!((x - y).abs() < 1e-12, "{x} vs {y}");
            }
        }
    }

    #[test]
    fn stratified_resamples_keep_class_sizes_and_replicates_are_reproducible() {
        let (a, _, labels) = toy();
        let strata = vec![
            (0..60).filter(|&i| labels[i]).collect::<Vec<_>>(),
            (0..60).filter(|&i| !labels[i]).collect(),
        ];
        let mut w = vec![0; 60];
        resample(&mut w, &strata, 5, 17);
        assert_eq!(strata[0].iter().map(|&i| w[i]).sum::<u32>(), 20);
        assert_eq!(strata[1].iter().map(|&i| w[i]).sum::<u32>(), 40);
        let spec = BootstrapSpec {
            replicates: 100,
            seed: 3,
            ..Default::default()
        };
        let stat = Aucs::new(&[&a], &labels).expect("valid");
        let one = bootstrap(&stat, &labels, &spec).expect("valid");
        let two = bootstrap(&stat, &labels, &spec).expect("valid");
        assert_eq!(one, two);
        assert!(one.percentile[0][0] < one.estimate[0] && one.estimate[0] < one.percentile[0][1]);
        assert!(one.bca[0][0] < one.bca[0][1]);
    }

    #[test]
    fn type7_quantile_matches_r() {
        // R: quantile(c(1, 2, 4, 8), c(0.1, 0.5, 0.975)) = 1.3, 3.0, 7.7
        let x = [1.0, 2.0, 4.0, 8.0];
        assert!((quantile_type7(&x, 0.1) - 1.3).abs() < 1e-12);
        assert_eq!(quantile_type7(&x, 0.5), 3.0);
        assert!((quantile_type7(&x, 0.975) - 7.7).abs() < 1e-12);
    }
}
