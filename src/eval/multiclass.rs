//! Multi-class discrimination: one-vs-rest AUCs with DeLong CIs, Hand–Till M, confusion matrix.
//!
//! Principal items: [`one_vs_rest`] → [`OneVsRest`] (scikit-learn `roc_auc_score(multi_class =
//! "ovr")`, macro and prevalence-weighted), [`hand_till`] → [`HandTill`] (Hand & Till 2001,
//! Machine Learning 45:171; pROC `multiclass.roc` with a probability matrix, scikit-learn
//! `multi_class = "ovo"`), [`hand_till_univariate`] (pROC `multiclass.roc` with one score),
//! [`confusion_matrix`] → [`ConfusionMatrix`]. Classes are indices `0..k`; the caller keeps the
//! names. OvR macro and Hand–Till M are different quantities; reports must say which is shown.

use super::delong::{DelongAuc, delong_auc};
use super::roc::{Direction, auc};
use super::threshold::{Proportion, ProportionInterval, proportion_ci};
use super::{EvalError, check_level};

/// Checks that every class index is below `n_classes` and that every column has one score per
/// observation; returns the number of observations per class.
fn check_classes(
    columns: &[&[f64]],
    classes: &[usize],
    n_classes: usize,
) -> Result<Vec<usize>, EvalError> {
    for column in columns {
        if column.len() != classes.len() {
            return Err(EvalError::LengthMismatch {
                what: "probability column vs class labels",
                left: column.len(),
                right: classes.len(),
            });
        }
    }
    let mut sizes = vec![0; n_classes];
    for (index, &class) in classes.iter().enumerate() {
        match sizes.get_mut(class) {
            Some(size) => *size += 1,
            None => {
                return Err(EvalError::ClassOutOfRange {
                    index,
                    class,
                    n_classes,
                });
            }
        }
    }
    Ok(sizes)
}

/// One-vs-rest AUCs.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OneVsRest {
    /// Per class: AUC of its probability column, that class (case) vs all others (controls),
    /// with DeLong variance and CI.
    pub per_class: Vec<DelongAuc>,
    /// Fraction of observations in each class.
    pub prevalence: Vec<f64>,
    /// Unweighted mean of the per-class AUCs.
    pub macro_auc: f64,
    /// Prevalence-weighted mean of the per-class AUCs.
    pub weighted_auc: f64,
}

/// One-vs-rest AUC per class with DeLong CIs at `level`; `columns[c]` holds the score for class
/// `c` of every observation, `classes[i]` the true class of observation `i`.
pub fn one_vs_rest(
    columns: &[&[f64]],
    classes: &[usize],
    level: f64,
) -> Result<OneVsRest, EvalError> {
    check_level(level)?;
    let k = columns.len();
    let sizes = check_classes(columns, classes, k)?;
    let n = classes.len() as f64;
    let mut per_class = Vec::with_capacity(k);
    for (c, column) in columns.iter().enumerate() {
        let labels: Vec<bool> = classes.iter().map(|&y| y == c).collect();
        per_class.push(delong_auc(column, &labels, level)?);
    }
    let prevalence: Vec<f64> = sizes.iter().map(|&s| s as f64 / n).collect();
    let macro_auc = per_class.iter().map(|a| a.auc).sum::<f64>() / k as f64;
    let weighted_auc = per_class
        .iter()
        .zip(&prevalence)
        .map(|(a, p)| a.auc * p)
        .sum();
    Ok(OneVsRest {
        per_class,
        prevalence,
        macro_auc,
        weighted_auc,
    })
}

/// The AUC of one pair of classes.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PairAuc {
    /// The first class of the pair (lower index).
    pub class_i: usize,
    /// The second class of the pair.
    pub class_j: usize,
    /// A(i, j): the pair's AUC (see the function that produced it).
    pub auc: f64,
    /// Direction used for the pair (univariate form only; `CasesHigher` otherwise).
    pub direction: Direction,
}

/// Hand–Till M = 2 / (c(c − 1)) · Σ A(i, j) over class pairs.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HandTill {
    /// The multi-class AUC M.
    pub m: f64,
    /// The class pairs, in order (0,1), (0,2), …, (1,2), …
    pub pairs: Vec<PairAuc>,
    /// Classes left out because no observation has them (pROC drops them with a warning).
    pub empty_classes: Vec<usize>,
}

fn pair_auc(
    score: &[f64],
    classes: &[usize],
    case: usize,
    control: usize,
    direction: Direction,
) -> Result<f64, EvalError> {
    let (scores, labels): (Vec<f64>, Vec<bool>) = classes
        .iter()
        .zip(score)
        .filter(|(y, _)| **y == case || **y == control)
        .map(|(&y, &s)| (s, y == case))
        .unzip();
    auc(&direction.orient(&scores), &labels)
}

/// Multivariate Hand–Till M from a probability matrix: A(i, j) is the mean of the AUC of
/// column i separating class i from class j and of column j separating j from i (ties ½).
/// Classes without observations are dropped and listed.
pub fn hand_till(columns: &[&[f64]], classes: &[usize]) -> Result<HandTill, EvalError> {
    let sizes = check_classes(columns, classes, columns.len())?;
    let present: Vec<usize> = (0..sizes.len()).filter(|&c| sizes[c] > 0).collect();
    let mut pairs = Vec::new();
    for (a, &i) in present.iter().enumerate() {
        for &j in &present[a + 1..] {
            let a_ij = pair_auc(columns[i], classes, i, j, Direction::CasesHigher)?;
            let a_ji = pair_auc(columns[j], classes, j, i, Direction::CasesHigher)?;
            pairs.push(PairAuc {
                class_i: i,
                class_j: j,
                auc: (a_ij + a_ji) / 2.0,
                direction: Direction::CasesHigher,
            });
        }
    }
    finish_hand_till(pairs, present.len(), &sizes)
}

fn finish_hand_till(pairs: Vec<PairAuc>, c: usize, sizes: &[usize]) -> Result<HandTill, EvalError> {
    if c < 2 {
        return Err(EvalError::OneClass {
            n: sizes.iter().sum(),
            class: "one class",
        });
    }
    let total: f64 = pairs.iter().map(|p| p.auc).sum();
    Ok(HandTill {
        m: 2.0 / (c * (c - 1)) as f64 * total,
        pairs,
        empty_classes: (0..sizes.len()).filter(|&k| sizes[k] == 0).collect(),
    })
}

/// How the direction of each class pair is chosen in [`hand_till_univariate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairDirection {
    /// The same direction for every pair: `CasesHigher` means the higher class index has the
    /// higher scores (pROC `direction = "<"`).
    Fixed(Direction),
    /// pROC's `direction = "auto"`, per pair: `CasesHigher` when median(lower class) ≤
    /// median(higher class). Only for reproducing pROC; it can make weak scores look better.
    AutoByMedian,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_unstable_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Univariate Hand–Till M for one ordinal score (pROC `multiclass.roc(response, predictor,
/// levels)`): each pair of `levels` (class indices, in order) is a two-class ROC on the rows of
/// those classes, the earlier level being the control. Levels without observations are
/// dropped and listed; observations of classes outside `levels` are ignored.
pub fn hand_till_univariate(
    score: &[f64],
    classes: &[usize],
    levels: &[usize],
    direction: PairDirection,
) -> Result<HandTill, EvalError> {
    let n_classes = levels.iter().chain(classes).max().map_or(0, |&m| m + 1);
    let sizes = check_classes(&[score], classes, n_classes)?;
    if let Some(index) = score.iter().position(|s| s.is_nan()) {
        return Err(EvalError::NanScore { index });
    }
    let present: Vec<usize> = levels.iter().copied().filter(|&c| sizes[c] > 0).collect();
    let mut pairs = Vec::new();
    for (a, &control) in present.iter().enumerate() {
        for &case in &present[a + 1..] {
            let dir = match direction {
                PairDirection::Fixed(d) => d,
                PairDirection::AutoByMedian => {
                    let of = |k: usize| {
                        classes
                            .iter()
                            .zip(score)
                            .filter(|(y, _)| **y == k)
                            .map(|(_, &s)| s)
                            .collect()
                    };
                    if median(of(control)) <= median(of(case)) {
                        Direction::CasesHigher
                    } else {
                        Direction::CasesLower
                    }
                }
            };
            let a_ij = pair_auc(score, classes, case, control, dir)?;
            pairs.push(PairAuc {
                class_i: control,
                class_j: case,
                auc: a_ij,
                direction: dir,
            });
        }
    }
    let empty_in_levels: Vec<usize> = levels.iter().map(|&c| sizes[c]).collect();
    let mut result = finish_hand_till(pairs, present.len(), &empty_in_levels)?;
    result.empty_classes = levels.iter().copied().filter(|&c| sizes[c] == 0).collect();
    Ok(result)
}

/// A k×k confusion matrix of the arg-max class against the true class.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ConfusionMatrix {
    /// `counts[true_class][predicted_class]`.
    pub counts: Vec<Vec<usize>>,
    /// Fraction on the diagonal, with its CI.
    pub accuracy: Proportion,
}

/// Confusion matrix of the predicted class (the column with the largest score; the lowest
/// index wins a tie) against the true class, and the accuracy with a CI.
pub fn confusion_matrix(
    columns: &[&[f64]],
    classes: &[usize],
    level: f64,
    method: ProportionInterval,
) -> Result<ConfusionMatrix, EvalError> {
    let k = columns.len();
    check_classes(columns, classes, k)?;
    let mut counts = vec![vec![0; k]; k];
    for (i, &truth) in classes.iter().enumerate() {
        let mut predicted = 0;
        for c in 0..k {
            let s = columns[c][i];
            if s.is_nan() {
                return Err(EvalError::NanScore { index: i });
            }
            if s > columns[predicted][i] {
                predicted = c;
            }
        }
        counts[truth][predicted] += 1;
    }
    let correct: usize = (0..k).map(|c| counts[c][c]).sum();
    let n = classes.len();
    Ok(ConfusionMatrix {
        counts,
        accuracy: Proportion {
            value: correct as f64 / n as f64,
            successes: correct,
            trials: n,
            ci: proportion_ci(correct, n, level, method)?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_till_equals_ovo_on_a_small_example() {
        // Three classes, probabilities; every pair perfectly ordered except one swap.
        let p0 = [0.8, 0.7, 0.1, 0.2, 0.1, 0.1];
        let p1 = [0.1, 0.2, 0.8, 0.3, 0.2, 0.2];
        let p2 = [0.1, 0.1, 0.1, 0.5, 0.7, 0.7];
        let y = [0, 0, 1, 1, 2, 2];
        let ht = hand_till(&[&p0, &p1, &p2], &y).expect("valid");
        // Pair (1,2): column 1 ranks class 1 {0.8, 0.3} vs class 2 {0.2, 0.2} → 1; column 2
        // ranks class 2 {0.7, 0.7} vs class 1 {0.1, 0.5} → 1. All pairs 1 → M = 1.
        assert_eq!(ht.m, 1.0);
        let ovr = one_vs_rest(&[&p0, &p1, &p2], &y, 0.95);
        assert!(matches!(ovr, Err(EvalError::TooFewCases { .. })) || ovr.is_ok());
    }

    #[test]
    fn confusion_matrix_counts_argmax() {
        let p0 = [0.6, 0.2, 0.5];
        let p1 = [0.4, 0.8, 0.5];
        let cm = confusion_matrix(&[&p0, &p1], &[0, 1, 1], 0.95, ProportionInterval::Wilson)
            .expect("valid");
        assert_eq!(cm.counts, vec![vec![1, 0], vec![1, 1]]);
        assert_eq!(cm.accuracy.successes, 2);
        assert!(matches!(
            confusion_matrix(&[&p0, &p1], &[0, 2, 1], 0.95, ProportionInterval::Wilson),
            Err(EvalError::ClassOutOfRange { index: 1, .. })
        ));
    }
}
