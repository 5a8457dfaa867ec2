//! ROC analysis: the area under the curve with ties counted ½ (Mann–Whitney), as pROC's `auc`.
//!
//! Principal items: [`auc`], [`Direction`]. Scores are compared exactly (no epsilon), so
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

/// `(key, index)` pairs of the scores in ascending score order. Scores must not be NaN.
pub(crate) fn sort_ascending(scores: &[f64]) -> Vec<(u64, usize)> {
    let mut sorted: Vec<(u64, usize)> = scores
        .iter()
        .enumerate()
        .map(|(i, &s)| (order_key(s), i))
        .collect();
    sorted.sort_unstable();
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
