//! ROC analysis: the area under the curve with ties counted ½ (Mann–Whitney), as pROC's `auc`.
//!
//! Principal items: [`auc`], [`Direction`], [`roc_curve`] → [`RocCurve`], [`partial_auc`] (pROC
//! `auc(partial.auc = ...)`, McClish 1989 correction). Scores are compared exactly (no epsilon), so
//! adjacent doubles stay distinct while `-0.0 == 0.0` tie, as R's `<` does. The sort is the only
//! O(n log n) step; everything after it is one pass over groups of tied scores.

use super::{EvalError, check_binary};

/// Which way a score points. radbench fixes [`Direction::CasesHigher`] (pROC `"<"`) for
/// probabilities and never guesses it; [`Direction::CasesLower`] (pROC `">"`) must be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Cases have higher scores: positive iff score ≥ threshold (pROC `direction = "<"`).
    #[default]
    CasesHigher,
    /// Cases have lower scores: positive iff score ≤ threshold (pROC `direction = ">"`).
    CasesLower,
}

impl Direction {
    /// The scores turned so that higher means "case": negated for [`Direction::CasesLower`].
    /// Negation is exact, so ties and order are preserved.
    pub fn orient(self, scores: &[f64]) -> Vec<f64> {
        match self {
            Direction::CasesHigher => scores.to_vec(),
            Direction::CasesLower => scores.iter().map(|s| -s).collect(),
        }
    }
}

/// A total-order key for a non-NaN score: `a < b` as floats iff `key(a) < key(b)`, and
/// `key(-0.0) == key(0.0)` (adding `0.0` turns `-0.0` into `0.0`).
#[inline]
pub(crate) fn order_key(score: f64) -> u64 {
    let bits = (score + 0.0).to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// From this many scores on, the sort runs on rayon's pool (the result is the same: keys
/// paired with indices are all distinct, so the sorted order is unique).
const PARALLEL_SORT_MIN: usize = 65_536;

/// `(key, index)` pairs of the scores in ascending score order, ties in index order.
/// Scores must not be NaN.
pub(crate) fn sort_ascending(scores: &[f64]) -> Vec<(u64, usize)> {
    use rayon::slice::ParallelSliceMut;
    let mut sorted: Vec<(u64, usize)> = scores
        .iter()
        .enumerate()
        .map(|(i, &s)| (order_key(s), i))
        .collect();
    if sorted.len() < PARALLEL_SORT_MIN {
        sorted.sort_unstable();
    } else {
        sorted.par_sort_unstable();
    }
    sorted
}

/// Runs of equal scores in a [`sort_ascending`] result.
pub(crate) fn tie_groups(sorted: &[(u64, usize)]) -> impl Iterator<Item = &[(u64, usize)]> {
    sorted.chunk_by(|a, b| a.0 == b.0)
}

/// Area under the ROC curve: the probability that a random case scores higher than a random
/// control, ties counting ½. `labels[i]` is `true` for a case; higher scores mean "case".
///
/// The result is computed from an exact integer count of (twice) the winning pairs, divided
/// once, so it is the correctly rounded rational whenever the counts fit in 2^53.
pub fn auc(scores: &[f64], labels: &[bool]) -> Result<f64, EvalError> {
    let counts = check_binary(scores, labels)?;
    let sorted = sort_ascending(scores);
    let mut twice_wins: u128 = 0;
    let mut controls_below: u128 = 0;
    for group in tie_groups(&sorted) {
        let cases = group.iter().filter(|(_, i)| labels[*i]).count() as u128;
        let controls = group.len() as u128 - cases;
        twice_wins += cases * (2 * controls_below + controls);
        controls_below += controls;
    }
    let pairs = 2 * counts.n_cases as u128 * counts.n_controls as u128;
    Ok(twice_wins as f64 / pairs as f64)
}

/// The empirical ROC curve, as pROC's `roc(...)` object: one point per threshold.
///
/// Thresholds are -∞, the midpoints between consecutive distinct scores and +∞ (ascending for
/// [`Direction::CasesHigher`], descending for [`Direction::CasesLower`]); sensitivity falls and
/// specificity rises along the vectors. Counts come from cumulative sums, never from comparing
/// scores with a rounded midpoint, so adjacent doubles are split correctly.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RocCurve {
    /// Direction the curve was computed in.
    pub direction: Direction,
    /// Threshold of each point.
    pub thresholds: Vec<f64>,
    /// True-positive rate at each threshold.
    pub sensitivities: Vec<f64>,
    /// True-negative rate at each threshold.
    pub specificities: Vec<f64>,
    /// Cases called positive at each threshold.
    pub true_positives: Vec<usize>,
    /// Controls called positive at each threshold.
    pub false_positives: Vec<usize>,
    /// Number of cases.
    pub n_cases: usize,
    /// Number of controls.
    pub n_controls: usize,
    /// Area under the curve (ties ½).
    pub auc: f64,
}

/// pROC's midpoint between two sorted distinct values: `(a + b) / 2`, or `a/2 + b/2` when
/// that is beyond 1e100 (avoids overflow); gives ±∞ next to ∓∞.
fn midpoint(a: f64, b: f64) -> f64 {
    let halves = a / 2.0 + b / 2.0;
    if halves.abs() > 1e100 {
        halves
    } else {
        (a + b) / 2.0
    }
}

/// The ROC curve of `scores` in `direction` (pROC `roc(response, predictor, direction = ...)`).
pub fn roc_curve(
    scores: &[f64],
    labels: &[bool],
    direction: Direction,
) -> Result<RocCurve, EvalError> {
    let counts = check_binary(scores, labels)?;
    let oriented = direction.orient(scores);
    let sorted = sort_ascending(&oriented);
    let groups: Vec<&[(u64, usize)]> = tie_groups(&sorted).collect();
    let k = groups.len();
    let mut thresholds = Vec::with_capacity(k + 1);
    let (mut tp, mut fp) = (vec![0; k + 1], vec![0; k + 1]);
    // Point j calls positive every group from j on; fill from the top down.
    let (mut cases_above, mut controls_above) = (0, 0);
    for j in (0..k).rev() {
        let cases = groups[j].iter().filter(|(_, i)| labels[*i]).count();
        cases_above += cases;
        controls_above += groups[j].len() - cases;
        tp[j] = cases_above;
        fp[j] = controls_above;
    }
    let value = |j: usize| oriented[groups[j][0].1];
    for j in 0..=k {
        let below = if j == 0 {
            f64::NEG_INFINITY
        } else {
            value(j - 1)
        };
        let above = if j == k { f64::INFINITY } else { value(j) };
        let t = midpoint(below, above);
        thresholds.push(match direction {
            Direction::CasesHigher => t,
            Direction::CasesLower => -t,
        });
    }
    let (m, n) = (counts.n_cases as f64, counts.n_controls as f64);
    let mut twice_wins: u128 = 0;
    for j in 0..k {
        let cases = (tp[j] - tp[j + 1]) as u128;
        let controls = (fp[j] - fp[j + 1]) as u128;
        let controls_below = (counts.n_controls - fp[j]) as u128;
        twice_wins += cases * (2 * controls_below + controls);
    }
    Ok(RocCurve {
        direction,
        sensitivities: tp.iter().map(|&t| t as f64 / m).collect(),
        specificities: fp.iter().map(|&f| 1.0 - f as f64 / n).collect(),
        thresholds,
        true_positives: tp,
        false_positives: fp,
        n_cases: counts.n_cases,
        n_controls: counts.n_controls,
        auc: twice_wins as f64 / (2 * counts.n_cases as u128 * counts.n_controls as u128) as f64,
    })
}

/// The axis a partial AUC is restricted on (pROC `partial.auc.focus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartialFocus {
    /// Integrate sensitivity over a specificity range.
    Specificity,
    /// Integrate specificity over a sensitivity range.
    Sensitivity,
}

/// Partial area under `curve` between `bounds` (either order) on the `focus` axis, as pROC's
/// `auc(roc, partial.auc = bounds, partial.auc.focus = ..., partial.auc.correct = ...)`:
/// trapezoids on the points inside the range plus linearly interpolated borders. With
/// `mcclish_correct` the area is rescaled to [0.5, 1] by McClish (1989):
/// `(1 + (pAUC − min)/(max − min)) / 2`, min being the area under the diagonal.
pub fn partial_auc(
    curve: &RocCurve,
    bounds: [f64; 2],
    focus: PartialFocus,
    mcclish_correct: bool,
) -> f64 {
    let (hi, lo) = (bounds[0].max(bounds[1]), bounds[0].min(bounds[1]));
    // x ascending along the curve; y the other rate.
    let (x, y): (Vec<f64>, Vec<f64>) = match focus {
        PartialFocus::Specificity => (curve.specificities.clone(), curve.sensitivities.clone()),
        PartialFocus::Sensitivity => (
            curve.sensitivities.iter().rev().copied().collect(),
            curve.specificities.iter().rev().copied().collect(),
        ),
    };
    let inside: Vec<usize> = (0..x.len()).filter(|&i| x[i] <= hi && x[i] >= lo).collect();
    let mut area = 0.0;
    for w in inside.windows(2) {
        area += (y[w[1]] + y[w[0]]) / 2.0 * (x[w[1]] - x[w[0]]);
    }
    let first_at_or_above = |limit: f64| x.iter().position(|&v| v >= limit);
    if inside.is_empty() {
        // The whole range lies between two points: interpolate both ends.
        if let Some(i_hi) = first_at_or_above(hi).filter(|&i| i > 0) {
            let i_lo = i_hi - 1;
            let span = x[i_hi] - x[i_lo];
            let y_hi = y[i_hi] + (x[i_hi] - hi) / span * (y[i_lo] - y[i_hi]);
            let y_lo = y[i_lo] - (lo - x[i_lo]) / span * (y[i_lo] - y[i_hi]);
            area = (y_hi + y_lo) / 2.0 * (hi - lo);
        }
    } else {
        if !inside.iter().any(|&i| x[i] == hi)
            && let Some(out) = first_at_or_above(hi).filter(|&i| i > 0)
        {
            let within = out - 1;
            let t = (hi - x[out]) / (x[within] - x[out]);
            let y_border = y[out] + t * (y[within] - y[out]);
            area += (hi - x[within]) * (y[within] + y_border) / 2.0;
        }
        if !inside.iter().any(|&i| x[i] == lo)
            && let Some(within) = x.iter().position(|&v| v > lo).filter(|&i| i > 0)
        {
            let out = within - 1;
            let t = (x[within] - lo) / (x[within] - x[out]);
            let y_border = y[within] + t * (y[out] - y[within]);
            area += (x[within] - lo) * (y[within] + y_border) / 2.0;
        }
    }
    if !mcclish_correct {
        return area;
    }
    // Area under the diagonal y = 1 − x on [lo, hi], and the full rectangle.
    let min = ((1.0 - lo).powi(2) - (1.0 - hi).powi(2)) / 2.0;
    let max = hi - lo;
    (1.0 + (area - min) / (max - min)) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_key_is_monotone_and_merges_signed_zero() {
        let xs = [
            f64::NEG_INFINITY,
            -2.5,
            -1e-300,
            -0.0,
            0.0,
            1e-300,
            3.0,
            f64::INFINITY,
        ];
        for w in xs.windows(2) {
            if w[0] == w[1] {
                assert_eq!(order_key(w[0]), order_key(w[1]));
            } else {
                assert!(order_key(w[0]) < order_key(w[1]), "{w:?}");
            }
        }
    }

    #[test]
    fn large_sorts_equal_small_sorts() {
        let mut state = 0x1234_5678_u64;
        let scores: Vec<f64> = (0..100_000)
            .map(|i| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                if i % 5 == 0 {
                    (state % 50) as f64 / 10.0
                } else {
                    f64::from_bits(state >> 2)
                }
            })
            .collect();
        let mut expected: Vec<(u64, usize)> = scores
            .iter()
            .enumerate()
            .map(|(i, &s)| (order_key(s), i))
            .collect();
        expected.sort_unstable();
        assert_eq!(sort_ascending(&scores), expected);
    }

    #[test]
    fn auc_counts_ties_half() {
        // cases 0.8, 0.4 ; controls 0.4, 0.1: pairs (0.8>0.4)=1, (0.8>0.1)=1, (0.4=0.4)=½, (0.4>0.1)=1
        let auc = auc(&[0.8, 0.4, 0.4, 0.1], &[true, true, false, false]).unwrap_or(f64::NAN);
        assert_eq!(auc, 3.5 / 4.0);
    }

    #[test]
    fn auc_below_half_is_not_flipped() {
        let a = auc(&[0.1, 0.9], &[true, false]).unwrap_or(f64::NAN);
        assert_eq!(a, 0.0);
        let flipped = Direction::CasesLower.orient(&[0.1, 0.9]);
        assert_eq!(auc(&flipped, &[true, false]), Ok(1.0));
    }
}
