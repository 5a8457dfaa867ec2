//! The [`Statistic`] implementations: AUCs, AUC difference, sensitivity/specificity at a
//! threshold, net benefit and net-benefit difference, each with a closed-form jackknife.

use super::Statistic;
use crate::eval::dca::{PositiveCounter, net_benefit};
use crate::eval::delong::placements;
use crate::eval::roc::{Direction, sort_ascending, tie_groups};
use crate::eval::threshold::called_positive;
use crate::eval::{EvalError, check_binary};

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
            *o = net_benefit(tp as f64, fp as f64, n as f64, t, self.harm);
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
                        net_benefit(tp, fp, n, t, self.harm)
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
