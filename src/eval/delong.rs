//! DeLong variance, confidence interval and tests for ROC AUCs.
//!
//! Principal items: [`delong_auc`] → [`DelongAuc`], [`delong_paired_test`] → [`DelongPaired`],
//! [`delong_unpaired_test`] → [`DelongUnpaired`], [`placements`] → [`Placements`].
//! References: DeLong, DeLong & Clarke-Pearson (1988), Biometrics 44:837; the fast midrank
//! algorithm of Sun & Xu (2014), IEEE Signal Processing Letters 21:1389; pROC's `var`, `cov`,
//! `ci.auc(method = "delong")` and `roc.test(method = "delong")`, whose numbers these functions
//! reproduce (see `conformance/stats/README.md`): CI on the AUC scale (no logit) clipped to
//! [0, 1]; identical paired curves give z = 0, p = 1; the unpaired test uses Student's t with
//! Welch–Satterthwaite degrees of freedom.

use super::roc::{sort_ascending, tie_groups};
use super::{EvalError, check_binary, check_level, normal_cdf, normal_two_sided_quantile};

/// DeLong placements of one score: the structural components of the AUC.
#[derive(Debug, Clone, PartialEq)]
pub struct Placements {
    /// The AUC (mean of either placement vector).
    pub auc: f64,
    /// One value per case, in data order: the fraction of controls scoring below it, ties ½
    /// (pROC's `X`, Sun & Xu's V10).
    pub case_placements: Vec<f64>,
    /// One value per control, in data order: the fraction of cases scoring above it, ties ½
    /// (pROC's `Y`, Sun & Xu's V01).
    pub control_placements: Vec<f64>,
}

/// Computes the DeLong placements in one pass over the sorted scores (O(n log n)); this is the
/// midrank algorithm of Sun & Xu, with the midranks expressed as counts below and tied.
pub fn placements(scores: &[f64], labels: &[bool]) -> Result<Placements, EvalError> {
    let counts = check_binary(scores, labels)?;
    let (m, n) = (counts.n_cases, counts.n_controls);
    let sorted = sort_ascending(scores);
    // One placement per observation, indexed like the input; split by class at the end.
    let mut by_index = vec![0.0_f64; scores.len()];
    let mut twice_wins: u128 = 0;
    let (mut controls_below, mut cases_below) = (0_usize, 0_usize);
    for group in tie_groups(&sorted) {
        let cases = group.iter().filter(|(_, i)| labels[*i]).count();
        let controls = group.len() - cases;
        // Twice the numerators, so that the half counts of ties stay integers.
        let case_twice = 2 * controls_below + controls;
        let control_twice = 2 * (m - cases_below - cases) + cases;
        let case_value = case_twice as f64 / (2 * n) as f64;
        let control_value = control_twice as f64 / (2 * m) as f64;
        for &(_, i) in group {
            by_index[i] = if labels[i] { case_value } else { control_value };
        }
        twice_wins += cases as u128 * case_twice as u128;
        controls_below += controls;
        cases_below += cases;
    }
    let auc = twice_wins as f64 / (2 * m as u128 * n as u128) as f64;
    let mut case_placements = Vec::with_capacity(m);
    let mut control_placements = Vec::with_capacity(n);
    for (value, &label) in by_index.into_iter().zip(labels) {
        if label {
            case_placements.push(value);
        } else {
            control_placements.push(value);
        }
    }
    Ok(Placements {
        auc,
        case_placements,
        control_placements,
    })
}

/// Σ (a − θa)(b − θb) / (len − 1), pROC's form (centred on the AUC, which is the mean).
fn centred_cross(a: &[f64], theta_a: f64, b: &[f64], theta_b: f64) -> f64 {
    let sum: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - theta_a) * (y - theta_b))
        .sum();
    sum / (a.len() - 1) as f64
}

/// DeLong covariance of two AUCs on the same patients (equal to the variance when `a == b`).
fn covariance(a: &Placements, b: &Placements) -> f64 {
    let m = a.case_placements.len() as f64;
    let n = a.control_placements.len() as f64;
    centred_cross(&a.case_placements, a.auc, &b.case_placements, b.auc) / m
        + centred_cross(&a.control_placements, a.auc, &b.control_placements, b.auc) / n
}

fn require_two_per_class(p: &Placements, what: &'static str) -> Result<(), EvalError> {
    let (n_cases, n_controls) = (p.case_placements.len(), p.control_placements.len());
    if n_cases < 2 || n_controls < 2 {
        return Err(EvalError::TooFewCases {
            what,
            needed: 2,
            n_cases,
            n_controls,
        });
    }
    Ok(())
}

/// One AUC with its DeLong variance and confidence interval.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DelongAuc {
    /// Area under the ROC curve (ties ½).
    pub auc: f64,
    /// DeLong variance of the AUC.
    pub variance: f64,
    /// `auc ∓ z·sqrt(variance)` clipped to [0, 1] (pROC's `ci.auc`, no logit transform).
    pub ci: [f64; 2],
    /// Confidence level of `ci`, e.g. 0.95.
    pub level: f64,
    /// Number of cases (`true` labels).
    pub n_cases: usize,
    /// Number of controls (`false` labels).
    pub n_controls: usize,
}

/// AUC, DeLong variance and CI at `level` (pROC `ci.auc(roc, conf.level = level)` with
/// direction `"<"`). Needs at least two cases and two controls.
pub fn delong_auc(scores: &[f64], labels: &[bool], level: f64) -> Result<DelongAuc, EvalError> {
    check_level(level)?;
    let p = placements(scores, labels)?;
    require_two_per_class(&p, "DeLong variance")?;
    let variance = covariance(&p, &p);
    let half_width = normal_two_sided_quantile(level) * variance.sqrt();
    Ok(DelongAuc {
        auc: p.auc,
        variance,
        ci: [
            (p.auc - half_width).clamp(0.0, 1.0),
            (p.auc + half_width).clamp(0.0, 1.0),
        ],
        level,
        n_cases: p.case_placements.len(),
        n_controls: p.control_placements.len(),
    })
}

/// The alternative hypothesis of a test on `AUC(a) − AUC(b)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Alternative {
    /// AUC(a) ≠ AUC(b).
    #[default]
    TwoSided,
    /// AUC(a) > AUC(b).
    Greater,
    /// AUC(a) < AUC(b).
    Less,
}

/// DeLong test of two correlated AUCs (two scores on the same patients).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DelongPaired {
    /// AUC of the first score.
    pub auc_a: f64,
    /// AUC of the second score.
    pub auc_b: f64,
    /// `auc_a − auc_b` (the sign follows the argument order).
    pub difference: f64,
    /// Two-sided CI of the difference at `level`: `difference ∓ z·σ` (not clipped).
    pub ci: [f64; 2],
    /// `difference / σ`; 0 when both are 0 (identical curves), as pROC.
    pub z: f64,
    /// Two-sided p-value `2·Φ(−|z|)`.
    pub p: f64,
    /// Confidence level of `ci`.
    pub level: f64,
    /// DeLong variance of `auc_a`.
    pub variance_a: f64,
    /// DeLong variance of `auc_b`.
    pub variance_b: f64,
    /// DeLong covariance of the two AUCs (pROC `cov(roc_a, roc_b)`).
    pub covariance: f64,
}

impl DelongPaired {
    /// The p-value for another alternative (pROC `roc.test(..., alternative = ...)`).
    pub fn p_value(&self, alternative: Alternative) -> f64 {
        normal_p_value(self.z, alternative)
    }
}

fn normal_p_value(z: f64, alternative: Alternative) -> f64 {
    match alternative {
        Alternative::TwoSided => 2.0 * normal_cdf(-z.abs()),
        Alternative::Greater => normal_cdf(-z),
        Alternative::Less => normal_cdf(z),
    }
}

/// Paired DeLong test of `AUC(a) − AUC(b)` for two scores of the same patients (pROC
/// `roc.test(roc_a, roc_b)`), with the CI of the difference at `level`.
pub fn delong_paired_test(
    a: &[f64],
    b: &[f64],
    labels: &[bool],
    level: f64,
) -> Result<DelongPaired, EvalError> {
    check_level(level)?;
    if a.len() != b.len() {
        return Err(EvalError::LengthMismatch {
            what: "score a vs score b",
            left: a.len(),
            right: b.len(),
        });
    }
    // The two scores are independent work: sort them on two threads.
    let (pa, pb) = rayon::join(|| placements(a, labels), || placements(b, labels));
    let (pa, pb) = (pa?, pb?);
    require_two_per_class(&pa, "paired DeLong test")?;
    let variance_a = covariance(&pa, &pa);
    let variance_b = covariance(&pb, &pb);
    let cov = covariance(&pa, &pb);
    // Rounding can push a zero variance of the difference slightly below 0.
    let sigma = (variance_a + variance_b - 2.0 * cov).max(0.0).sqrt();
    let difference = pa.auc - pb.auc;
    let z = if difference == 0.0 {
        0.0
    } else {
        difference / sigma
    };
    let half_width = normal_two_sided_quantile(level) * sigma;
    Ok(DelongPaired {
        auc_a: pa.auc,
        auc_b: pb.auc,
        difference,
        ci: [difference - half_width, difference + half_width],
        z,
        p: normal_p_value(z, Alternative::TwoSided),
        level,
        variance_a,
        variance_b,
        covariance: cov,
    })
}

/// DeLong test of two independent AUCs (different patients), as pROC
/// `roc.test(..., paired = FALSE)`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DelongUnpaired {
    /// AUC of the first cohort's score.
    pub auc_a: f64,
    /// AUC of the second cohort's score.
    pub auc_b: f64,
    /// `auc_a − auc_b`.
    pub difference: f64,
    /// `difference / sqrt(var_a + var_b)` (pROC's `D`).
    pub d: f64,
    /// Welch–Satterthwaite degrees of freedom
    /// `(Va + Vb)² / (Va²/(Na − 1) + Vb²/(Nb − 1))`, N = all patients of a cohort.
    pub df: f64,
    /// Two-sided p-value from Student's t with `df` degrees of freedom.
    pub p: f64,
    /// DeLong variance of `auc_a`.
    pub variance_a: f64,
    /// DeLong variance of `auc_b`.
    pub variance_b: f64,
}

impl DelongUnpaired {
    /// The p-value for another alternative.
    pub fn p_value(&self, alternative: Alternative) -> f64 {
        use statrs::distribution::{ContinuousCDF, StudentsT};
        let Ok(t) = StudentsT::new(0.0, 1.0, self.df) else {
            return f64::NAN;
        };
        match alternative {
            Alternative::TwoSided => 2.0 * t.cdf(-self.d.abs()),
            Alternative::Greater => t.cdf(-self.d),
            Alternative::Less => t.cdf(self.d),
        }
    }
}

/// Unpaired DeLong test of `AUC(a) − AUC(b)` for two independent cohorts.
pub fn delong_unpaired_test(
    scores_a: &[f64],
    labels_a: &[bool],
    scores_b: &[f64],
    labels_b: &[bool],
) -> Result<DelongUnpaired, EvalError> {
    let pa = placements(scores_a, labels_a)?;
    let pb = placements(scores_b, labels_b)?;
    require_two_per_class(&pa, "unpaired DeLong test (cohort a)")?;
    require_two_per_class(&pb, "unpaired DeLong test (cohort b)")?;
    let variance_a = covariance(&pa, &pa);
    let variance_b = covariance(&pb, &pb);
    let difference = pa.auc - pb.auc;
    let total = variance_a + variance_b;
    let d = if difference == 0.0 {
        0.0
    } else {
        difference / total.sqrt()
    };
    let df = total * total
        / (variance_a * variance_a / (scores_a.len() - 1) as f64
            + variance_b * variance_b / (scores_b.len() - 1) as f64);
    let mut test = DelongUnpaired {
        auc_a: pa.auc,
        auc_b: pb.auc,
        difference,
        d,
        df,
        p: f64::NAN,
        variance_a,
        variance_b,
    };
    test.p = if d == 0.0 {
        1.0
    } else {
        test.p_value(Alternative::TwoSided)
    };
    Ok(test)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute_placements(scores: &[f64], labels: &[bool]) -> (Vec<f64>, Vec<f64>) {
        let cases: Vec<f64> = (0..scores.len())
            .filter(|&i| labels[i])
            .map(|i| scores[i])
            .collect();
        let controls: Vec<f64> = (0..scores.len())
            .filter(|&i| !labels[i])
            .map(|i| scores[i])
            .collect();
        let psi = |x: f64, y: f64| {
            if x > y {
                1.0
            } else if x == y {
                0.5
            } else {
                0.0
            }
        };
        let v10 = cases
            .iter()
            .map(|&x| controls.iter().map(|&y| psi(x, y)).sum::<f64>() / controls.len() as f64)
            .collect();
        let v01 = controls
            .iter()
            .map(|&y| cases.iter().map(|&x| psi(x, y)).sum::<f64>() / cases.len() as f64)
            .collect();
        (v10, v01)
    }

    #[test]
    fn placements_match_the_pairwise_definition() {
        let scores = [0.3, 0.3, 0.9, 0.1, 0.5, 0.3, 0.5, -0.0, 0.0, 0.7];
        let labels = [
            true, false, true, false, true, false, false, true, false, true,
        ];
        let p = placements(&scores, &labels).expect("valid input");
        let (v10, v01) = brute_placements(&scores, &labels);
        assert_eq!(p.case_placements, v10);
        assert_eq!(p.control_placements, v01);
        let mean: f64 = v10.iter().sum::<f64>() / v10.len() as f64;
        assert!((p.auc - mean).abs() < 1e-15);
    }

    #[test]
    fn identical_curves_give_z_zero_p_one() {
        let s = [0.1, 0.4, 0.35, 0.8, 0.2, 0.9];
        let l = [false, false, true, true, false, true];
        let t = delong_paired_test(&s, &s, &l, 0.95).expect("valid input");
        assert_eq!((t.z, t.p, t.difference), (0.0, 1.0, 0.0));
        assert_eq!(t.ci, [0.0, 0.0]);
    }

    #[test]
    fn variance_needs_two_per_class() {
        let err = delong_auc(&[0.1, 0.2, 0.3], &[true, false, false], 0.95);
        assert!(matches!(
            err,
            Err(EvalError::TooFewCases { n_cases: 1, .. })
        ));
    }

    #[test]
    fn perfect_separation_has_zero_variance_and_clipped_ci() {
        let d = delong_auc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true], 0.95)
            .expect("valid input");
        assert_eq!((d.auc, d.variance, d.ci), (1.0, 0.0, [1.0, 1.0]));
    }
}
