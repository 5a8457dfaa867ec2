//! Decision-curve analysis: net benefit of a risk score over a range of threshold
//! probabilities, with treat-all and treat-none references.
//!
//! Principal items: [`net_benefit_curve`] → [`DecisionCurve`], [`treat_all_curve`],
//! [`treat_none_curve`], [`threshold_grid`], and [`PositiveCounter`] (the weighted counts that
//! [`crate::eval::bootstrap`] reuses for net-benefit CIs). Reference: Vickers & Elkin (2006),
//! Medical Decision Making 26:565; conventions of the `dcurves` package (Python 1.1.7 / R), see
//! `conformance/stats/README.md`: a patient tests positive when risk ≥ threshold, except that a
//! risk of exactly 0 never does (dcurves moves it to −ε); rates are over all N patients;
//! NB = TP/N − t/(1 − t)·FP/N − harm.

use super::{EvalError, check_binary};

/// Checks that every risk is a probability in [0, 1].
fn check_risks(risks: &[f64]) -> Result<(), EvalError> {
    match risks.iter().position(|r| !(0.0..=1.0).contains(r)) {
        Some(index) => Err(EvalError::NotAProbability {
            index,
            value: risks[index],
        }),
        None => Ok(()),
    }
}

/// Checks that every threshold lies in [0, 1), where the odds t/(1 − t) are finite.
fn check_thresholds(thresholds: &[f64]) -> Result<(), EvalError> {
    match thresholds.iter().find(|t| !(0.0..1.0).contains(*t)) {
        Some(&value) => Err(EvalError::InvalidThreshold { value }),
        None => Ok(()),
    }
}

/// `from, from + step, …, to` (inclusive when `to` is on the grid), each value rounded to 12
/// decimals so that 0.07 is the double nearest 0.07, as `[i / 100 for i in …]` gives.
pub fn threshold_grid(from: f64, to: f64, step: f64) -> Result<Vec<f64>, EvalError> {
    let well_formed = step > 0.0 && from <= to && from.is_finite() && to.is_finite();
    if !well_formed {
        return Err(EvalError::InvalidGrid { from, to, step });
    }
    let count = ((to - from) / step + 1e-9).floor() as usize + 1;
    let grid: Vec<f64> = (0..count)
        .map(|k| ((from + k as f64 * step) * 1e12).round() / 1e12)
        .collect();
    check_thresholds(&grid)?;
    Ok(grid)
}

/// Is a patient with `risk` treated at `threshold`? (dcurves: risk ≥ t, a zero risk never.)
pub fn tests_positive(risk: f64, threshold: f64) -> bool {
    risk >= threshold && risk != 0.0
}

/// Counts, for each threshold, the cases and controls that test positive, optionally weighted
/// by bootstrap multiplicities. Built once per score (one sort), then O(n + T) per count.
#[derive(Debug, Clone)]
pub struct PositiveCounter {
    /// Observation indices in ascending order of risk.
    order: Vec<usize>,
    /// Labels in that order.
    sorted_labels: Vec<bool>,
    /// Per threshold: the first position in `order` that tests positive.
    first_positive: Vec<usize>,
}

impl PositiveCounter {
    /// Prepares the counts of `risks` (probabilities) at `thresholds` (in [0, 1)).
    pub fn new(risks: &[f64], labels: &[bool], thresholds: &[f64]) -> Result<Self, EvalError> {
        check_binary(risks, labels)?;
        check_risks(risks)?;
        check_thresholds(thresholds)?;
        let mut order: Vec<usize> = (0..risks.len()).collect();
        order.sort_unstable_by(|&a, &b| risks[a].total_cmp(&risks[b]).then(a.cmp(&b)));
        let sorted: Vec<f64> = order.iter().map(|&i| risks[i]).collect();
        // Monotone along the sorted risks: zeros first, then risks below t.
        let first_positive = thresholds
            .iter()
            .map(|&t| sorted.partition_point(|&r| !tests_positive(r, t)))
            .collect();
        let sorted_labels = order.iter().map(|&i| labels[i]).collect();
        Ok(Self {
            order,
            sorted_labels,
            first_positive,
        })
    }

    /// Number of thresholds.
    pub fn len(&self) -> usize {
        self.first_positive.len()
    }

    /// True when there are no thresholds.
    pub fn is_empty(&self) -> bool {
        self.first_positive.is_empty()
    }

    /// Per threshold `(true positives, false positives)`, each observation counted `weights[i]`
    /// times (or once when `weights` is `None`); also returns the total weight of cases and of
    /// all observations.
    pub fn counts(&self, weights: Option<&[u32]>, out: &mut Vec<(u64, u64)>) -> (u64, u64) {
        let n = self.order.len();
        // Suffix sums over the sorted order, filled from the top.
        let mut suffix_cases = vec![0_u64; n + 1];
        let mut suffix_controls = vec![0_u64; n + 1];
        for p in (0..n).rev() {
            let w = weights.map_or(1, |w| u64::from(w[self.order[p]]));
            let (c, k) = if self.sorted_labels[p] {
                (w, 0)
            } else {
                (0, w)
            };
            suffix_cases[p] = suffix_cases[p + 1] + c;
            suffix_controls[p] = suffix_controls[p + 1] + k;
        }
        out.clear();
        out.extend(
            self.first_positive
                .iter()
                .map(|&p| (suffix_cases[p], suffix_controls[p])),
        );
        (suffix_cases[0], suffix_cases[0] + suffix_controls[0])
    }

    /// For each threshold, whether observation `i` tests positive (for jackknife updates).
    pub(crate) fn positions(&self) -> (Vec<usize>, &[usize], &[bool]) {
        let mut position = vec![0; self.order.len()];
        for (p, &i) in self.order.iter().enumerate() {
            position[i] = p;
        }
        (position, &self.first_positive, &self.sorted_labels)
    }
}

/// Net benefit from counts: TP/N − t/(1 − t)·FP/N − harm.
pub fn net_benefit(tp: f64, fp: f64, n: f64, threshold: f64, harm: f64) -> f64 {
    tp / n - threshold / (1.0 - threshold) * (fp / n) - harm
}

/// One decision curve: a model, treat-all or treat-none.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DecisionCurve {
    /// Threshold probabilities.
    pub thresholds: Vec<f64>,
    /// Number of patients.
    pub n: usize,
    /// Fraction of patients with the outcome.
    pub prevalence: f64,
    /// Harm subtracted from the net benefit (0 for the references).
    pub harm: f64,
    /// Fraction of patients testing positive at each threshold.
    pub test_positive_rate: Vec<f64>,
    /// TP / N.
    pub tp_rate: Vec<f64>,
    /// FP / N.
    pub fp_rate: Vec<f64>,
    /// Net benefit.
    pub net_benefit: Vec<f64>,
    /// Net benefit / prevalence (Kerr et al. 2016).
    pub standardized_net_benefit: Vec<f64>,
    /// (NB − NB_treat_all) / (t/(1 − t)) per patient, as dcurves' `net_intervention_avoided`.
    pub net_interventions_avoided: Vec<f64>,
    /// The same per 100 patients.
    pub net_interventions_avoided_per_100: Vec<f64>,
}

fn curve_from_counts(
    thresholds: &[f64],
    counts: &[(u64, u64)],
    n_cases: usize,
    n: usize,
    harm: f64,
) -> DecisionCurve {
    let nf = n as f64;
    let prevalence = n_cases as f64 / nf;
    let mut c = DecisionCurve {
        thresholds: thresholds.to_vec(),
        n,
        prevalence,
        harm,
        test_positive_rate: Vec::new(),
        tp_rate: Vec::new(),
        fp_rate: Vec::new(),
        net_benefit: Vec::new(),
        standardized_net_benefit: Vec::new(),
        net_interventions_avoided: Vec::new(),
        net_interventions_avoided_per_100: Vec::new(),
    };
    for (&t, &(tp, fp)) in thresholds.iter().zip(counts) {
        let (tp, fp) = (tp as f64, fp as f64);
        let nb = net_benefit(tp, fp, nf, t, harm);
        let nb_all = net_benefit(n_cases as f64, nf - n_cases as f64, nf, t, 0.0);
        let avoided = (nb - nb_all) / (t / (1.0 - t));
        c.test_positive_rate.push((tp + fp) / nf);
        c.tp_rate.push(tp / nf);
        c.fp_rate.push(fp / nf);
        c.net_benefit.push(nb);
        c.standardized_net_benefit.push(nb / prevalence);
        c.net_interventions_avoided.push(avoided);
        c.net_interventions_avoided_per_100.push(100.0 * avoided);
    }
    c
}

/// The decision curve of a risk score (probabilities) against binary outcomes.
pub fn net_benefit_curve(
    risks: &[f64],
    outcomes: &[bool],
    thresholds: &[f64],
    harm: f64,
) -> Result<DecisionCurve, EvalError> {
    let counter = PositiveCounter::new(risks, outcomes, thresholds)?;
    let mut counts = Vec::new();
    let (n_cases, n) = counter.counts(None, &mut counts);
    Ok(curve_from_counts(
        thresholds,
        &counts,
        n_cases as usize,
        n as usize,
        harm,
    ))
}

/// Treat everybody: NB = prevalence − t/(1 − t)·(1 − prevalence).
pub fn treat_all_curve(outcomes: &[bool], thresholds: &[f64]) -> Result<DecisionCurve, EvalError> {
    check_thresholds(thresholds)?;
    let n = outcomes.len();
    let cases = outcomes.iter().filter(|&&o| o).count();
    let counts = vec![(cases as u64, (n - cases) as u64); thresholds.len()];
    Ok(curve_from_counts(thresholds, &counts, cases, n, 0.0))
}

/// Treat nobody: NB = 0.
pub fn treat_none_curve(outcomes: &[bool], thresholds: &[f64]) -> Result<DecisionCurve, EvalError> {
    check_thresholds(thresholds)?;
    let cases = outcomes.iter().filter(|&&o| o).count();
    let counts = vec![(0, 0); thresholds.len()];
    Ok(curve_from_counts(
        thresholds,
        &counts,
        cases,
        outcomes.len(),
        0.0,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_values_are_the_nearest_doubles() {
        let g = threshold_grid(0.01, 0.99, 0.01).expect("valid grid");
        assert_eq!(g.len(), 99);
        for (k, &t) in g.iter().enumerate() {
            assert_eq!(t, (k + 1) as f64 / 100.0);
        }
        assert!(threshold_grid(0.0, 1.0, 0.5).is_err());
        assert!(threshold_grid(0.5, 0.1, 0.1).is_err());
    }

    #[test]
    fn net_benefit_by_hand() {
        // 4 patients, 2 with the outcome; at t = 0.5 risks ≥ 0.5: one case, one control.
        let c = net_benefit_curve(
            &[0.9, 0.6, 0.2, 0.0],
            &[true, false, true, false],
            &[0.0, 0.5],
            0.0,
        )
        .expect("valid");
        assert_eq!(c.net_benefit[1], 1.0 / 4.0 - 1.0 / 4.0);
        // At t = 0 a zero risk tests negative: 2 cases, 1 control positive; odds 0.
        assert_eq!(c.test_positive_rate[0], 0.75);
        assert_eq!(c.net_benefit[0], 0.5);
        let err = net_benefit_curve(&[1.5, 0.1], &[true, false], &[0.1], 0.0);
        assert_eq!(
            err.err(),
            Some(EvalError::NotAProbability {
                index: 0,
                value: 1.5
            })
        );
    }
}
