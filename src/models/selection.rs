//! Feature selection fitted inside each training fold: variance filter, correlation filter,
//! then a univariate-AUC ranking or LASSO-logistic selection, then top-k.
//!
//! Principal types: [`SelectionSpec`] (the `selection = { ... }` settings of any radiomics
//! kind), [`SelectionMethod`] and [`FittedSelection`] (the columns chosen on one fold, with
//! their names for the report). The steps, in order, each on the training rows only:
//! 1. `variance = t`: drop columns whose (population) variance is ≤ t (scikit-learn's
//!    `VarianceThreshold`).
//! 2. `correlation = r`: walk the columns in order and drop a column whose Pearson |r| with an
//!    earlier *kept* column exceeds `r`, so the earlier of a correlated pair stays.
//! 3. `method = "univariate-auc"`: rank by |AUC − 0.5| (Mann–Whitney AUC of the column for
//!    class 1 against class 0; with more classes the mean over class pairs, as Hand & Till's
//!    M), ties to the earlier column, and keep the top `k`. `method = "lasso"`: L1-penalised logistic regression on the
//!    standardised columns ([`super::lasso`]); penalty `l1` or chosen by `inner_folds`-fold
//!    cross-validation; keep the non-zero coefficients (the top `k` by magnitude when `k` is
//!    given).
//!
//! Reference: Guyon & Elisseeff, "An introduction to variable and feature selection", JMLR 3
//! (2003); Ambroise & McLachlan, PNAS 99 (2002) on selection inside cross-validation.

use super::lasso::{lasso_select, top_by_score};
use super::scaling::Standardiser;
use super::{ModelError, SettingsError};
use crate::eval::roc;
use crate::seed::SeededRng;
use ndarray::{ArrayView1, ArrayView2, Axis};
use serde::Deserialize;

/// How columns are ranked after the filters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SelectionMethod {
    /// No ranking: only the filters apply.
    #[default]
    None,
    /// |AUC − 0.5| per column, top `k`.
    UnivariateAuc,
    /// Non-zero coefficients of an L1-penalised logistic regression.
    Lasso,
}

/// Settings of `selection = { ... }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectionSpec {
    /// Drop columns whose training-fold variance is ≤ this.
    #[serde(default)]
    pub variance: Option<f64>,
    /// Drop the later column of any pair with |Pearson r| above this, in (0, 1].
    #[serde(default)]
    pub correlation: Option<f64>,
    /// Ranking after the filters (default none).
    #[serde(default)]
    pub method: SelectionMethod,
    /// Keep at most this many columns (required with `univariate-auc`).
    #[serde(default)]
    pub k: Option<usize>,
    /// LASSO penalty λ on standardised features; chosen by inner cross-validation when absent.
    #[serde(default)]
    pub l1: Option<f64>,
    /// Inner folds choosing the LASSO penalty (default 5).
    #[serde(default)]
    pub inner_folds: Option<usize>,
}

const DEFAULT_INNER_FOLDS: usize = 5;

impl SelectionSpec {
    /// Reads and checks `settings["selection"]`, if present. Errors name the `selection` key,
    /// so the experiment-file error points at its line.
    pub fn from_settings(settings: &toml::Table) -> Result<Option<SelectionSpec>, SettingsError> {
        let Some(value) = settings.get("selection") else {
            return Ok(None);
        };
        let spec: SelectionSpec = value.clone().try_into().map_err(|e: toml::de::Error| {
            SettingsError::for_key("selection", format!("`selection`: {}", e.message().trim()))
        })?;
        spec.check()?;
        Ok(Some(spec))
    }

    /// Rejects values that cannot be used, and keys that the method would ignore.
    pub fn check(&self) -> Result<(), SettingsError> {
        let bad = |message: String| Err(SettingsError::for_key("selection", message));
        if let Some(v) = self.variance
            && !(v.is_finite() && v >= 0.0)
        {
            return bad(format!("`selection.variance` = {v} must be ≥ 0"));
        }
        if let Some(r) = self.correlation
            && !(r > 0.0 && r <= 1.0)
        {
            return bad(format!("`selection.correlation` = {r} must be in (0, 1]"));
        }
        if self.k == Some(0) {
            return bad("`selection.k` must be ≥ 1".into());
        }
        match self.method {
            SelectionMethod::None if self.k.is_some() => {
                return bad(
                    "`selection.k` needs a `method` (\"univariate-auc\" or \"lasso\")".into(),
                );
            }
            SelectionMethod::UnivariateAuc if self.k.is_none() => {
                return bad("`selection.method` = \"univariate-auc\" needs `k`".into());
            }
            _ => {}
        }
        if self.method != SelectionMethod::Lasso
            && (self.l1.is_some() || self.inner_folds.is_some())
        {
            return bad(
                "`selection.l1` and `selection.inner_folds` apply only to method = \"lasso\""
                    .into(),
            );
        }
        if let Some(l1) = self.l1
            && !(l1.is_finite() && l1 > 0.0)
        {
            return bad(format!("`selection.l1` = {l1} must be > 0"));
        }
        if self.l1.is_some() && self.inner_folds.is_some() {
            return bad("`selection.inner_folds` chooses `l1`; give one or the other".into());
        }
        if self.inner_folds.is_some_and(|f| f < 2) {
            return bad("`selection.inner_folds` must be ≥ 2".into());
        }
        Ok(())
    }

    /// Relative cost of fitting the selection, in logistic fits (for shard balancing).
    pub fn relative_cost(&self) -> f64 {
        match (self.method, self.l1) {
            (SelectionMethod::Lasso, None) => {
                (self.inner_folds.unwrap_or(DEFAULT_INNER_FOLDS) + 1) as f64
            }
            (SelectionMethod::Lasso, Some(_)) => 1.0,
            _ => 0.1,
        }
    }

    /// Fits the selection on training rows `x` (finite, columns named `names`) with class
    /// indices `labels`. Errors when the variance filter leaves no column.
    pub fn fit(
        &self,
        model: &str,
        x: ArrayView2<'_, f64>,
        names: &[String],
        labels: &[usize],
        n_classes: usize,
        rng: &mut SeededRng,
    ) -> Result<FittedSelection, ModelError> {
        let p = x.ncols();
        let mut keep: Vec<usize> = (0..p).collect();
        if let Some(threshold) = self.variance {
            keep.retain(|&j| variance(x.column(j)) > threshold);
            if keep.is_empty() {
                return Err(ModelError::Fit {
                    model: model.to_string(),
                    message: format!(
                        "selection kept no feature: all {p} columns have training-fold variance ≤ {threshold}"
                    ),
                });
            }
        }
        if let Some(cut) = self.correlation {
            keep = correlation_filter(x, &keep, cut);
        }
        let mut penalties = None;
        match self.method {
            SelectionMethod::None => {}
            SelectionMethod::UnivariateAuc => {
                let scores: Vec<f64> = keep
                    .iter()
                    .map(|&j| univariate_auc_score(x.column(j), labels, n_classes))
                    .collect();
                let k = self.k.unwrap_or(keep.len());
                keep = top_by_score(&scores, k)
                    .into_iter()
                    .map(|i| keep[i])
                    .collect();
            }
            SelectionMethod::Lasso => {
                let sub = x.select(Axis(1), &keep);
                let z = Standardiser::fit(sub.view()).transform(sub.view());
                let chosen = lasso_select(
                    z.view(),
                    labels,
                    n_classes,
                    self.l1,
                    self.inner_folds.unwrap_or(DEFAULT_INNER_FOLDS),
                    self.k,
                    rng,
                );
                keep = chosen.columns.into_iter().map(|i| keep[i]).collect();
                penalties = Some(chosen.penalties);
            }
        }
        Ok(FittedSelection {
            names: keep.iter().map(|&j| names[j].clone()).collect(),
            columns: keep,
            penalties,
        })
    }
}

/// The columns a selection kept on one training fold.
#[derive(Debug, Clone, PartialEq)]
pub struct FittedSelection {
    columns: Vec<usize>,
    names: Vec<String>,
    penalties: Option<Vec<f64>>,
}

impl FittedSelection {
    /// Kept columns (indices into the columns the selection was fitted on), ascending.
    pub fn columns(&self) -> &[usize] {
        &self.columns
    }

    /// Names of the kept columns.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The LASSO penalty per target class (one for a binary label), when LASSO was used.
    pub fn penalties(&self) -> Option<&[f64]> {
        self.penalties.as_deref()
    }

    /// `{"selected": [names]}`, plus `"l1": [λ per target class]` after LASSO.
    pub fn summary(&self) -> serde_json::Value {
        let mut out = serde_json::Map::new();
        out.insert("selected".into(), serde_json::json!(self.names));
        if let Some(p) = &self.penalties {
            out.insert("l1".into(), serde_json::json!(p));
        }
        serde_json::Value::Object(out)
    }
}

/// Population variance (two-pass).
fn variance(column: ArrayView1<'_, f64>) -> f64 {
    let n = column.len().max(1) as f64;
    let mean = column.sum() / n;
    column.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n
}

/// Keeps, in order, each column whose |r| with every earlier kept column is ≤ `cut`.
/// A constant column correlates with nothing (r taken as 0).
fn correlation_filter(x: ArrayView2<'_, f64>, candidates: &[usize], cut: f64) -> Vec<usize> {
    let unit: Vec<Vec<f64>> = candidates
        .iter()
        .map(|&j| {
            let column = x.column(j);
            let mean = column.sum() / column.len().max(1) as f64;
            let centred: Vec<f64> = column.iter().map(|v| v - mean).collect();
            let norm = centred.iter().map(|v| v * v).sum::<f64>().sqrt();
            if norm > 0.0 {
                centred.iter().map(|v| v / norm).collect()
            } else {
                vec![0.0; centred.len()]
            }
        })
        .collect();
    let mut kept: Vec<usize> = Vec::new();
    for i in 0..candidates.len() {
        let correlated = kept.iter().any(|&l| {
            let r: f64 = unit[i].iter().zip(&unit[l]).map(|(a, b)| a * b).sum();
            r.abs() > cut
        });
        if !correlated {
            kept.push(i);
        }
    }
    kept.into_iter().map(|i| candidates[i]).collect()
}

/// |AUC − 0.5| of one column for class 1 against class 0; with more classes, the mean of
/// |AUC − 0.5| over every pair of classes present in the fold (as Hand & Till's M averages
/// pairwise AUCs), so a column that orders all classes scores as high as one that separates a
/// binary label.
fn univariate_auc_score(column: ArrayView1<'_, f64>, labels: &[usize], n_classes: usize) -> f64 {
    let mut separations = Vec::new();
    for high in 1..n_classes {
        for low in 0..high {
            let (scores, is_high): (Vec<f64>, Vec<bool>) = labels
                .iter()
                .zip(column)
                .filter(|(y, _)| **y == low || **y == high)
                .map(|(y, v)| (*v, *y == high))
                .unzip();
            if let Ok(a) = roc::auc(&scores, &is_high) {
                separations.push((a - 0.5).abs());
            }
        }
    }
    if separations.is_empty() {
        0.0
    } else {
        separations.iter().sum::<f64>() / separations.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::rng_for;
    use ndarray::Array2;
    use rand::RngExt;

    fn spec(text: &str) -> Result<Option<SelectionSpec>, SettingsError> {
        SelectionSpec::from_settings(&toml::from_str(text).unwrap())
    }

    fn names(p: usize) -> Vec<String> {
        (0..p).map(|j| format!("f{j}")).collect()
    }

    /// Columns: 0 noise, 1 strong signal, 2 constant, 3 = 2·col1 + 1 (a copy of the signal),
    /// 4 weak signal, 5 noise.
    fn toy(n: usize) -> (Array2<f64>, Vec<usize>) {
        let mut rng = rng_for(11, &["toy"]);
        let y: Vec<usize> = (0..n).map(|i| usize::from(i % 2 == 0)).collect();
        let mut x = Array2::zeros((n, 6));
        for i in 0..n {
            let s = if y[i] == 1 { 1.0 } else { -1.0 };
            x[[i, 0]] = rng.random::<f64>();
            x[[i, 1]] = s + rng.random::<f64>();
            x[[i, 2]] = 4.0;
            x[[i, 3]] = 2.0 * x[[i, 1]] + 1.0;
            x[[i, 4]] = 0.3 * s + rng.random::<f64>();
            x[[i, 5]] = rng.random::<f64>();
        }
        (x, y)
    }

    fn fit(s: &SelectionSpec, x: &Array2<f64>, y: &[usize], k: usize) -> FittedSelection {
        s.fit("m", x.view(), &names(x.ncols()), y, k, &mut rng_for(1, &[]))
            .unwrap()
    }

    #[test]
    fn filters_then_univariate_auc_keeps_the_informative_columns() {
        let (x, y) = toy(60);
        let s = spec("selection = { variance = 1e-8, correlation = 0.95, method = \"univariate-auc\", k = 2 }")
            .unwrap()
            .unwrap();
        let f = fit(&s, &x, &y, 2);
        // 2 is constant, 3 duplicates 1: the earlier of the pair stays.
        assert_eq!(f.columns(), &[1, 4]);
        assert_eq!(f.summary(), serde_json::json!({"selected": ["f1", "f4"]}));
        // Without the correlation filter the copy of column 1 ties with it and takes the
        // second place (ties go to the earlier column, and both beat column 4).
        let s = spec("selection = { method = \"univariate-auc\", k = 2 }")
            .unwrap()
            .unwrap();
        assert_eq!(fit(&s, &x, &y, 2).columns(), &[1, 3]);
    }

    #[test]
    fn correlation_filter_compares_with_kept_columns_only() {
        // b ≈ a (dropped); c correlates with b above the cut but with a below it: kept.
        let a = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [0.0, 1.0, 2.0, 3.0, 4.0, 6.0];
        let c = [0.0, 1.0, 2.0, 3.0, 5.0, 8.0];
        // r(a, b) = 0.990, r(b, c) = 0.991, r(a, c) = 0.968.
        let x = Array2::from_shape_fn((6, 3), |(i, j)| [a, b, c][j][i]);
        assert_eq!(correlation_filter(x.view(), &[0, 1, 2], 0.98), vec![0, 2]);
        assert_eq!(correlation_filter(x.view(), &[1, 2], 0.98), vec![1]);
        assert_eq!(
            correlation_filter(x.view(), &[0, 1, 2], 0.995),
            vec![0, 1, 2]
        );
    }

    #[test]
    fn lasso_keeps_the_signal_and_reports_its_penalty() {
        let (x, y) = toy(90);
        let s = spec("selection = { variance = 1e-8, correlation = 0.95, method = \"lasso\" }")
            .unwrap()
            .unwrap();
        let f = fit(&s, &x, &y, 2);
        assert!(f.columns().contains(&1), "{f:?}");
        assert!(!f.columns().contains(&2) && !f.columns().contains(&3));
        assert_eq!(f.penalties().map(<[f64]>::len), Some(1));
        assert!(f.summary()["l1"][0].as_f64().is_some_and(|l| l > 0.0));
        let s = spec("selection = { method = \"lasso\", l1 = 0.05, k = 1 }")
            .unwrap()
            .unwrap();
        assert_eq!(fit(&s, &x, &y, 2).columns(), &[1]);
    }

    #[test]
    fn multiclass_ranking_uses_pairwise_aucs() {
        let n = 60;
        let y: Vec<usize> = (0..n).map(|i| i % 3).collect();
        let mut rng = rng_for(5, &["toy"]);
        // Column 1 separates class 2 only; column 2 orders all three classes.
        let x = Array2::from_shape_fn((n, 3), |(i, j)| match j {
            1 => f64::from(u8::from(y[i] == 2)) + rng.random::<f64>(),
            2 => y[i] as f64 + rng.random::<f64>(),
            _ => rng.random::<f64>(),
        });
        let s = spec("selection = { method = \"univariate-auc\", k = 1 }")
            .unwrap()
            .unwrap();
        assert_eq!(fit(&s, &x, &y, 3).columns(), &[2]);
        let s = spec("selection = { method = \"lasso\", k = 2 }")
            .unwrap()
            .unwrap();
        let f = fit(&s, &x, &y, 3);
        assert_eq!(f.columns(), &[1, 2]);
        assert_eq!(f.penalties().map(<[f64]>::len), Some(3));
    }

    #[test]
    fn all_constant_columns_are_an_error() {
        let x = Array2::from_elem((10, 2), 1.0);
        let y: Vec<usize> = (0..10).map(|i| i % 2).collect();
        let s = spec("selection = { variance = 0.0 }").unwrap().unwrap();
        let e = s
            .fit("m", x.view(), &names(2), &y, 2, &mut rng_for(1, &[]))
            .unwrap_err();
        assert!(e.to_string().contains("kept no feature"), "{e}");
    }

    #[test]
    fn bad_settings_name_the_selection_key() {
        for text in [
            "selection = { kk = 3 }",
            "selection = { method = \"univariate-auc\" }",
            "selection = { k = 3 }",
            "selection = { method = \"univariate-auc\", k = 3, l1 = 0.1 }",
            "selection = { method = \"lasso\", l1 = -1.0 }",
            "selection = { method = \"lasso\", inner_folds = 1 }",
            "selection = { correlation = 1.5 }",
            "selection = { method = \"forward\" }",
        ] {
            let e = spec(text).unwrap_err();
            assert_eq!(e.key(), Some("selection"), "{text}: {e}");
        }
        assert_eq!(spec("alpha = 1.0").unwrap(), None);
    }
}
