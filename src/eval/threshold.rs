//! Metrics of a score dichotomised at a threshold, proportion CIs, and precision–recall.
//!
//! Principal items: [`ConfusionCounts`] (pROC `coords` quantities), [`confusion_at`],
//! [`threshold_metrics`] → [`ThresholdMetrics`], [`youden_threshold`] (chosen on a training set,
//! applied to a test set), [`proportion_ci`] (Wilson 1927, the default; Clopper–Pearson 1934),
//! [`average_precision`] and [`pr_curve`] (step-wise, as scikit-learn's
//! `average_precision_score` / `precision_recall_curve`).

use super::roc::{Direction, roc_curve, sort_ascending, tie_groups};
use super::{EvalError, check_binary, check_level, normal_two_sided_quantile};

/// The 2×2 table of a dichotomised score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct ConfusionCounts {
    /// Cases called positive.
    pub true_positives: usize,
    /// Controls called positive.
    pub false_positives: usize,
    /// Controls called negative.
    pub true_negatives: usize,
    /// Cases called negative.
    pub false_negatives: usize,
}

fn ratio(num: usize, den: usize) -> f64 {
    num as f64 / den as f64
}

impl ConfusionCounts {
    /// Number of cases.
    pub fn cases(&self) -> usize {
        self.true_positives + self.false_negatives
    }
    /// Number of controls.
    pub fn controls(&self) -> usize {
        self.true_negatives + self.false_positives
    }
    /// All observations.
    pub fn total(&self) -> usize {
        self.cases() + self.controls()
    }
    /// TP / cases (= recall, true-positive rate).
    pub fn sensitivity(&self) -> f64 {
        ratio(self.true_positives, self.cases())
    }
    /// TN / controls (true-negative rate).
    pub fn specificity(&self) -> f64 {
        ratio(self.true_negatives, self.controls())
    }
    /// TP / called positive (= precision); NaN when nobody is called positive.
    pub fn ppv(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }
    /// TN / called negative; NaN when nobody is called negative.
    pub fn npv(&self) -> f64 {
        ratio(
            self.true_negatives,
            self.true_negatives + self.false_negatives,
        )
    }
    /// (TP + TN) / all.
    pub fn accuracy(&self) -> f64 {
        ratio(self.true_positives + self.true_negatives, self.total())
    }
    /// Mean of sensitivity and specificity.
    pub fn balanced_accuracy(&self) -> f64 {
        (self.sensitivity() + self.specificity()) / 2.0
    }
    /// Harmonic mean of precision and recall: 2TP / (2TP + FP + FN).
    pub fn f1(&self) -> f64 {
        let tp2 = 2 * self.true_positives;
        ratio(tp2, tp2 + self.false_positives + self.false_negatives)
    }
    /// FP / called positive.
    pub fn false_discovery_rate(&self) -> f64 {
        ratio(
            self.false_positives,
            self.true_positives + self.false_positives,
        )
    }
    /// FP / controls = 1 − specificity.
    pub fn false_positive_rate(&self) -> f64 {
        ratio(self.false_positives, self.controls())
    }
    /// FN / cases = 1 − sensitivity.
    pub fn false_negative_rate(&self) -> f64 {
        ratio(self.false_negatives, self.cases())
    }
    /// Positive likelihood ratio: sensitivity / (1 − specificity).
    pub fn likelihood_ratio_positive(&self) -> f64 {
        self.sensitivity() / (1.0 - self.specificity())
    }
    /// Negative likelihood ratio: (1 − sensitivity) / specificity.
    pub fn likelihood_ratio_negative(&self) -> f64 {
        (1.0 - self.sensitivity()) / self.specificity()
    }
    /// Youden's J = sensitivity + specificity − 1 (pROC's `coords` "youden" is J + 1).
    pub fn youden_j(&self) -> f64 {
        self.sensitivity() + self.specificity() - 1.0
    }
    /// Squared distance to the top-left corner: (1 − se)² + (1 − sp)² (pROC "closest.topleft").
    pub fn distance_to_top_left(&self) -> f64 {
        (1.0 - self.sensitivity()).powi(2) + (1.0 - self.specificity()).powi(2)
    }
}

/// Is `score` called positive at `threshold`? `CasesHigher`: score ≥ threshold;
/// `CasesLower`: score ≤ threshold (pROC's convention for both directions).
pub fn called_positive(score: f64, threshold: f64, direction: Direction) -> bool {
    match direction {
        Direction::CasesHigher => score >= threshold,
        Direction::CasesLower => score <= threshold,
    }
}

/// The confusion table of `scores` dichotomised at `threshold`.
pub fn confusion_at(
    scores: &[f64],
    labels: &[bool],
    threshold: f64,
    direction: Direction,
) -> Result<ConfusionCounts, EvalError> {
    check_binary(scores, labels)?;
    let mut c = ConfusionCounts::default();
    for (&s, &case) in scores.iter().zip(labels) {
        match (case, called_positive(s, threshold, direction)) {
            (true, true) => c.true_positives += 1,
            (true, false) => c.false_negatives += 1,
            (false, true) => c.false_positives += 1,
            (false, false) => c.true_negatives += 1,
        }
    }
    Ok(c)
}

/// How a CI of a binomial proportion is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProportionInterval {
    /// Wilson score interval (Wilson 1927): good coverage, never outside [0, 1].
    #[default]
    Wilson,
    /// Exact Clopper–Pearson interval from beta quantiles (conservative).
    ClopperPearson,
}

/// CI of `successes / trials` at `level`; `[NaN, NaN]` when `trials == 0`.
pub fn proportion_ci(
    successes: usize,
    trials: usize,
    level: f64,
    method: ProportionInterval,
) -> Result<[f64; 2], EvalError> {
    check_level(level)?;
    if successes > trials {
        return Err(EvalError::InvalidCount { successes, trials });
    }
    if trials == 0 {
        return Ok([f64::NAN, f64::NAN]);
    }
    let (x, n) = (successes as f64, trials as f64);
    Ok(match method {
        ProportionInterval::Wilson => {
            let z = normal_two_sided_quantile(level);
            let p = x / n;
            let z2n = z * z / n;
            let centre = (p + z2n / 2.0) / (1.0 + z2n);
            let half = z / (1.0 + z2n) * (p * (1.0 - p) / n + z2n / (4.0 * n)).sqrt();
            [(centre - half).max(0.0), (centre + half).min(1.0)]
        }
        ProportionInterval::ClopperPearson => {
            use statrs::function::beta::inv_beta_reg;
            let alpha = 1.0 - level;
            let lower = if successes == 0 {
                0.0
            } else {
                inv_beta_reg(x, n - x + 1.0, alpha / 2.0)
            };
            let upper = if successes == trials {
                1.0
            } else {
                inv_beta_reg(x + 1.0, n - x, 1.0 - alpha / 2.0)
            };
            [lower, upper]
        }
    })
}

/// A proportion with its counts and CI.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Proportion {
    /// `successes / trials` (NaN when `trials == 0`).
    pub value: f64,
    /// Numerator.
    pub successes: usize,
    /// Denominator.
    pub trials: usize,
    /// CI at the requested level and method.
    pub ci: [f64; 2],
}

fn proportion(
    successes: usize,
    trials: usize,
    level: f64,
    method: ProportionInterval,
) -> Result<Proportion, EvalError> {
    Ok(Proportion {
        value: ratio(successes, trials),
        successes,
        trials,
        ci: proportion_ci(successes, trials, level, method)?,
    })
}

/// Threshold metrics with CIs for the proportions.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ThresholdMetrics {
    /// The threshold applied.
    pub threshold: f64,
    /// The 2×2 table.
    pub counts: ConfusionCounts,
    /// TP / cases (= recall).
    pub sensitivity: Proportion,
    /// TN / controls.
    pub specificity: Proportion,
    /// TP / called positive (= precision).
    pub ppv: Proportion,
    /// TN / called negative.
    pub npv: Proportion,
    /// (TP + TN) / all.
    pub accuracy: Proportion,
    /// Mean of sensitivity and specificity.
    pub balanced_accuracy: f64,
    /// 2TP / (2TP + FP + FN).
    pub f1: f64,
}

/// Sensitivity, specificity, PPV, NPV, accuracy (with CIs), balanced accuracy and F1 at
/// `threshold`. Precision = PPV and recall = sensitivity.
pub fn threshold_metrics(
    scores: &[f64],
    labels: &[bool],
    threshold: f64,
    direction: Direction,
    level: f64,
    method: ProportionInterval,
) -> Result<ThresholdMetrics, EvalError> {
    let c = confusion_at(scores, labels, threshold, direction)?;
    Ok(ThresholdMetrics {
        threshold,
        counts: c,
        sensitivity: proportion(c.true_positives, c.cases(), level, method)?,
        specificity: proportion(c.true_negatives, c.controls(), level, method)?,
        ppv: proportion(
            c.true_positives,
            c.true_positives + c.false_positives,
            level,
            method,
        )?,
        npv: proportion(
            c.true_negatives,
            c.true_negatives + c.false_negatives,
            level,
            method,
        )?,
        accuracy: proportion(
            c.true_positives + c.true_negatives,
            c.total(),
            level,
            method,
        )?,
        balanced_accuracy: c.balanced_accuracy(),
        f1: c.f1(),
    })
}

/// The threshold maximising Youden's J on the ROC curve of (`scores`, `labels`) — meant for a
/// training set, the result then applied to a test set with [`threshold_metrics`]. Candidates
/// are pROC's midpoint thresholds; among equal J the lowest threshold (in `direction`'s order,
/// i.e. the highest sensitivity) wins, so the choice is deterministic.
pub fn youden_threshold(
    scores: &[f64],
    labels: &[bool],
    direction: Direction,
) -> Result<f64, EvalError> {
    let curve = roc_curve(scores, labels, direction)?;
    let (mut best, mut best_j) = (curve.thresholds[0], f64::NEG_INFINITY);
    for (k, &t) in curve.thresholds.iter().enumerate() {
        // Compare J through integer-exact counts: J = TP/m − FP/n; scaled by m·n.
        let j = (curve.true_positives[k] * curve.n_controls) as f64
            - (curve.false_positives[k] * curve.n_cases) as f64;
        if j > best_j {
            best_j = j;
            best = t;
        }
    }
    Ok(best)
}

/// A precision–recall curve, one point per distinct score from the highest down (as
/// scikit-learn's `precision_recall_curve`, without its final (recall 0, precision 1) point).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PrCurve {
    /// Score thresholds, descending: positive iff score ≥ threshold.
    pub thresholds: Vec<f64>,
    /// Precision at each threshold.
    pub precision: Vec<f64>,
    /// Recall at each threshold (non-decreasing).
    pub recall: Vec<f64>,
}

/// The precision–recall curve of `scores` (higher = case).
pub fn pr_curve(scores: &[f64], labels: &[bool]) -> Result<PrCurve, EvalError> {
    let counts = check_binary(scores, labels)?;
    let sorted = sort_ascending(scores);
    let groups: Vec<&[(u64, usize)]> = tie_groups(&sorted).collect();
    let mut curve = PrCurve {
        thresholds: Vec::with_capacity(groups.len()),
        precision: Vec::with_capacity(groups.len()),
        recall: Vec::with_capacity(groups.len()),
    };
    let (mut tp, mut called) = (0_usize, 0_usize);
    for group in groups.iter().rev() {
        tp += group.iter().filter(|(_, i)| labels[*i]).count();
        called += group.len();
        curve.thresholds.push(scores[group[0].1]);
        curve.precision.push(ratio(tp, called));
        curve.recall.push(ratio(tp, counts.n_cases));
    }
    Ok(curve)
}

/// Average precision Σ (Rₖ − Rₖ₋₁)·Pₖ over the PR curve (step-wise, no interpolation;
/// scikit-learn's `average_precision_score`).
pub fn average_precision(scores: &[f64], labels: &[bool]) -> Result<f64, EvalError> {
    let curve = pr_curve(scores, labels)?;
    let mut previous_recall = 0.0;
    let mut ap = 0.0;
    for (&p, &r) in curve.precision.iter().zip(&curve.recall) {
        ap += (r - previous_recall) * p;
        previous_recall = r;
    }
    Ok(ap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_and_clopper_pearson_match_textbook_values() {
        // 8 of 10 at 95%: Wilson [0.4902, 0.9433], Clopper–Pearson [0.4439, 0.9748]
        // (R: prop.test(correct = FALSE) / binom.test).
        let w = proportion_ci(8, 10, 0.95, ProportionInterval::Wilson).unwrap_or([0.0; 2]);
        assert!(
            (w[0] - 0.490_162).abs() < 1e-5 && (w[1] - 0.943_318).abs() < 1e-5,
            "{w:?}"
        );
        let cp = proportion_ci(8, 10, 0.95, ProportionInterval::ClopperPearson).unwrap_or([0.0; 2]);
        assert!(
            (cp[0] - 0.443_904).abs() < 1e-5 && (cp[1] - 0.974_790).abs() < 1e-5,
            "{cp:?}"
        );
        let edge =
            proportion_ci(0, 5, 0.95, ProportionInterval::ClopperPearson).unwrap_or([9.0; 2]);
        assert_eq!(edge[0], 0.0);
        assert!(proportion_ci(6, 5, 0.95, ProportionInterval::Wilson).is_err());
    }

    #[test]
    fn average_precision_matches_sklearn_example() {
        // sklearn docs: y = [0, 0, 1, 1], s = [0.1, 0.4, 0.35, 0.8] → AP 0.8333…
        let ap = average_precision(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]);
        assert!((ap.unwrap_or(0.0) - 0.833_333_333_333_333_4).abs() < 1e-15);
    }

    #[test]
    fn youden_threshold_separates_and_is_applied_as_given() {
        let s = [0.1, 0.2, 0.3, 0.6, 0.7, 0.9];
        let l = [false, false, false, true, true, true];
        let t = youden_threshold(&s, &l, Direction::CasesHigher).unwrap_or(f64::NAN);
        assert!((t - 0.45).abs() < 1e-12);
        let m = threshold_metrics(&s, &l, t, Direction::CasesHigher, 0.95, Default::default());
        let m = m.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (m.sensitivity.value, m.specificity.value, m.f1),
            (1.0, 1.0, 1.0)
        );
    }
}
