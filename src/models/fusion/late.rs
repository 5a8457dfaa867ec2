//! Late fusion (stacking, Wolpert 1992): each member's class probabilities on the training
//! fold come from an inner stratified k-fold (the member fitted on the other inner folds), a
//! logistic meta-learner is fitted on those out-of-fold probabilities, and each member is
//! refitted on the whole training fold for the predictions. The meta-learner reads, per member,
//! logit P(class 1) for a binary label and log P(class c) for every class otherwise
//! (probabilities clipped to [1e-6, 1 − 1e-6]).
//!
//! Randomness: the inner folds are dealt from the cell's stream; each member fit (inner or
//! final) draws from a stream named by a seed taken from the cell's stream, the member id and
//! the inner fold, so members never share draws.

use super::super::{
    Fitted, Model, ModelError, PredictData, SettingsError, TrainingData, check_training_data,
    kind_by_name,
};
use super::parse;
use crate::models::CaseImages;
use crate::seed::{SeededRng, rng_for};
use linfa::prelude::*;
use linfa_logistic::{
    FittedLogisticRegression, LogisticRegression, MultiFittedLogisticRegression,
    MultiLogisticRegression,
};
use ndarray::{Array1, Array2, Axis};
use rand::{Rng, RngExt};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Settings of `strategy = "late"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct LateSpec {
    /// Member models, each a settings table with `id` and `kind`.
    members: Vec<toml::Table>,
    /// Inner folds for the out-of-fold member probabilities (default 5).
    #[serde(default = "default_inner_folds")]
    inner_folds: usize,
    /// The meta-learner.
    #[serde(default)]
    meta: MetaSpec,
}

fn default_inner_folds() -> usize {
    5
}

/// Settings of the logistic meta-learner.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct MetaSpec {
    /// L2 penalty (linfa's `alpha`).
    alpha: f64,
    /// Maximum L-BFGS iterations.
    max_iter: u64,
}

impl Default for MetaSpec {
    fn default() -> Self {
        MetaSpec {
            alpha: 1.0,
            max_iter: 200,
        }
    }
}

/// An unfitted late-fusion model.
pub(super) struct LateFusion {
    id: String,
    spec: LateSpec,
    members: Vec<(String, Box<dyn Model>)>,
}

impl LateFusion {
    pub(super) fn build(id: &str, settings: &toml::Table) -> Result<Box<dyn Model>, SettingsError> {
        let spec: LateSpec = parse(settings)?;
        if spec.members.len() < 2 {
            return Err(SettingsError::for_key(
                "members",
                "late fusion needs at least two `members`",
            ));
        }
        if spec.inner_folds < 2 {
            return Err(SettingsError::for_key(
                "inner_folds",
                "`inner_folds` must be at least 2",
            ));
        }
        if !(spec.meta.alpha.is_finite() && spec.meta.alpha >= 0.0) {
            return Err(SettingsError::for_key("alpha", "`meta.alpha` must be ≥ 0"));
        }
        if spec.meta.max_iter == 0 {
            return Err(SettingsError::for_key(
                "max_iter",
                "`meta.max_iter` must be ≥ 1",
            ));
        }
        let mut members: Vec<(String, Box<dyn Model>)> = Vec::new();
        for (i, table) in spec.members.iter().enumerate() {
            let mut table = table.clone();
            let text = |key: &str, table: &mut toml::Table| match table.remove(key) {
                Some(toml::Value::String(s)) if !s.is_empty() => Ok(s),
                _ => Err(SettingsError::for_key(
                    "members",
                    format!("members[{i}] needs a string `{key}`"),
                )),
            };
            let member_id = text("id", &mut table)?;
            let kind = text("kind", &mut table)?;
            if members.iter().any(|(m, _)| *m == member_id) {
                return Err(SettingsError::for_key(
                    "members",
                    format!("member id {member_id:?} appears twice"),
                ));
            }
            let model = kind_by_name(&kind)
                .and_then(|k| k.build(&format!("{id}/{member_id}"), &table))
                .map_err(|e| {
                    SettingsError::for_key(
                        e.key().unwrap_or("members"),
                        format!("member {member_id:?}: {e}"),
                    )
                })?;
            members.push((member_id, model));
        }
        Ok(Box::new(LateFusion {
            id: id.to_string(),
            spec,
            members,
        }))
    }
}

/// Inner fold of each row: within each class, patients are shuffled and dealt round-robin, so
/// every inner fold gets each class in proportion and a patient's cases stay in one fold (a
/// patient counts in the class of their first case). With one case per patient (or no patient
/// ids) the units are the rows themselves, drawn exactly as before patients were known. The
/// number of folds is lowered to the smallest class size (at least 2) so that every inner
/// training part holds every class.
fn inner_folds(
    labels: &[usize],
    patients: &[&str],
    n_classes: usize,
    k: usize,
    rng: &mut SeededRng,
) -> Vec<usize> {
    // Units of the deal: each a patient's rows, in order of first appearance.
    // (`check_training_data` has checked that non-empty ids match the rows.)
    let units: Vec<Vec<usize>> = if !patients.is_empty() {
        let mut index: BTreeMap<&str, usize> = BTreeMap::new();
        let mut units: Vec<Vec<usize>> = Vec::new();
        for (row, p) in patients.iter().enumerate() {
            let u = *index.entry(p).or_insert_with(|| {
                units.push(Vec::new());
                units.len() - 1
            });
            units[u].push(row);
        }
        units
    } else {
        (0..labels.len()).map(|row| vec![row]).collect()
    };
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for (u, rows) in units.iter().enumerate() {
        by_class[labels[rows[0]]].push(u);
    }
    let smallest = by_class
        .iter()
        .map(Vec::len)
        .filter(|&n| n > 0)
        .min()
        .unwrap_or(2);
    let k = k.min(smallest).max(2);
    let mut fold = vec![0; labels.len()];
    let mut next = 0;
    for members in &mut by_class {
        for i in (1..members.len()).rev() {
            let j = rng.random_range(0..=i);
            members.swap(i, j);
        }
        for &u in members.iter() {
            for &row in &units[u] {
                fold[row] = next % k;
            }
            next += 1;
        }
    }
    fold
}

/// The rows `idx` of `data`.
struct Subset<'a> {
    features: Array2<f64>,
    labels: Vec<usize>,
    patients: Vec<&'a str>,
}

fn subset<'a>(data: &TrainingData<'a>, idx: &[usize]) -> Subset<'a> {
    Subset {
        features: data.features.select(Axis(0), idx),
        labels: idx.iter().map(|&i| data.labels[i]).collect(),
        patients: if data.patients.is_empty() {
            Vec::new()
        } else {
            idx.iter().map(|&i| data.patients[i]).collect()
        },
    }
}

fn images_of<'a>(data: &TrainingData<'a>, idx: &[usize]) -> Vec<&'a CaseImages> {
    if data.images.is_empty() {
        Vec::new()
    } else {
        idx.iter().map(|&i| data.images[i]).collect()
    }
}

/// The meta-learner's inputs from the members' probability matrices.
fn meta_inputs(probas: &[Array2<f64>], n_classes: usize) -> Array2<f64> {
    let n = probas.first().map_or(0, Array2::nrows);
    let per_member = if n_classes == 2 { 1 } else { n_classes };
    let mut x = Array2::zeros((n, per_member * probas.len()));
    let clip = |p: f64| p.clamp(1e-6, 1.0 - 1e-6);
    for (m, p) in probas.iter().enumerate() {
        for i in 0..n {
            if n_classes == 2 {
                let p1 = clip(p[[i, 1]]);
                x[[i, m]] = (p1 / (1.0 - p1)).ln();
            } else {
                for c in 0..n_classes {
                    x[[i, m * n_classes + c]] = clip(p[[i, c]]).ln();
                }
            }
        }
    }
    x
}

/// Names of the meta-learner's inputs.
fn meta_input_names(members: &[String], n_classes: usize) -> Vec<String> {
    members
        .iter()
        .flat_map(|m| {
            if n_classes == 2 {
                vec![format!("logit_p1[{m}]")]
            } else {
                (0..n_classes).map(|c| format!("log_p{c}[{m}]")).collect()
            }
        })
        .collect()
}

impl LateFusion {
    /// Fits member `m` on `rows` of `data` with the stream named by `seed`, `inner` label.
    fn fit_member(
        &self,
        m: usize,
        data: &TrainingData<'_>,
        rows: Option<&[usize]>,
        seed: u64,
        inner: &str,
    ) -> Result<Box<dyn Fitted>, ModelError> {
        let (member_id, model) = &self.members[m];
        let mut rng = rng_for(seed, &[member_id, inner]);
        match rows {
            None => model.fit(data, &mut rng),
            Some(idx) => {
                let part = subset(data, idx);
                let images = images_of(data, idx);
                model.fit(
                    &TrainingData {
                        features: part.features.view(),
                        feature_names: data.feature_names,
                        labels: &part.labels,
                        n_classes: data.n_classes,
                        images: &images,
                        patients: &part.patients,
                    },
                    &mut rng,
                )
            }
        }
    }
}

impl Model for LateFusion {
    fn id(&self) -> &str {
        &self.id
    }

    fn relative_cost(&self) -> f64 {
        // k inner fits on (k − 1)/k of the rows and one final fit: k fits' worth per member.
        let members: f64 = self.members.iter().map(|(_, m)| m.relative_cost()).sum();
        members * self.spec.inner_folds as f64
    }

    fn needs_images(&self) -> bool {
        self.members.iter().any(|(_, m)| m.needs_images())
    }

    fn fit(
        &self,
        data: &TrainingData<'_>,
        rng: &mut SeededRng,
    ) -> Result<Box<dyn Fitted>, ModelError> {
        check_training_data(&self.id, data)?;
        let n = data.labels.len();
        if self.needs_images() && data.images.len() != n {
            return Err(ModelError::Shape {
                model: self.id.clone(),
                message: format!("{} cases with images for {n} labels", data.images.len()),
            });
        }
        let fold = inner_folds(
            data.labels,
            data.patients,
            data.n_classes,
            self.spec.inner_folds,
            rng,
        );
        let k = fold.iter().max().map_or(0, |&f| f + 1);
        let seed = rng.next_u64();
        let mut oof: Vec<Array2<f64>> = Vec::with_capacity(self.members.len());
        for m in 0..self.members.len() {
            let mut out = Array2::zeros((n, data.n_classes));
            for f in 0..k {
                let train: Vec<usize> = (0..n).filter(|&i| fold[i] != f).collect();
                let test: Vec<usize> = (0..n).filter(|&i| fold[i] == f).collect();
                let fitted = self.fit_member(m, data, Some(&train), seed, &format!("inner{f}"))?;
                let part = subset(data, &test);
                let images = images_of(data, &test);
                let p = fitted.predict_proba(&PredictData {
                    features: part.features.view(),
                    feature_names: data.feature_names,
                    images: &images,
                })?;
                for (r, &i) in test.iter().enumerate() {
                    out.row_mut(i).assign(&p.row(r));
                }
            }
            oof.push(out);
        }
        let names: Vec<String> = self.members.iter().map(|(id, _)| id.clone()).collect();
        let meta = Meta::fit(
            &self.id,
            &self.spec.meta,
            meta_inputs(&oof, data.n_classes),
            data.labels,
            data.n_classes,
        )?;
        let members = (0..self.members.len())
            .map(|m| self.fit_member(m, data, None, seed, "final"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Box::new(FittedLateFusion {
            names,
            inner_folds: k,
            members,
            meta,
            n_classes: data.n_classes,
        }))
    }
}

/// The fitted logistic meta-learner.
enum Meta {
    Binary {
        fitted: FittedLogisticRegression<f64, bool>,
        /// Whether linfa's "positive" class is `true` (class 1).
        reports_true: bool,
    },
    Multi {
        fitted: MultiFittedLogisticRegression<f64, usize>,
    },
}

impl Meta {
    fn fit(
        model: &str,
        spec: &MetaSpec,
        x: Array2<f64>,
        labels: &[usize],
        n_classes: usize,
    ) -> Result<Meta, ModelError> {
        let fit_error = |e: linfa_logistic::error::Error| ModelError::Fit {
            model: model.to_string(),
            message: format!("meta-learner: {e}"),
        };
        if n_classes == 2 {
            let y: Array1<bool> = labels.iter().map(|&c| c == 1).collect();
            let fitted = LogisticRegression::default()
                .alpha(spec.alpha)
                .max_iterations(spec.max_iter)
                .fit(&Dataset::new(x, y))
                .map_err(fit_error)?;
            let reports_true = fitted.labels().pos.class;
            Ok(Meta::Binary {
                fitted,
                reports_true,
            })
        } else {
            let y: Array1<usize> = labels.iter().copied().collect();
            let fitted = MultiLogisticRegression::default()
                .alpha(spec.alpha)
                .max_iterations(spec.max_iter)
                .fit(&Dataset::new(x, y))
                .map_err(fit_error)?;
            Ok(Meta::Multi { fitted })
        }
    }

    fn predict(&self, x: &Array2<f64>, n_classes: usize) -> Array2<f64> {
        let mut out = Array2::zeros((x.nrows(), n_classes));
        match self {
            Meta::Binary {
                fitted,
                reports_true,
            } => {
                for (i, &p) in fitted.predict_probabilities(x).iter().enumerate() {
                    let p1 = if *reports_true { p } else { 1.0 - p };
                    out[[i, 0]] = 1.0 - p1;
                    out[[i, 1]] = p1;
                }
            }
            Meta::Multi { fitted } => {
                let p = fitted.predict_probabilities(x);
                for (column, &class) in fitted.classes().iter().enumerate() {
                    out.column_mut(class).assign(&p.column(column));
                }
            }
        }
        out
    }

    /// Coefficients by input name and intercept (binary: for class 1; multi-class: per class).
    fn summary(&self, names: &[String]) -> serde_json::Value {
        let by_name = |w: Vec<f64>| -> serde_json::Map<String, serde_json::Value> {
            names
                .iter()
                .cloned()
                .zip(w.into_iter().map(serde_json::Value::from))
                .collect()
        };
        match self {
            Meta::Binary {
                fitted,
                reports_true,
            } => {
                let sign = if *reports_true { 1.0 } else { -1.0 };
                serde_json::json!({
                    "coefficients": by_name(fitted.params().iter().map(|w| sign * w).collect()),
                    "intercept": sign * fitted.intercept(),
                })
            }
            Meta::Multi { fitted } => {
                let params = fitted.params();
                let intercept = fitted.intercept();
                let per_class: Vec<serde_json::Value> = fitted
                    .classes()
                    .iter()
                    .enumerate()
                    .map(|(column, &class)| {
                        serde_json::json!({
                            "class": class,
                            "coefficients": by_name(params.column(column).to_vec()),
                            "intercept": intercept[column],
                        })
                    })
                    .collect();
                serde_json::Value::Array(per_class)
            }
        }
    }
}

/// A fitted late-fusion model.
struct FittedLateFusion {
    names: Vec<String>,
    inner_folds: usize,
    members: Vec<Box<dyn Fitted>>,
    meta: Meta,
    n_classes: usize,
}

impl Fitted for FittedLateFusion {
    fn predict_proba(&self, data: &PredictData<'_>) -> Result<Array2<f64>, ModelError> {
        let probas = self
            .members
            .iter()
            .map(|m| m.predict_proba(data))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self
            .meta
            .predict(&meta_inputs(&probas, self.n_classes), self.n_classes))
    }

    fn summary(&self) -> serde_json::Value {
        let members: serde_json::Map<String, serde_json::Value> = self
            .names
            .iter()
            .cloned()
            .zip(self.members.iter().map(|m| m.summary()))
            .collect();
        serde_json::json!({
            "strategy": "late",
            "inner_folds": self.inner_folds,
            "members": members,
            "meta": self.meta.summary(&meta_input_names(&self.names, self.n_classes)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::inner_folds;
    use crate::seed::rng_for;

    #[test]
    fn one_case_per_patient_draws_exactly_as_without_patients() {
        let labels: Vec<usize> = (0..40).map(|i| usize::from(i % 3 == 0)).collect();
        let names: Vec<String> = (0..40).map(|i| format!("p{i}")).collect();
        let patients: Vec<&str> = names.iter().map(String::as_str).collect();
        let with = inner_folds(&labels, &patients, 2, 5, &mut rng_for(7, &["inner"]));
        let without = inner_folds(&labels, &[], 2, 5, &mut rng_for(7, &["inner"]));
        assert_eq!(with, without);
        assert_eq!(*with.iter().max().unwrap(), 4);
    }

    #[test]
    fn a_patients_cases_share_an_inner_fold_and_classes_spread() {
        // 30 patients with 1–3 cases each; a patient's cases share the label.
        let (mut labels, mut names) = (Vec::new(), Vec::new());
        for p in 0..30 {
            for _ in 0..1 + p % 3 {
                labels.push(usize::from(p % 2 == 0));
                names.push(format!("p{p}"));
            }
        }
        let patients: Vec<&str> = names.iter().map(String::as_str).collect();
        let fold = inner_folds(&labels, &patients, 2, 5, &mut rng_for(3, &["inner"]));
        for (i, p) in patients.iter().enumerate() {
            for (j, q) in patients.iter().enumerate() {
                if p == q {
                    assert_eq!(fold[i], fold[j], "patient {p} split across inner folds");
                }
            }
        }
        for f in 0..5 {
            for class in 0..2 {
                assert!(
                    (0..labels.len()).any(|i| fold[i] == f && labels[i] == class),
                    "inner fold {f} has no case of class {class}"
                );
            }
        }
    }
}
