//! Survival analysis: Kaplan–Meier curves, median survival, and the log-rank test.
//!
//! Principal items: [`kaplan_meier`] → [`KaplanMeier`] (Greenwood variance, exponential
//! Greenwood "log(−log)" CI), [`KaplanMeier::median`] → [`MedianSurvival`], [`logrank_test`] →
//! [`LogRank`] (k groups), [`groups_by_threshold`]. The formulas are lifelines'
//! (`KaplanMeierFitter`, `median_survival_times` on the CI bounds,
//! `multivariate_logrank_test`); references: Kaplan & Meier (1958), Greenwood (1926),
//! Kalbfleisch & Prentice (2002) §4.2 for the log(−log) interval, Mantel (1966).

use super::{EvalError, check_level, normal_two_sided_quantile};

/// Checks times (finite, ≥ 0) against events, returning nothing or the first fault.
fn check_survival(times: &[f64], events: &[bool]) -> Result<(), EvalError> {
    if times.len() != events.len() {
        return Err(EvalError::LengthMismatch {
            what: "times vs events",
            left: times.len(),
            right: events.len(),
        });
    }
    if let Some(index) = times.iter().position(|t| !(t.is_finite() && *t >= 0.0)) {
        return Err(EvalError::InvalidTime {
            index,
            value: times[index],
        });
    }
    if times.is_empty() {
        return Err(EvalError::TooFewCases {
            what: "Kaplan–Meier",
            needed: 1,
            n_cases: 0,
            n_controls: 0,
        });
    }
    Ok(())
}

/// Distinct times with the numbers of events and removals (events + censorings) at each.
fn event_table(times: &[f64], events: &[bool]) -> Vec<(f64, usize, usize)> {
    let mut order: Vec<usize> = (0..times.len()).collect();
    order.sort_unstable_by(|&a, &b| times[a].total_cmp(&times[b]));
    let mut table: Vec<(f64, usize, usize)> = Vec::new();
    for i in order {
        let d = usize::from(events[i]);
        match table.last_mut() {
            Some(last) if last.0 == times[i] => {
                last.1 += d;
                last.2 += 1;
            }
            _ => table.push((times[i] + 0.0, d, 1)),
        }
    }
    table
}

/// A Kaplan–Meier curve, one row per distinct observed time (as lifelines' timeline, which
/// also starts with t = 0, S = 1).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct KaplanMeier {
    /// Time of each row (0 first).
    pub times: Vec<f64>,
    /// Number at risk just before the time.
    pub at_risk: Vec<usize>,
    /// Events at the time.
    pub events: Vec<usize>,
    /// Censored at the time.
    pub censored: Vec<usize>,
    /// Survival S(t) just after the time.
    pub survival: Vec<f64>,
    /// Greenwood's Σ d / (n(n − d)) up to the time (variance of log S).
    pub greenwood_sum: Vec<f64>,
    /// Lower CI bound (exponential Greenwood).
    pub lower: Vec<f64>,
    /// Upper CI bound.
    pub upper: Vec<f64>,
    /// Confidence level of the bounds.
    pub level: f64,
}

/// Kaplan–Meier estimate with a `level` CI; `events[i]` is true when observation i had the
/// event at `times[i]` (false: censored then).
pub fn kaplan_meier(times: &[f64], events: &[bool], level: f64) -> Result<KaplanMeier, EvalError> {
    check_level(level)?;
    check_survival(times, events)?;
    let z = normal_two_sided_quantile(level);
    let table = event_table(times, events);
    let mut km = KaplanMeier {
        times: vec![0.0],
        at_risk: vec![times.len()],
        events: vec![0],
        censored: vec![0],
        survival: vec![1.0],
        greenwood_sum: vec![0.0],
        lower: vec![1.0],
        upper: vec![1.0],
        level,
    };
    let (mut at_risk, mut s, mut sum) = (times.len(), 1.0_f64, 0.0_f64);
    for (t, d, removed) in table {
        if t == 0.0 {
            // Fold time-0 rows into lifelines' first row.
            let row = 0;
            km.events[row] += d;
            km.censored[row] += removed - d;
        } else {
            km.times.push(t);
            km.at_risk.push(at_risk);
            km.events.push(d);
            km.censored.push(removed - d);
        }
        let (n, d) = (at_risk as f64, d as f64);
        s *= 1.0 - d / n;
        // Greenwood; n = d (everyone fails) makes the term infinite, as lifelines does.
        sum += d / (n * (n - d));
        at_risk -= removed;
        let last = km.survival.len() - 1;
        if t == 0.0 {
            km.survival[last] = s;
            km.greenwood_sum[last] = sum;
        } else {
            km.survival.push(s);
            km.greenwood_sum.push(sum);
        }
    }
    for (&s, &sum) in km.survival.iter().zip(&km.greenwood_sum) {
        let (lo, hi) = exp_greenwood_bounds(s, sum, z);
        km.lower.push(lo);
        km.upper.push(hi);
    }
    km.lower.drain(..1);
    km.upper.drain(..1);
    Ok(km)
}

/// lifelines' exponential Greenwood bounds: exp(−exp(log(−log S) ∓ z·sqrt(Σ)/log S)).
fn exp_greenwood_bounds(s: f64, greenwood_sum: f64, z: f64) -> (f64, f64) {
    let v = s.ln();
    if v == 0.0 {
        return (1.0, 1.0);
    }
    if s == 0.0 {
        return (0.0, 0.0);
    }
    let spread = z * greenwood_sum.sqrt() / v;
    let bound = |sign: f64| (-((-v).ln() + sign * spread).exp()).exp();
    (bound(-1.0), bound(1.0))
}

/// Median survival with its CI.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MedianSurvival {
    /// First time where S(t) ≤ 0.5; +∞ if the curve never gets there.
    pub median: f64,
    /// The same time on the lower and upper CI curves (lifelines' `median_survival_times`
    /// of the confidence interval): [lower curve's median, upper curve's median].
    pub ci: [f64; 2],
}

fn first_time_at_or_below(times: &[f64], curve: &[f64], q: f64) -> f64 {
    curve
        .iter()
        .position(|&s| s <= q)
        .map_or(f64::INFINITY, |k| times[k])
}

impl KaplanMeier {
    /// Median survival time and its CI.
    pub fn median(&self) -> MedianSurvival {
        MedianSurvival {
            median: first_time_at_or_below(&self.times, &self.survival, 0.5),
            ci: [
                first_time_at_or_below(&self.times, &self.lower, 0.5),
                first_time_at_or_below(&self.times, &self.upper, 0.5),
            ],
        }
    }
}

/// Log-rank test of equal survival across k groups.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LogRank {
    /// Chi-squared statistic.
    pub chi2: f64,
    /// Degrees of freedom (k − 1).
    pub df: usize,
    /// p-value (upper tail of χ²(df)).
    pub p: f64,
    /// Observed events per group.
    pub observed: Vec<f64>,
    /// Expected events per group under equal hazards.
    pub expected: Vec<f64>,
}

/// Solves `a·x = b` for a small symmetric positive-definite matrix (Gaussian elimination
/// with partial pivoting); `None` when singular.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-300 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        for row in col + 1..n {
            let f = a[row][col] / a[col][col];
            let pivot_row = a[col].clone();
            for (x, p) in a[row][col..].iter_mut().zip(&pivot_row[col..]) {
                *x -= f * p;
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let tail: f64 = (row + 1..n).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - tail) / a[row][row];
    }
    Some(x)
}

/// Log-rank test for groups `0..k` (`groups[i]` is observation i's group; every group in
/// `0..k` must be present), using the hypergeometric variance with ties, as lifelines'
/// `multivariate_logrank_test` (equal to `logrank_test` for k = 2).
pub fn logrank_test(
    times: &[f64],
    events: &[bool],
    groups: &[usize],
) -> Result<LogRank, EvalError> {
    check_survival(times, events)?;
    if groups.len() != times.len() {
        return Err(EvalError::LengthMismatch {
            what: "groups vs times",
            left: groups.len(),
            right: times.len(),
        });
    }
    let k = groups.iter().max().map_or(0, |&g| g + 1);
    let mut sizes = vec![0_usize; k];
    for &g in groups {
        sizes[g] += 1;
    }
    if k < 2 || sizes.contains(&0) {
        return Err(EvalError::TooFewGroups {
            groups: sizes.iter().filter(|&&s| s > 0).count(),
        });
    }
    let mut order: Vec<usize> = (0..times.len()).collect();
    order.sort_unstable_by(|&a, &b| times[a].total_cmp(&times[b]));
    let mut at_risk: Vec<f64> = sizes.iter().map(|&s| s as f64).collect();
    let (mut observed, mut expected) = (vec![0.0; k], vec![0.0; k]);
    let mut variance = vec![vec![0.0; k]; k];
    let mut start = 0;
    while start < order.len() {
        let t = times[order[start]];
        let end = start
            + order[start..]
                .iter()
                .take_while(|&&i| times[i] == t)
                .count();
        let mut deaths = vec![0.0; k];
        let mut removed = vec![0.0; k];
        for &i in &order[start..end] {
            removed[groups[i]] += 1.0;
            if events[i] {
                deaths[groups[i]] += 1.0;
            }
        }
        let d: f64 = deaths.iter().sum();
        let n: f64 = at_risk.iter().sum();
        if d > 0.0 {
            for g in 0..k {
                observed[g] += deaths[g];
                expected[g] += d * at_risk[g] / n;
            }
            if n > 1.0 {
                let factor = d * (n - d) / (n - 1.0);
                for g in 0..k {
                    for h in 0..k {
                        let delta = if g == h { 1.0 } else { 0.0 };
                        variance[g][h] += factor * at_risk[g] / n * (delta - at_risk[h] / n);
                    }
                }
            }
        }
        for g in 0..k {
            at_risk[g] -= removed[g];
        }
        start = end;
    }
    // Drop the last group: the k differences sum to zero.
    let diff: Vec<f64> = (0..k - 1).map(|g| observed[g] - expected[g]).collect();
    let v: Vec<Vec<f64>> = variance[..k - 1]
        .iter()
        .map(|row| row[..k - 1].to_vec())
        .collect();
    let solution = solve(v, diff.clone()).ok_or(EvalError::NoConvergence {
        what: "log-rank variance (no events?)",
    })?;
    let chi2: f64 = diff.iter().zip(&solution).map(|(a, b)| a * b).sum();
    use statrs::distribution::{ChiSquared, ContinuousCDF};
    let p = ChiSquared::new((k - 1) as f64).map_or(f64::NAN, |c| c.sf(chi2));
    Ok(LogRank {
        chi2,
        df: k - 1,
        p,
        observed,
        expected,
    })
}

/// Two groups from a covariate: 1 when `value > threshold`, else 0 (e.g. volume above the
/// median). NaN values are an error naming the index.
pub fn groups_by_threshold(values: &[f64], threshold: f64) -> Result<Vec<usize>, EvalError> {
    if let Some(index) = values.iter().position(|v| v.is_nan()) {
        return Err(EvalError::NanScore { index });
    }
    Ok(values.iter().map(|&v| usize::from(v > threshold)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn km_by_hand() {
        // times 1,2,2,3,4 ; events 1,1,0,1,0 → S(1)=4/5, S(2)=4/5·3/4=0.6, S(3)=0.6·1/2=0.3
        let km = kaplan_meier(
            &[1.0, 2.0, 2.0, 3.0, 4.0],
            &[true, true, false, true, false],
            0.95,
        )
        .expect("valid");
        assert_eq!(km.times, vec![0.0, 1.0, 2.0, 3.0, 4.0]);
        assert_eq!(km.at_risk, vec![5, 5, 4, 2, 1]);
        let want = [1.0, 0.8, 0.6, 0.3, 0.3];
        for (s, w) in km.survival.iter().zip(want) {
            assert!((s - w).abs() < 1e-15);
        }
        assert_eq!(km.median().median, 3.0);
        assert!(km.lower.iter().zip(&km.survival).all(|(l, s)| l <= s));
        assert!(kaplan_meier(&[1.0, -1.0], &[true, true], 0.95).is_err());
    }

    #[test]
    fn logrank_two_identical_groups_has_zero_statistic() {
        let t = [1.0, 2.0, 3.0, 1.0, 2.0, 3.0];
        let e = [true, true, false, true, true, false];
        let lr = logrank_test(&t, &e, &[0, 0, 0, 1, 1, 1]).expect("valid");
        assert!(lr.chi2.abs() < 1e-15 && (lr.p - 1.0).abs() < 1e-12);
        assert!(logrank_test(&t, &e, &[0; 6]).is_err());
    }
}
