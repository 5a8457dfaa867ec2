//! L1-penalised (LASSO) logistic regression for feature selection, fitted by cyclic coordinate
//! descent on standardised features, with the penalty given or chosen by inner cross-validation.
//!
//! Principal items: [`L1Path`] (a fit along a decreasing penalty path, warm-started) and
//! [`lasso_select`] (the columns with a non-zero coefficient). Reference: Friedman, Hastie &
//! Tibshirani, "Regularization paths for generalized linear models via coordinate descent",
//! J. Stat. Softw. 33 (2010) — glmnet's objective, penalty path (λ_max down to 0.01·λ_max),
//! active-set sweeps and `lambda.min` rule. Instead of glmnet's reweighted inner loop, each
//! coordinate takes a proximal Newton step with its exact curvature when that lowers the
//! objective, else the step on the quadratic majoriser with the logistic curvature bound
//! ¼·mean(x²) (Böhning's bound), so every step lowers the objective without a line search.
//!
//! Objective, per target class (binary: class 1; more classes: each class against the rest):
//! `mean_i [log(1 + e^{η_i}) − y_i η_i] + λ Σ_j |β_j|`, `η = β₀ + x·β`, intercept unpenalised.

use crate::data::split::shuffle;
use crate::seed::SeededRng;
use ndarray::ArrayView2;

/// Penalties on the path when `l1` is chosen by cross-validation.
const PATH_LENGTH: usize = 20;
/// Smallest penalty on the path, as a fraction of the largest (glmnet's default when n < p).
const PATH_RATIO: f64 = 0.01;
/// Stop when no coordinate moves more than this (in units of its curvature bound).
const TOLERANCE: f64 = 1e-7;
/// Most coordinate sweeps per penalty.
const MAX_SWEEPS: usize = 5_000;

/// Columns of a design matrix, stored column by column for coordinate descent.
struct Design {
    columns: Vec<Vec<f64>>,
    n: usize,
}

impl Design {
    fn from_rows(x: ArrayView2<'_, f64>, rows: &[usize]) -> Design {
        let columns = (0..x.ncols())
            .map(|j| rows.iter().map(|&i| x[[i, j]]).collect())
            .collect();
        Design {
            columns,
            n: rows.len(),
        }
    }

    /// Gradient of the mean loss at β = 0 with the intercept at its optimum, per column:
    /// `mean_i x_ij (ȳ − y_i)`; the largest magnitude is the smallest penalty that keeps
    /// every coefficient at zero.
    fn null_gradient(&self, y: &[f64]) -> Vec<f64> {
        let n = self.n.max(1) as f64;
        let y_mean = y.iter().sum::<f64>() / n;
        self.columns
            .iter()
            .map(|c| c.iter().zip(y).map(|(x, y)| x * (y_mean - y)).sum::<f64>() / n)
            .collect()
    }
}

/// Coefficients of one L1-penalised logistic fit, warm-startable along a penalty path.
#[derive(Debug, Clone, PartialEq)]
pub struct L1Path {
    /// Intercept.
    pub intercept: f64,
    /// One coefficient per column (on the standardised scale).
    pub coefficients: Vec<f64>,
}

impl L1Path {
    fn zeros(p: usize) -> L1Path {
        L1Path {
            intercept: 0.0,
            coefficients: vec![0.0; p],
        }
    }

    /// Moves the coefficients to the minimum of the objective at `lambda`, starting from the
    /// current ones, one coordinate at a time.
    fn descend(&mut self, design: &Design, y: &[f64], lambda: f64) {
        let n = design.n.max(1) as f64;
        let ones = vec![1.0; design.n];
        let bounds: Vec<f64> = design
            .columns
            .iter()
            .map(|c| c.iter().map(|v| v * v).sum::<f64>() / (4.0 * n))
            .collect();
        let mut eta: Vec<f64> = vec![self.intercept; design.n];
        for (column, &b) in design.columns.iter().zip(&self.coefficients) {
            if b != 0.0 {
                for (e, x) in eta.iter_mut().zip(column) {
                    *e += b * x;
                }
            }
        }
        let mut active_only = false;
        for _ in 0..MAX_SWEEPS {
            let mut step = CoordinateStep {
                y,
                eta: &mut eta,
                n,
            };
            let mut largest_move = step.take(&ones, 0.25, 0.0, &mut self.intercept);
            for (j, column) in design.columns.iter().enumerate() {
                let b = &mut self.coefficients[j];
                if bounds[j] <= 0.0 || (active_only && *b == 0.0) {
                    continue;
                }
                largest_move = largest_move.max(step.take(column, bounds[j], lambda, b));
            }
            // glmnet's active-set strategy: iterate on the non-zero coefficients until they
            // settle, then confirm with a sweep over every column.
            if largest_move < TOLERANCE {
                if !active_only {
                    break;
                }
                active_only = false;
            } else {
                active_only = true;
            }
        }
    }
}

/// One coordinate update of the penalised loss, with the linear predictor it moves.
struct CoordinateStep<'a> {
    y: &'a [f64],
    eta: &'a mut [f64],
    n: f64,
}

impl CoordinateStep<'_> {
    /// Updates `beta` (the coefficient of `column`) by a proximal Newton step with the exact
    /// curvature when that lowers the objective, else by the step on the majoriser with the
    /// curvature bound `bound` (which always does); returns the move scaled by √bound.
    fn take(&mut self, column: &[f64], bound: f64, lambda: f64, beta: &mut f64) -> f64 {
        let (mut gradient, mut curvature) = (0.0, 0.0);
        for ((x, e), y) in column.iter().zip(self.eta.iter()).zip(self.y) {
            let p = sigmoid(*e);
            gradient += x * (p - y);
            curvature += x * x * p * (1.0 - p);
        }
        gradient /= self.n;
        curvature /= self.n;
        let b = *beta;
        let mut target = soft_threshold(bound * b - gradient, lambda) / bound;
        if curvature > 0.0 {
            let newton = soft_threshold(curvature * b - gradient, lambda) / curvature;
            let change = newton - b;
            if change != 0.0 && newton.is_finite() {
                let loss_change = column
                    .iter()
                    .zip(self.eta.iter())
                    .zip(self.y)
                    .map(|((x, e), y)| softplus(e + change * x) - softplus(*e) - y * change * x)
                    .sum::<f64>()
                    / self.n;
                if loss_change + lambda * (newton.abs() - b.abs()) < 0.0 {
                    target = newton;
                }
            }
        }
        let change = target - b;
        if change != 0.0 {
            *beta = target;
            for (e, x) in self.eta.iter_mut().zip(column) {
                *e += change * x;
            }
        }
        change.abs() * bound.sqrt()
    }
}

/// log(1 + e^t), without overflow.
fn softplus(t: f64) -> f64 {
    if t > 0.0 {
        t + (-t).exp().ln_1p()
    } else {
        t.exp().ln_1p()
    }
}

fn sigmoid(t: f64) -> f64 {
    1.0 / (1.0 + (-t).exp())
}

fn soft_threshold(z: f64, lambda: f64) -> f64 {
    if z > lambda {
        z - lambda
    } else if z < -lambda {
        z + lambda
    } else {
        0.0
    }
}

/// Total logistic loss `Σ log(1 + e^η) − yη` of `rows` under `fit`, computed stably.
fn held_out_loss(fit: &L1Path, x: ArrayView2<'_, f64>, y: &[f64], rows: &[usize]) -> f64 {
    rows.iter()
        .map(|&i| {
            let eta = fit.intercept
                + fit
                    .coefficients
                    .iter()
                    .enumerate()
                    .map(|(j, b)| b * x[[i, j]])
                    .sum::<f64>();
            softplus(eta) - y[i] * eta
        })
        .sum()
}

/// What [`lasso_select`] chose.
#[derive(Debug, Clone, PartialEq)]
pub struct LassoSelection {
    /// Chosen columns (indices into the columns given), ascending.
    pub columns: Vec<usize>,
    /// The penalty used for each target class (one for a binary label).
    pub penalties: Vec<f64>,
}

/// Selects the columns of standardised `x` with a non-zero L1-logistic coefficient (for any
/// target class), keeping the `k` largest |coefficients| when `k` is given. The penalty is
/// `l1`, or chosen per target class by `inner_folds`-fold stratified cross-validation on these
/// rows (lowest held-out deviance; ties go to the larger penalty). When the penalty zeroes
/// every coefficient, the column that enters the path first is kept, so that the model after
/// the selection always has an input.
pub fn lasso_select(
    x: ArrayView2<'_, f64>,
    labels: &[usize],
    n_classes: usize,
    l1: Option<f64>,
    inner_folds: usize,
    k: Option<usize>,
    rng: &mut SeededRng,
) -> LassoSelection {
    let all_rows: Vec<usize> = (0..x.nrows()).collect();
    let design = Design::from_rows(x, &all_rows);
    let p = x.ncols();
    // Folds are drawn once (whether used or not) so that the stream does not depend on `l1`.
    let fold_of_row = stratified_folds(labels, n_classes, inner_folds, rng);
    let targets: Vec<usize> = if n_classes == 2 {
        vec![1]
    } else {
        (0..n_classes).filter(|&c| labels.contains(&c)).collect()
    };
    let mut score = vec![0.0f64; p];
    let mut entry = vec![0.0f64; p];
    let mut penalties = Vec::with_capacity(targets.len());
    for &target in &targets {
        let y: Vec<f64> = labels
            .iter()
            .map(|&c| f64::from(u8::from(c == target)))
            .collect();
        let null = design.null_gradient(&y);
        for (e, g) in entry.iter_mut().zip(&null) {
            *e = e.max(g.abs());
        }
        let lambda_max = null.iter().fold(0.0f64, |m, g| m.max(g.abs()));
        let (lambda, fit) = match l1 {
            Some(lambda) => {
                let mut fit = L1Path::zeros(p);
                fit.descend(&design, &y, lambda);
                (lambda, fit)
            }
            None => {
                let path = penalty_path(lambda_max);
                let best = cross_validate(x, &y, &fold_of_row, inner_folds, &path);
                let mut fit = L1Path::zeros(p);
                for &lambda in &path[..=best] {
                    fit.descend(&design, &y, lambda);
                }
                (path[best], fit)
            }
        };
        penalties.push(lambda);
        for (s, b) in score.iter_mut().zip(&fit.coefficients) {
            *s = s.max(b.abs());
        }
    }
    let mut chosen: Vec<usize> = (0..p).filter(|&j| score[j] > 0.0).collect();
    if chosen.is_empty() {
        chosen = top_by_score(&entry, 1);
    } else if let Some(k) = k
        && chosen.len() > k
    {
        let masked: Vec<f64> = (0..p)
            .map(|j| if score[j] > 0.0 { score[j] } else { -1.0 })
            .collect();
        chosen = top_by_score(&masked, k);
    }
    LassoSelection {
        columns: chosen,
        penalties,
    }
}

/// The `k` indices with the largest scores (ties: the lower index), returned ascending.
pub(crate) fn top_by_score(scores: &[f64], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    // Stable sort: equal scores keep column order.
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    order.truncate(k);
    order.sort_unstable();
    order
}

/// Geometric penalties from `lambda_max` down to `PATH_RATIO · lambda_max`.
fn penalty_path(lambda_max: f64) -> Vec<f64> {
    (0..PATH_LENGTH)
        .map(|t| lambda_max * PATH_RATIO.powf(t as f64 / (PATH_LENGTH - 1) as f64))
        .collect()
}

/// Index on `path` of the penalty with the lowest pooled held-out loss over the inner folds.
fn cross_validate(
    x: ArrayView2<'_, f64>,
    y: &[f64],
    fold_of_row: &[usize],
    folds: usize,
    path: &[f64],
) -> usize {
    let mut loss = vec![0.0; path.len()];
    for fold in 0..folds {
        let (held_out, train): (Vec<usize>, Vec<usize>) =
            (0..y.len()).partition(|&i| fold_of_row[i] == fold);
        if held_out.is_empty() || train.is_empty() {
            continue;
        }
        let design = Design::from_rows(x, &train);
        let y_train: Vec<f64> = train.iter().map(|&i| y[i]).collect();
        let mut fit = L1Path::zeros(x.ncols());
        for (t, &lambda) in path.iter().enumerate() {
            fit.descend(&design, &y_train, lambda);
            loss[t] += held_out_loss(&fit, x, y, &held_out);
        }
    }
    // The first minimum: the largest penalty among equals.
    (0..path.len())
        .min_by(|&a, &b| loss[a].total_cmp(&loss[b]).then(a.cmp(&b)))
        .unwrap_or(0)
}

/// Stratified inner folds: each class's rows shuffled, then dealt round-robin.
fn stratified_folds(
    labels: &[usize],
    n_classes: usize,
    folds: usize,
    rng: &mut SeededRng,
) -> Vec<usize> {
    let mut fold_of_row = vec![0; labels.len()];
    let mut next = 0;
    for class in 0..n_classes {
        let mut members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        shuffle(&mut members, rng);
        for i in members {
            fold_of_row[i] = next % folds.max(1);
            next += 1;
        }
    }
    fold_of_row
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::scaling::Standardiser;
    use crate::seed::rng_for;
    use ndarray::Array2;
    use rand::RngExt;

    /// Columns 0 and 2 carry the signal; 1, 3, 4 are noise.
    fn toy(n: usize, seed: u64) -> (Array2<f64>, Vec<usize>) {
        let mut rng = rng_for(seed, &["toy"]);
        let y: Vec<usize> = (0..n).map(|i| usize::from(i % 3 == 0)).collect();
        let x = Array2::from_shape_fn((n, 5), |(i, j)| {
            let noise: f64 = rng.random::<f64>() - 0.5;
            let signal = if y[i] == 1 { 1.0 } else { -1.0 };
            match j {
                0 => signal + noise,
                2 => 0.6 * signal + noise,
                _ => 2.0 * noise,
            }
        });
        let z = Standardiser::fit(x.view()).transform(x.view());
        (z, y)
    }

    #[test]
    fn zero_at_lambda_max_and_informative_columns_enter_first() {
        let (x, y) = toy(90, 1);
        let yf: Vec<f64> = y.iter().map(|&c| c as f64).collect();
        let rows: Vec<usize> = (0..90).collect();
        let design = Design::from_rows(x.view(), &rows);
        let lambda_max = design
            .null_gradient(&yf)
            .iter()
            .fold(0.0f64, |m, g| m.max(g.abs()));
        let mut fit = L1Path::zeros(5);
        fit.descend(&design, &yf, lambda_max * 1.0001);
        assert!(fit.coefficients.iter().all(|&b| b == 0.0));
        // The intercept alone converges to the log-odds of the prevalence.
        assert!(
            (fit.intercept - (1.0f64 / 2.0).ln()).abs() < 1e-5,
            "{}",
            fit.intercept
        );
        fit.descend(&design, &yf, lambda_max * 0.5);
        let nonzero: Vec<usize> = (0..5).filter(|&j| fit.coefficients[j] != 0.0).collect();
        assert_eq!(nonzero, vec![0]);
    }

    #[test]
    fn stationary_point_satisfies_the_lasso_conditions() {
        let (x, y) = toy(90, 2);
        let yf: Vec<f64> = y.iter().map(|&c| c as f64).collect();
        let rows: Vec<usize> = (0..90).collect();
        let design = Design::from_rows(x.view(), &rows);
        let lambda = 0.02;
        let mut fit = L1Path::zeros(5);
        fit.descend(&design, &yf, lambda);
        // KKT: gradient = −λ·sign(β) where β ≠ 0, |gradient| ≤ λ where β = 0.
        for j in 0..5 {
            let g: f64 = (0..90)
                .map(|i| {
                    let eta = fit.intercept
                        + (0..5).map(|l| fit.coefficients[l] * x[[i, l]]).sum::<f64>();
                    x[[i, j]] * (sigmoid(eta) - yf[i])
                })
                .sum::<f64>()
                / 90.0;
            let b = fit.coefficients[j];
            if b == 0.0 {
                assert!(g.abs() <= lambda + 1e-6, "column {j}: {g}");
            } else {
                assert!(
                    (g + lambda * b.signum()).abs() < 1e-5,
                    "column {j}: {g} {b}"
                );
            }
        }
    }

    #[test]
    fn cross_validated_selection_keeps_the_signal_and_is_seeded() {
        let (x, y) = toy(120, 3);
        let a = lasso_select(x.view(), &y, 2, None, 5, None, &mut rng_for(1, &[]));
        let b = lasso_select(x.view(), &y, 2, None, 5, None, &mut rng_for(1, &[]));
        assert_eq!(a, b);
        assert!(a.columns.contains(&0) && a.columns.contains(&2), "{a:?}");
        let top1 = lasso_select(x.view(), &y, 2, None, 5, Some(1), &mut rng_for(1, &[]));
        assert_eq!(top1.columns, vec![0]);
        // A penalty above λ_max zeroes everything: the first column to enter is kept.
        let none = lasso_select(x.view(), &y, 2, Some(10.0), 5, None, &mut rng_for(1, &[]));
        assert_eq!(none.columns, vec![0]);
        assert_eq!(none.penalties, vec![10.0]);
    }
}
