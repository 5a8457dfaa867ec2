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

use super::dca::PositiveCounter;
use super::delong::placements;
use super::roc::{Direction, sort_ascending, tie_groups};
use super::threshold::called_positive;
use super::{EvalError, check_binary, check_level, normal_cdf};
use crate::seed::rng_for;

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
        for _ in 0..stratum.len() {
            weights[stratum[rng.random_range(0..stratum.len())]] += 1;
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

/// A score presorted once for weighted AUCs.
#[derive(Debug, Clone)]
struct RankedScore {
    /// Observation indices in ascending score order.
    order: Vec<u32>,
    /// 1 for a case, 0 for a control, in that order.
    case_flag: Vec<u64>,
    /// End position of each run of tied scores.
    group_end: Vec<u32>,
    /// Leave-one-out AUCs (closed form from the DeLong placements).
    jackknife: Vec<f64>,
}

impl RankedScore {
    fn new(scores: &[f64], labels: &[bool]) -> Result<Self, EvalError> {
        let counts = check_binary(scores, labels)?;
        if scores.len() > u32::MAX as usize {
            return Err(EvalError::TooManyObservations { n: scores.len() });
        }
        let sorted = sort_ascending(scores);
        let mut group_end = Vec::new();
        let mut end = 0;
        for g in tie_groups(&sorted) {
            end += g.len();
            group_end.push(end as u32);
        }
        let p = placements(scores, labels)?;
        let (m, n) = (counts.n_cases as f64, counts.n_controls as f64);
        // Placements come in data order within each class.
        let (mut next_case, mut next_control) = (0, 0);
        let mut jackknife = Vec::with_capacity(labels.len());
        for &case in labels {
            jackknife.push(if case {
                next_case += 1;
                (m * p.auc - p.case_placements[next_case - 1]) / (m - 1.0)
            } else {
                next_control += 1;
                (n * p.auc - p.control_placements[next_control - 1]) / (n - 1.0)
            });
        }
        Ok(Self {
            order: sorted.iter().map(|&(_, i)| i as u32).collect(),
            case_flag: sorted.iter().map(|&(_, i)| u64::from(labels[i])).collect(),
            group_end,
            jackknife,
        })
    }

    /// AUC of the resample with multiplicities `weights` (exact integer pair counts).
    fn auc(&self, weights: &[u32]) -> f64 {
        let (mut twice_wins, mut controls_below, mut cases_total) = (0_u64, 0_u64, 0_u64);
        let mut start = 0;
        for &end in &self.group_end {
            let (mut cases, mut all) = (0_u64, 0_u64);
            for p in start..end as usize {
                let w = u64::from(weights[self.order[p] as usize]);
                cases += w * self.case_flag[p];
                all += w;
            }
            let controls = all - cases;
            twice_wins += cases * (2 * controls_below + controls);
            controls_below += controls;
            cases_total += cases;
            start = end as usize;
        }
        twice_wins as f64 / (2 * cases_total * controls_below) as f64
    }
}

/// The AUCs of one or more scores on the same patients (width = number of scores).
#[derive(Debug, Clone)]
pub struct Aucs {
    scores: Vec<RankedScore>,
}

impl Aucs {
    /// Prepares the AUCs of `scores` (each higher = case) against `labels`.
    pub fn new(scores: &[&[f64]], labels: &[bool]) -> Result<Self, EvalError> {
        Ok(Self {
            scores: scores
                .iter()
                .map(|s| RankedScore::new(s, labels))
                .collect::<Result<_, _>>()?,
        })
    }
}

impl Statistic for Aucs {
    fn width(&self) -> usize {
        self.scores.len()
    }
    fn observations(&self) -> usize {
        self.scores.first().map_or(0, |s| s.order.len())
    }
    fn evaluate(&self, weights: &[u32], out: &mut [f64]) {
        for (o, s) in out.iter_mut().zip(&self.scores) {
            *o = s.auc(weights);
        }
    }
    fn jackknife(&self) -> Vec<Vec<f64>> {
        (0..self.observations())
            .map(|i| self.scores.iter().map(|s| s.jackknife[i]).collect())
            .collect()
    }
}

/// `AUC(a) − AUC(b)` on the same patients (width 1), for a paired bootstrap comparison.
#[derive(Debug, Clone)]
pub struct AucDifference {
    pair: Aucs,
}

impl AucDifference {
    /// Prepares the difference of the AUCs of `a` and `b`.
    pub fn new(a: &[f64], b: &[f64], labels: &[bool]) -> Result<Self, EvalError> {
        if a.len() != b.len() {
            return Err(EvalError::LengthMismatch {
                what: "score a vs score b",
                left: a.len(),
                right: b.len(),
            });
        }
        Ok(Self {
            pair: Aucs::new(&[a, b], labels)?,
        })
    }
}

impl Statistic for AucDifference {
    fn width(&self) -> usize {
        1
    }
    fn observations(&self) -> usize {
        self.pair.observations()
    }
    fn evaluate(&self, weights: &[u32], out: &mut [f64]) {
        out[0] = self.pair.scores[0].auc(weights) - self.pair.scores[1].auc(weights);
    }
    fn jackknife(&self) -> Vec<Vec<f64>> {
        let (a, b) = (
            &self.pair.scores[0].jackknife,
            &self.pair.scores[1].jackknife,
        );
        a.iter().zip(b).map(|(x, y)| vec![x - y]).collect()
    }
}

/// Sensitivity and specificity at a fixed threshold (width 2: [sensitivity, specificity]).
#[derive(Debug, Clone)]
pub struct SensitivitySpecificity {
    /// Per observation: (is a case, is called positive).
    cells: Vec<(bool, bool)>,
}

impl SensitivitySpecificity {
    /// Prepares the statistic for `scores` dichotomised at `threshold` in `direction`.
    pub fn new(
        scores: &[f64],
        labels: &[bool],
        threshold: f64,
        direction: Direction,
    ) -> Result<Self, EvalError> {
        check_binary(scores, labels)?;
        let cells = scores
            .iter()
            .zip(labels)
            .map(|(&s, &l)| (l, called_positive(s, threshold, direction)))
            .collect();
        Ok(Self { cells })
    }

    fn rates(&self, weight: impl Fn(usize) -> u64) -> [f64; 2] {
        let (mut tp, mut cases, mut tn, mut controls) = (0, 0, 0, 0);
        for (i, &(case, positive)) in self.cells.iter().enumerate() {
            let w = weight(i);
            if case {
                cases += w;
                tp += w * u64::from(positive);
            } else {
                controls += w;
                tn += w * u64::from(!positive);
            }
        }
        [tp as f64 / cases as f64, tn as f64 / controls as f64]
    }
}

impl Statistic for SensitivitySpecificity {
    fn width(&self) -> usize {
        2
    }
    fn observations(&self) -> usize {
        self.cells.len()
    }
    fn evaluate(&self, weights: &[u32], out: &mut [f64]) {
        out.copy_from_slice(&self.rates(|i| u64::from(weights[i])));
    }
    fn jackknife(&self) -> Vec<Vec<f64>> {
        let full = self.rates(|_| 1);
        let (cases, controls) =
            self.cells.iter().fold(
                (0.0, 0.0),
                |(c, k), &(case, _)| if case { (c + 1.0, k) } else { (c, k + 1.0) },
            );
        let (tp, tn) = (full[0] * cases, full[1] * controls);
        self.cells
            .iter()
            .map(|&(case, positive)| match case {
                true => vec![
                    (tp - f64::from(u8::from(positive))) / (cases - 1.0),
                    full[1],
                ],
                false => vec![
                    full[0],
                    (tn - f64::from(u8::from(!positive))) / (controls - 1.0),
                ],
            })
            .collect()
    }
}

/// Net benefit of one risk score at each threshold (width = number of thresholds).
#[derive(Debug, Clone)]
pub struct NetBenefits {
    counter: PositiveCounter,
    labels: Vec<bool>,
    thresholds: Vec<f64>,
    harm: f64,
}

impl NetBenefits {
    /// Prepares the net benefit of `risks` (probabilities) at `thresholds`.
    pub fn new(
        risks: &[f64],
        labels: &[bool],
        thresholds: &[f64],
        harm: f64,
    ) -> Result<Self, EvalError> {
        Ok(Self {
            counter: PositiveCounter::new(risks, labels, thresholds)?,
            labels: labels.to_vec(),
            thresholds: thresholds.to_vec(),
            harm,
        })
    }

    fn net_benefits(&self, weights: Option<&[u32]>, out: &mut [f64]) {
        let mut counts = Vec::with_capacity(self.thresholds.len());
        let (_, n) = self.counter.counts(weights, &mut counts);
        for ((o, &(tp, fp)), &t) in out.iter_mut().zip(&counts).zip(&self.thresholds) {
            *o = super::dca::net_benefit(tp as f64, fp as f64, n as f64, t, self.harm);
        }
    }

    /// Leave-one-out net benefits: removing observation i changes TP or FP by one where it
    /// tests positive, and N by one.
    fn leave_one_out(&self) -> Vec<Vec<f64>> {
        let mut counts = Vec::new();
        let (_, n) = self.counter.counts(None, &mut counts);
        let (position, first_positive, _) = self.counter.positions();
        let n = n as f64 - 1.0;
        (0..self.labels.len())
            .map(|i| {
                self.thresholds
                    .iter()
                    .enumerate()
                    .map(|(k, &t)| {
                        let positive = f64::from(u8::from(position[i] >= first_positive[k]));
                        let (mut tp, mut fp) = (counts[k].0 as f64, counts[k].1 as f64);
                        if self.labels[i] {
                            tp -= positive
                        } else {
                            fp -= positive
                        }
                        super::dca::net_benefit(tp, fp, n, t, self.harm)
                    })
                    .collect()
            })
            .collect()
    }
}

impl Statistic for NetBenefits {
    fn width(&self) -> usize {
        self.thresholds.len()
    }
    fn observations(&self) -> usize {
        self.labels.len()
    }
    fn evaluate(&self, weights: &[u32], out: &mut [f64]) {
        self.net_benefits(Some(weights), out);
    }
    fn jackknife(&self) -> Vec<Vec<f64>> {
        self.leave_one_out()
    }
}

/// `NB(a) − NB(b)` at each threshold for two risk scores on the same patients.
#[derive(Debug, Clone)]
pub struct NetBenefitDifference {
    a: NetBenefits,
    b: NetBenefits,
}

impl NetBenefitDifference {
    /// Prepares the net-benefit difference of risks `a` and `b` at `thresholds`.
    pub fn new(
        a: &[f64],
        b: &[f64],
        labels: &[bool],
        thresholds: &[f64],
    ) -> Result<Self, EvalError> {
        if a.len() != b.len() {
            return Err(EvalError::LengthMismatch {
                what: "score a vs score b",
                left: a.len(),
                right: b.len(),
            });
        }
        Ok(Self {
            a: NetBenefits::new(a, labels, thresholds, 0.0)?,
            b: NetBenefits::new(b, labels, thresholds, 0.0)?,
        })
    }
}

impl Statistic for NetBenefitDifference {
    fn width(&self) -> usize {
        self.a.width()
    }
    fn observations(&self) -> usize {
        self.a.observations()
    }
    fn evaluate(&self, weights: &[u32], out: &mut [f64]) {
        let mut other = vec![0.0; out.len()];
        self.a.net_benefits(Some(weights), out);
        self.b.net_benefits(Some(weights), &mut other);
        for (o, x) in out.iter_mut().zip(other) {
            *o -= x;
        }
    }
    fn jackknife(&self) -> Vec<Vec<f64>> {
        let (a, b) = (self.a.leave_one_out(), self.b.leave_one_out());
        a.into_iter()
            .zip(b)
            .map(|(x, y)| x.iter().zip(y).map(|(p, q)| p - q).collect())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
