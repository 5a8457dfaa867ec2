//! L2-penalised logistic regression on standardised radiomics features (linfa-logistic):
//! binary for two classes, multinomial (softmax) for more.
//!
//! The standardiser is fitted on the training fold only. linfa-logistic calls the *more
//! frequent* training label its positive class, so the fitted binary model records which class
//! it reports and predictions are flipped where needed to always give P(class 1). The
//! multinomial model reports columns for the classes it saw; a class absent from the training
//! fold gets probability 0. An optional `selection = { ... }` ([`super::selection`]) chooses
//! the columns inside the training fold, before the standardiser; the fit summary then lists
//! them (`{"selected": [...]}`).

use super::pipeline::{ColumnChoice, FittedColumns};
use super::scaling::Standardiser;
use super::selection::SelectionSpec;
use super::{
    Fitted, Model, ModelError, ModelKind, PredictData, SettingsError, TrainingData,
    check_training_data,
};
use crate::seed::SeededRng;
use linfa::prelude::*;
use linfa_logistic::{
    FittedLogisticRegression, LogisticRegression, MultiFittedLogisticRegression,
    MultiLogisticRegression,
};
use ndarray::{Array1, Array2};
use serde::Deserialize;

/// Settings of `kind = "logistic"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogisticSpec {
    /// Inputs; only `"radiomics"` for now.
    #[serde(default = "default_inputs")]
    pub inputs: Vec<String>,
    /// L2 penalty strength (linfa's `alpha`; default 1.0).
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Maximum L-BFGS iterations (default 200).
    #[serde(default = "default_max_iter")]
    pub max_iter: u64,
    /// Use only these feature columns (pyradiomics names; a trailing `*` matches a prefix);
    /// default: all.
    #[serde(default)]
    pub features: Option<Vec<String>>,
    /// Feature selection inside each training fold; default none.
    #[serde(default)]
    pub selection: Option<SelectionSpec>,
}

fn default_inputs() -> Vec<String> {
    vec!["radiomics".into()]
}
fn default_alpha() -> f64 {
    1.0
}
fn default_max_iter() -> u64 {
    200
}

/// The `logistic` kind.
pub struct LogisticKind;

impl ModelKind for LogisticKind {
    fn name(&self) -> &'static str {
        "logistic"
    }

    fn build(&self, id: &str, settings: &toml::Table) -> Result<Box<dyn Model>, SettingsError> {
        // Parsed alone first so that its errors name the `selection` key (and line).
        SelectionSpec::from_settings(settings)?;
        let spec: LogisticSpec = toml::Value::Table(settings.clone())
            .try_into()
            .map_err(|e| SettingsError::from_serde(&e))?;
        if !(spec.alpha.is_finite() && spec.alpha >= 0.0) {
            return Err(SettingsError::for_key("alpha", "`alpha` must be ≥ 0"));
        }
        if spec.max_iter == 0 {
            return Err(SettingsError::for_key("max_iter", "`max_iter` must be ≥ 1"));
        }
        if spec.features.as_ref().is_some_and(|f| f.is_empty()) {
            return Err(SettingsError::for_key("features", "`features` is empty"));
        }
        if spec.inputs != ["radiomics"] {
            return Err(SettingsError::for_key(
                "inputs",
                format!(
                    "`inputs` = {:?}: logistic takes [\"radiomics\"]",
                    spec.inputs
                ),
            ));
        }
        Ok(Box::new(LogisticModel {
            id: id.to_string(),
            spec,
        }))
    }
}

/// An unfitted logistic model.
#[derive(Debug, Clone)]
pub struct LogisticModel {
    id: String,
    spec: LogisticSpec,
}

impl Model for LogisticModel {
    fn id(&self) -> &str {
        &self.id
    }

    fn relative_cost(&self) -> f64 {
        1.0 + self
            .spec
            .selection
            .as_ref()
            .map_or(0.0, SelectionSpec::relative_cost)
    }

    fn fit(
        &self,
        data: &TrainingData<'_>,
        rng: &mut SeededRng,
    ) -> Result<Box<dyn Fitted>, ModelError> {
        check_training_data(&self.id, data)?;
        let columns = ColumnChoice {
            model: &self.id,
            features: self.spec.features.as_deref(),
            selection: self.spec.selection.as_ref(),
        }
        .fit(data, rng)?;
        let selected = columns.apply(data.features)?;
        let scaler = Standardiser::fit(selected.view());
        let x = scaler.transform(selected.view());
        let fit_error = |e: linfa_logistic::error::Error| ModelError::Fit {
            model: self.id.clone(),
            message: e.to_string(),
        };
        let fitted = if data.n_classes == 2 {
            let y: Array1<bool> = data.labels.iter().map(|&c| c == 1).collect();
            let fitted = LogisticRegression::default()
                .alpha(self.spec.alpha)
                .max_iterations(self.spec.max_iter)
                .fit(&Dataset::new(x, y))
                .map_err(fit_error)?;
            let reports_true = fitted.labels().pos.class;
            Coefficients::Binary {
                fitted,
                reports_true,
            }
        } else {
            let y: Array1<usize> = data.labels.iter().copied().collect();
            let fitted = MultiLogisticRegression::default()
                .alpha(self.spec.alpha)
                .max_iterations(self.spec.max_iter)
                .fit(&Dataset::new(x, y))
                .map_err(fit_error)?;
            Coefficients::Multi {
                fitted,
                n_classes: data.n_classes,
            }
        };
        Ok(Box::new(FittedLogistic {
            columns,
            scaler,
            fitted,
        }))
    }
}

/// The fitted coefficients: binary or multinomial.
enum Coefficients {
    Binary {
        fitted: FittedLogisticRegression<f64, bool>,
        /// Whether linfa's "positive" class is `true` (class 1).
        reports_true: bool,
    },
    Multi {
        fitted: MultiFittedLogisticRegression<f64, usize>,
        n_classes: usize,
    },
}

/// A fitted logistic model with its training-fold columns and standardiser.
pub struct FittedLogistic {
    columns: FittedColumns,
    scaler: Standardiser,
    fitted: Coefficients,
}

impl Fitted for FittedLogistic {
    fn predict_proba(&self, data: &PredictData<'_>) -> Result<Array2<f64>, ModelError> {
        let selected = self.columns.apply(data.features)?;
        let x = self.scaler.transform(selected.view());
        match &self.fitted {
            Coefficients::Binary {
                fitted,
                reports_true,
            } => {
                let p = fitted.predict_probabilities(&x);
                let mut out = Array2::zeros((x.nrows(), 2));
                for (i, &p) in p.iter().enumerate() {
                    let p1 = if *reports_true { p } else { 1.0 - p };
                    out[[i, 0]] = 1.0 - p1;
                    out[[i, 1]] = p1;
                }
                Ok(out)
            }
            Coefficients::Multi { fitted, n_classes } => {
                let p = fitted.predict_probabilities(&x);
                let mut out = Array2::zeros((x.nrows(), *n_classes));
                for (column, &class) in fitted.classes().iter().enumerate() {
                    out.column_mut(class).assign(&p.column(column));
                }
                Ok(out)
            }
        }
    }

    fn summary(&self) -> serde_json::Value {
        self.columns.summary()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::rng_for;

    fn model(settings: &str) -> Box<dyn Model> {
        LogisticKind
            .build("lr", &toml::from_str(settings).unwrap())
            .unwrap()
    }

    /// Positives have larger x0; positives are the minority, so linfa's "positive" class is
    /// `false` and the flip must happen.
    fn toy() -> (Array2<f64>, Vec<usize>, Vec<String>) {
        let n = 40;
        let mut x = Array2::zeros((n, 2));
        let mut y = Vec::new();
        for i in 0..n {
            let pos = i % 4 == 0;
            x[[i, 0]] = if pos { 3.0 } else { 0.0 } + (i % 7) as f64 * 0.3;
            x[[i, 1]] = (i % 5) as f64;
            y.push(pos as usize);
        }
        (x, y, vec!["a".into(), "b".into()])
    }

    fn data<'a>(
        x: &'a Array2<f64>,
        y: &'a [usize],
        names: &'a [String],
        k: usize,
    ) -> TrainingData<'a> {
        TrainingData {
            features: x.view(),
            feature_names: names,
            labels: y,
            n_classes: k,
            images: &[],
            patients: &[],
        }
    }

    fn mean_where(p: &[f64], y: &[usize], class: usize) -> f64 {
        let v: Vec<f64> = p
            .iter()
            .zip(y)
            .filter(|(_, c)| **c == class)
            .map(|(p, _)| *p)
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    }

    #[test]
    fn probabilities_are_for_class_one_even_when_it_is_the_minority() {
        let (x, y, names) = toy();
        let d = data(&x, &y, &names, 2);
        let fitted = model("alpha = 0.1").fit(&d, &mut rng_for(1, &[])).unwrap();
        let p = fitted.predict_proba(&d.as_predict()).unwrap();
        assert_eq!(p.ncols(), 2);
        let p1 = p.column(1).to_vec();
        assert!(p.rows().into_iter().all(|r| (r.sum() - 1.0).abs() < 1e-12));
        let (pos, neg) = (mean_where(&p1, &y, 1), mean_where(&p1, &y, 0));
        assert!(pos > 0.7 && neg < 0.3, "{pos} {neg}");
    }

    #[test]
    fn multinomial_for_three_classes() {
        let n = 60;
        let mut x = Array2::zeros((n, 2));
        let y: Vec<usize> = (0..n).map(|i| i % 3).collect();
        for i in 0..n {
            x[[i, 0]] = y[i] as f64 * 2.0 + (i % 7) as f64 * 0.2;
            x[[i, 1]] = (i % 5) as f64;
        }
        let names = vec!["a".to_string(), "b".to_string()];
        let d = data(&x, &y, &names, 3);
        let p = model("alpha = 0.1")
            .fit(&d, &mut rng_for(1, &[]))
            .unwrap()
            .predict_proba(&d.as_predict())
            .unwrap();
        assert_eq!(p.ncols(), 3);
        for c in 0..3 {
            let pc = p.column(c).to_vec();
            assert!(mean_where(&pc, &y, c) > 0.5, "class {c}");
        }
    }

    #[test]
    fn feature_subset_uses_only_named_columns() {
        let (x, y, names) = toy();
        let d = data(&x, &y, &names, 2);
        // Column "b" carries no signal: the subset model must be near chance.
        let fitted = model("features = [\"b\"]")
            .fit(&d, &mut rng_for(1, &[]))
            .unwrap();
        let p = fitted
            .predict_proba(&d.as_predict())
            .unwrap()
            .column(1)
            .to_vec();
        let labels: Vec<bool> = y.iter().map(|&c| c == 1).collect();
        let auc = crate::eval::roc::auc(&p, &labels).unwrap();
        assert!((0.3..0.7).contains(&auc), "{auc}");
        let missing = model("features = [\"zz\"]").fit(&d, &mut rng_for(1, &[]));
        assert!(missing.err().unwrap().to_string().contains("zz"));
    }

    #[test]
    fn selection_inside_the_fold_is_summarised() {
        let (x, y, names) = toy();
        let d = data(&x, &y, &names, 2);
        let plain = model("").fit(&d, &mut rng_for(1, &[])).unwrap();
        assert_eq!(plain.summary(), serde_json::Value::Null);
        let selected = model("selection = { method = \"univariate-auc\", k = 1 }")
            .fit(&d, &mut rng_for(1, &[]))
            .unwrap();
        assert_eq!(selected.summary(), serde_json::json!({"selected": ["a"]}));
        let p = selected.predict_proba(&d.as_predict()).unwrap();
        assert_eq!(p.ncols(), 2);
        let lasso = model("selection = { method = \"lasso\" }")
            .fit(&d, &mut rng_for(1, &[]))
            .unwrap();
        assert_eq!(lasso.summary()["selected"], serde_json::json!(["a"]));
        let e = LogisticKind
            .build("lr", &toml::from_str("selection = { k = 1 }").unwrap())
            .err()
            .unwrap();
        assert_eq!(e.key(), Some("selection"));
    }

    #[test]
    fn one_class_and_nan_are_errors() {
        let (mut x, y, names) = toy();
        let ones = vec![1; y.len()];
        let err = model("")
            .fit(&data(&x, &ones, &names, 2), &mut rng_for(1, &[]))
            .err()
            .unwrap();
        assert!(matches!(err, ModelError::OneClass { .. }));
        x[[3, 1]] = f64::NAN;
        let err = model("")
            .fit(&data(&x, &y, &names, 2), &mut rng_for(1, &[]))
            .err()
            .unwrap();
        assert!(err.to_string().contains("\"b\"") && err.to_string().contains("row 3"));
    }

    #[test]
    fn bad_settings_name_the_key() {
        let e = LogisticKind
            .build("lr", &toml::from_str("alhpa = 1").unwrap())
            .err()
            .unwrap();
        assert_eq!(e.key(), Some("alhpa"));
        let e = LogisticKind
            .build("lr", &toml::from_str("alpha = -1.0").unwrap())
            .err()
            .unwrap();
        assert_eq!(e.key(), Some("alpha"));
    }
}
