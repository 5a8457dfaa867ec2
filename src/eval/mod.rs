//! Evaluation statistics: plain `f64` functions on slices of scores and labels.
//!
//! Principal items: [`roc::auc`] (Mann–Whitney AUC, ties = ½), [`delong::delong_auc`] with
//! [`delong::DelongAuc`] (variance and CI), [`delong::delong_paired_test`] and
//! [`delong::delong_unpaired_test`] (DeLong, DeLong & Clarke-Pearson 1988, computed with the
//! O(n log n) midrank algorithm of Sun & Xu 2014). The conventions are those of pROC
//! (`auc`, `var`, `cov`, `ci.auc`, `roc.test`): labels are `true` for a case (the positive
//! class) and a higher score means "more likely a case" (pROC direction `"<"`). Errors are
//! [`EvalError`].

pub mod bootstrap;
pub mod calibration;
pub mod cv_ttest;
pub mod dca;
pub mod delong;
pub mod multiclass;
pub mod roc;
pub mod roc_band;
pub mod segmentation;
pub mod survival;
pub mod threshold;

/// Why a statistic could not be computed; each variant names the input at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// Scores and labels (or two score vectors) differ in length.
    #[error("{what}: {left} values against {right} values; every case needs one of each")]
    LengthMismatch {
        /// Which pair of inputs disagree, e.g. "scores vs labels".
        what: &'static str,
        /// Length of the first input.
        left: usize,
        /// Length of the second input.
        right: usize,
    },
    /// A score is NaN (infinite scores are allowed: they still sort).
    #[error("score at index {index} is NaN")]
    NanScore {
        /// Zero-based position of the offending score.
        index: usize,
    },
    /// All labels belong to one class.
    #[error("all {n} labels are {class}; ROC analysis needs both cases and controls")]
    OneClass {
        /// Number of labels.
        n: usize,
        /// "cases" or "controls".
        class: &'static str,
    },
    /// Too few cases or controls for the statistic (e.g. a variance needs two of each).
    #[error(
        "{what} needs at least {needed} cases and {needed} controls, \
         got {n_cases} cases and {n_controls} controls"
    )]
    TooFewCases {
        /// The statistic that was asked for.
        what: &'static str,
        /// Minimum number per class.
        needed: usize,
        /// Cases present.
        n_cases: usize,
        /// Controls present.
        n_controls: usize,
    },
    /// A class index outside `0..n_classes`.
    #[error("class {class} at index {index} is outside the {n_classes} classes given")]
    ClassOutOfRange {
        /// Zero-based position of the observation.
        index: usize,
        /// The class index found.
        class: usize,
        /// Number of classes.
        n_classes: usize,
    },
    /// A risk that should be a probability lies outside [0, 1].
    #[error("risk {value} at index {index} is not a probability in [0, 1]")]
    NotAProbability {
        /// Zero-based position of the value.
        index: usize,
        /// The value found.
        value: f64,
    },
    /// A decision threshold outside [0, 1).
    #[error("threshold {value} is outside [0, 1)")]
    InvalidThreshold {
        /// The threshold given.
        value: f64,
    },
    /// A threshold grid that is empty or runs backwards.
    #[error("threshold grid {from}:{to}:{step} is empty or runs backwards")]
    InvalidGrid {
        /// First threshold.
        from: f64,
        /// Last threshold.
        to: f64,
        /// Step.
        step: f64,
    },
    /// A bootstrap with fewer than two replicates.
    #[error("a bootstrap needs at least 2 replicates, got {replicates}")]
    TooFewReplicates {
        /// Replicates asked for.
        replicates: usize,
    },
    /// More observations than a resample index can address.
    #[error("{n} observations exceed the bootstrap limit of 2^32 - 1")]
    TooManyObservations {
        /// Observations given.
        n: usize,
    },
    /// An iterative fit that did not converge.
    #[error("{what} did not converge")]
    NoConvergence {
        /// What was being fitted.
        what: &'static str,
    },
    /// A reliability diagram with no bins.
    #[error("{n_bins} bins asked for; need at least 1")]
    InvalidBins {
        /// Bins asked for.
        n_bins: usize,
    },
    /// A survival time that is negative or not finite.
    #[error("survival time {value} at index {index} is not a finite time >= 0")]
    InvalidTime {
        /// Zero-based position of the time.
        index: usize,
        /// The value found.
        value: f64,
    },
    /// A comparison that needs at least two non-empty groups.
    #[error("the log-rank test needs at least 2 non-empty groups, got {groups}")]
    TooFewGroups {
        /// Non-empty groups found.
        groups: usize,
    },
    /// Voxel spacing that is not positive and finite.
    #[error("voxel spacing {spacing:?} must be positive and finite")]
    InvalidSpacing {
        /// The spacing given.
        spacing: [f64; 3],
    },
    /// Two masks on different grids.
    #[error("mask grids differ: {left:?} vs {right:?} (shape or spacing)")]
    GridMismatch {
        /// Shape of the first mask.
        left: [usize; 3],
        /// Shape of the second mask.
        right: [usize; 3],
    },
    /// A distance that needs a non-empty mask.
    #[error("the {which} mask is empty; surface distances are undefined")]
    EmptyMask {
        /// "first" or "second".
        which: &'static str,
    },
    /// Too few repeated splits (or an empty training set) for a corrected t-test.
    #[error(
        "the corrected resampled t-test needs at least 2 splits and a training set, got {splits} splits with {n_train} training cases"
    )]
    TooFewSplits {
        /// Splits given.
        splits: usize,
        /// Training cases per split.
        n_train: usize,
    },
    /// A count of successes larger than its number of trials.
    #[error("{successes} successes out of {trials} trials")]
    InvalidCount {
        /// Successes given.
        successes: usize,
        /// Trials given.
        trials: usize,
    },
    /// A confidence level outside the open interval (0, 1).
    #[error("confidence level {level} is not strictly between 0 and 1")]
    InvalidLevel {
        /// The level that was given.
        level: f64,
    },
}

/// Numbers of cases (`true` labels) and controls (`false` labels).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassCounts {
    /// Cases: positive class.
    pub n_cases: usize,
    /// Controls: negative class.
    pub n_controls: usize,
}

/// Checks that `scores` and `labels` have the same length, no score is NaN and both classes
/// are present; returns the class counts.
pub fn check_binary(scores: &[f64], labels: &[bool]) -> Result<ClassCounts, EvalError> {
    if scores.len() != labels.len() {
        return Err(EvalError::LengthMismatch {
            what: "scores vs labels",
            left: scores.len(),
            right: labels.len(),
        });
    }
    if let Some(index) = scores.iter().position(|s| s.is_nan()) {
        return Err(EvalError::NanScore { index });
    }
    let n_cases = labels.iter().filter(|&&l| l).count();
    let n_controls = labels.len() - n_cases;
    if n_cases == 0 {
        return Err(EvalError::OneClass {
            n: labels.len(),
            class: "controls",
        });
    }
    if n_controls == 0 {
        return Err(EvalError::OneClass {
            n: labels.len(),
            class: "cases",
        });
    }
    Ok(ClassCounts {
        n_cases,
        n_controls,
    })
}

/// Checks that a confidence level lies strictly between 0 and 1.
pub fn check_level(level: f64) -> Result<(), EvalError> {
    if level > 0.0 && level < 1.0 {
        Ok(())
    } else {
        Err(EvalError::InvalidLevel { level })
    }
}

/// The two-sided standard-normal quantile for a confidence level: z with P(|Z| ≤ z) = level.
pub(crate) fn normal_two_sided_quantile(level: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    Normal::standard().inverse_cdf(1.0 - (1.0 - level) / 2.0)
}

/// Standard-normal CDF Φ(x).
pub(crate) fn normal_cdf(x: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    Normal::standard().cdf(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_binary_names_the_fault() {
        assert_eq!(
            check_binary(&[0.1, 0.2], &[true]),
            Err(EvalError::LengthMismatch {
                what: "scores vs labels",
                left: 2,
                right: 1
            })
        );
        assert_eq!(
            check_binary(&[0.1, f64::NAN], &[true, false]),
            Err(EvalError::NanScore { index: 1 })
        );
        assert!(matches!(
            check_binary(&[0.1, 0.2], &[true, true]),
            Err(EvalError::OneClass { class: "cases", .. })
        ));
        assert_eq!(
            check_binary(&[0.1, 0.2, f64::INFINITY], &[true, false, false]),
            Ok(ClassCounts {
                n_cases: 1,
                n_controls: 2
            })
        );
        assert!(check_level(1.0).is_err() && check_level(0.95).is_ok());
    }
}
