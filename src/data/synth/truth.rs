//! Ground truth shared by the synthetic scenarios: the AUC and accuracy that a Bayes-optimal
//! reader of the latent variables would reach.
//!
//! Principal items: [`phi`], [`binormal_auc`] (equal-variance binormal model, AUC = Φ(d′/√2)),
//! [`discrete_auc`] and [`binormal_plus_discrete_auc`] (a normal score combined with an
//! independent discrete one, e.g. a count of satellite foci), [`poisson_pmf`] and
//! [`posteriors`] (class posteriors from log-likelihoods, for multi-class scenarios whose
//! accuracy and one-vs-rest AUCs are obtained by simulating latents in a test). References:
//! Green & Swets, *Signal Detection Theory and Psychophysics* (1966) for the binormal AUC;
//! Hanley & McNeil, *Radiology* 143 (1982) for the Mann–Whitney form with ties counting ½.
//! For one class against the rest, ranking by the posterior of that class is ranking by its
//! likelihood ratio, so the posterior's one-vs-rest AUC is the Bayes-optimal one.

use statrs::function::erf::erfc;
use std::f64::consts::SQRT_2;

/// Standard normal CDF.
pub fn phi(x: f64) -> f64 {
    0.5 * erfc(-x / SQRT_2)
}

/// AUC of a unit-variance normal score whose class means differ by `separation` (d′):
/// Φ(d′/√2).
pub fn binormal_auc(separation: f64) -> f64 {
    phi(separation / SQRT_2)
}

/// AUC of a discrete score with probabilities `positive[k]` and `negative[k]` of value `k`
/// (same ordered support), ties counting ½.
pub fn discrete_auc(positive: &[f64], negative: &[f64]) -> f64 {
    let mut auc = 0.0;
    let mut negative_below = 0.0;
    for (p1, p0) in positive.iter().zip(negative) {
        auc += p1 * (negative_below + 0.5 * p0);
        negative_below += p0;
    }
    auc
}

/// Poisson probability of `k` events at `rate`.
pub fn poisson_pmf(rate: f64, k: usize) -> f64 {
    let log_factorial: f64 = (1..=k).map(|j| (j as f64).ln()).sum();
    (k as f64 * rate.ln() - rate - log_factorial).exp()
}

/// AUC of the Bayes-optimal score that knows a unit-normal latent with class separation
/// `separation` (> 0) and an independent discrete latent with probabilities `positive[k]` /
/// `negative[k]` (positive in both classes wherever either is positive).
///
/// The score is `d′·u + L(k)` with `L(k) = ln(p₁(k)/p₀(k))`. For a positive with value k₁ and
/// a negative with k₀ the score difference is normal with mean `d′² + L(k₁) − L(k₀)` and SD
/// `d′·√2`; summing Φ(mean/SD) over (k₁, k₀) weighted by p₁(k₁)·p₀(k₀) gives the AUC.
pub fn binormal_plus_discrete_auc(separation: f64, positive: &[f64], negative: &[f64]) -> f64 {
    let llr = |k: usize| (positive[k] / negative[k]).ln();
    let sd = separation * SQRT_2;
    let mut auc = 0.0;
    for (k1, p1) in positive.iter().enumerate() {
        for (k0, p0) in negative.iter().enumerate() {
            let weight = p1 * p0;
            if weight > 0.0 {
                let mean = separation * separation + llr(k1) - llr(k0);
                auc += weight * phi(mean / sd);
            }
        }
    }
    auc
}

/// Class posteriors from per-class log-likelihoods and priors (a numerically stable softmax).
pub fn posteriors(log_likelihoods: &[f64], priors: &[f64]) -> Vec<f64> {
    let logs: Vec<f64> = log_likelihoods
        .iter()
        .zip(priors)
        .map(|(l, p)| l + p.ln())
        .collect();
    let top = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let weights: Vec<f64> = logs.iter().map(|l| (l - top).exp()).collect();
    let total: f64 = weights.iter().sum();
    weights.into_iter().map(|w| w / total).collect()
}

/// Index of the category whose cumulative probability first exceeds `u` (in `[0, 1)`).
pub fn categorical(probabilities: &[f64], u: f64) -> usize {
    let mut cumulative = 0.0;
    for (k, p) in probabilities.iter().enumerate() {
        cumulative += p;
        if u < cumulative {
            return k;
        }
    }
    probabilities.len().saturating_sub(1)
}

/// Simulation summaries for the tests that check each scenario's ground truth.
#[cfg(test)]
pub(crate) mod sim {
    use crate::eval::roc::auc;

    /// One-vs-rest AUC of each class's posterior and the accuracy of the arg-max.
    pub(crate) fn multiclass_truth(posteriors: &[Vec<f64>], classes: &[usize]) -> (Vec<f64>, f64) {
        let k = posteriors.first().map_or(0, Vec::len);
        let aucs = (0..k)
            .map(|c| {
                let scores: Vec<f64> = posteriors.iter().map(|p| p[c]).collect();
                let labels: Vec<bool> = classes.iter().map(|&y| y == c).collect();
                auc(&scores, &labels).unwrap_or(f64::NAN)
            })
            .collect();
        let hits = posteriors
            .iter()
            .zip(classes)
            .filter(|(p, y)| argmax(p) == **y)
            .count();
        (aucs, hits as f64 / classes.len() as f64)
    }

    /// Index of the largest value (the first on ties).
    pub(crate) fn argmax(values: &[f64]) -> usize {
        let mut best = 0;
        for (i, v) in values.iter().enumerate() {
            if *v > values[best] {
                best = i;
            }
        }
        best
    }

    /// AUC of `scores` for `labels`, NaN when one class is absent.
    pub(crate) fn binary_auc(scores: &[f64], labels: &[bool]) -> f64 {
        auc(scores, labels).unwrap_or(f64::NAN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_forms_agree_with_known_values() {
        assert!((phi(0.0) - 0.5).abs() < 1e-15);
        assert!((binormal_auc(1.19) - 0.7997).abs() < 1e-3);
        // A binary score: ½ + (p₁ − p₀)/2.
        let auc = discrete_auc(&[0.25, 0.75], &[0.85, 0.15]);
        assert!((auc - 0.80).abs() < 1e-12);
        let pmf: f64 = (0..60).map(|k| poisson_pmf(3.0, k)).sum();
        assert!((pmf - 1.0).abs() < 1e-12);
        // With a very weak normal part the combined AUC tends to the discrete one.
        let combined = binormal_plus_discrete_auc(1e-3, &[0.25, 0.75], &[0.85, 0.15]);
        assert!((combined - 0.80).abs() < 1e-3, "{combined}");
        let p = posteriors(&[0.0, 0.0, 2.0_f64.ln()], &[0.5, 0.25, 0.25]);
        assert!(
            p.iter()
                .zip([0.4, 0.2, 0.4])
                .all(|(a, b)| (a - b).abs() < 1e-12)
        );
        assert_eq!(categorical(&[0.2, 0.3, 0.5], 0.19), 0);
        assert_eq!(categorical(&[0.2, 0.3, 0.5], 0.2), 1);
        assert_eq!(categorical(&[0.2, 0.3, 0.5], 0.999_999), 2);
    }
}
