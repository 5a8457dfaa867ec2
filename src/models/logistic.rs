//! L2-penalised logistic regression on standardised radiomics features (linfa-logistic).
//!
//! The standardiser is fitted on the training fold only. linfa-logistic calls the *more
//! frequent* training label its positive class, so the fitted model records which class it
//! reports and predictions are flipped where needed to always give P(label = true).

use super::scaling::Standardiser;
use super::{
    Fitted, Model, ModelError, ModelKind, SettingsError, TrainingData, check_finite,
    check_training_data,
};
use crate::seed::SeededRng;
use linfa::prelude::*;
use linfa_logistic::{FittedLogisticRegression, LogisticRegression};
use ndarray::{Array1, ArrayView2, Axis};
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
    /// Use only these feature columns (pyradiomics names); default: all.
    #[serde(default)]
    pub features: Option<Vec<String>>,
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

impl LogisticModel {
    /// Indices of the columns this model uses.
    fn columns(&self, names: &[String]) -> Result<Vec<usize>, ModelError> {
        let Some(wanted) = &self.spec.features else {
            return Ok((0..names.len()).collect());
        };
        wanted
            .iter()
            .map(|w| {
                names
                    .iter()
                    .position(|n| n == w)
                    .ok_or_else(|| ModelError::Shape {
                        model: self.id.clone(),
                        message: format!(
                            "no feature named {w:?} among the {} extracted",
                            names.len()
                        ),
                    })
            })
            .collect()
    }
}

impl Model for LogisticModel {
    fn id(&self) -> &str {
        &self.id
    }

    fn fit(
        &self,
        data: &TrainingData<'_>,
        _rng: &mut SeededRng,
    ) -> Result<Box<dyn Fitted>, ModelError> {
        check_training_data(&self.id, data)?;
        let columns = self.columns(data.feature_names)?;
        let selected = data.features.select(Axis(1), &columns);
        let scaler = Standardiser::fit(selected.view());
        let x = scaler.transform(selected.view());
        let y: Array1<bool> = data.labels.iter().copied().collect();
        let fitted = LogisticRegression::default()
            .alpha(self.spec.alpha)
            .max_iterations(self.spec.max_iter)
            .fit(&Dataset::new(x, y))
            .map_err(|e| ModelError::Fit {
                model: self.id.clone(),
                message: e.to_string(),
            })?;
        let reports_true = fitted.labels().pos.class;
        Ok(Box::new(FittedLogistic {
            id: self.id.clone(),
            n_columns: data.feature_names.len(),
            columns,
            names: data.feature_names.to_vec(),
            scaler,
            fitted,
            reports_true,
        }))
    }
}

/// A fitted logistic model with its training-fold standardiser.
pub struct FittedLogistic {
    id: String,
    n_columns: usize,
    columns: Vec<usize>,
    names: Vec<String>,
    scaler: Standardiser,
    fitted: FittedLogisticRegression<f64, bool>,
    reports_true: bool,
}

impl Fitted for FittedLogistic {
    fn predict_proba(&self, features: ArrayView2<'_, f64>) -> Result<Vec<f64>, ModelError> {
        if features.ncols() != self.n_columns {
            return Err(ModelError::Shape {
                model: self.id.clone(),
                message: format!(
                    "{} feature columns, trained on {}",
                    features.ncols(),
                    self.n_columns
                ),
            });
        }
        check_finite(&self.id, features, &self.names)?;
        let selected = features.select(Axis(1), &self.columns);
        let p = self
            .fitted
            .predict_probabilities(&self.scaler.transform(selected.view()));
        Ok(p.iter()
            .map(|&p| if self.reports_true { p } else { 1.0 - p })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::rng_for;
    use ndarray::Array2;

    fn model(settings: &str) -> Box<dyn Model> {
        LogisticKind
            .build("lr", &toml::from_str(settings).unwrap())
            .unwrap()
    }

    /// Positives have larger x0; positives are the minority, so linfa's "positive" class is
    /// `false` and the flip must happen.
    fn toy() -> (Array2<f64>, Vec<bool>, Vec<String>) {
        let n = 40;
        let mut x = Array2::zeros((n, 2));
        let mut y = Vec::new();
        for i in 0..n {
            let pos = i % 4 == 0;
            x[[i, 0]] = if pos { 3.0 } else { 0.0 } + (i % 7) as f64 * 0.3;
            x[[i, 1]] = (i % 5) as f64;
            y.push(pos);
        }
        (x, y, vec!["a".into(), "b".into()])
    }

    #[test]
    fn probabilities_are_for_the_true_class_even_when_it_is_the_minority() {
        let (x, y, names) = toy();
        let data = TrainingData {
            features: x.view(),
            feature_names: &names,
            labels: &y,
        };
        let fitted = model("alpha = 0.1")
            .fit(&data, &mut rng_for(1, &[]))
            .unwrap();
        let p = fitted.predict_proba(x.view()).unwrap();
        let mean_pos: f64 = p
            .iter()
            .zip(&y)
            .filter(|(_, y)| **y)
            .map(|(p, _)| p)
            .sum::<f64>()
            / 10.0;
        let mean_neg: f64 = p
            .iter()
            .zip(&y)
            .filter(|(_, y)| !**y)
            .map(|(p, _)| p)
            .sum::<f64>()
            / 30.0;
        assert!(mean_pos > 0.7 && mean_neg < 0.3, "{mean_pos} {mean_neg}");
    }

    #[test]
    fn feature_subset_uses_only_named_columns() {
        let (x, y, names) = toy();
        let data = TrainingData {
            features: x.view(),
            feature_names: &names,
            labels: &y,
        };
        // Column "b" carries no signal: the subset model must be near chance.
        let fitted = model("features = [\"b\"]")
            .fit(&data, &mut rng_for(1, &[]))
            .unwrap();
        let p = fitted.predict_proba(x.view()).unwrap();
        let auc = crate::eval::roc::auc(&p, &y).unwrap();
        assert!((0.3..0.7).contains(&auc), "{auc}");
        let missing = model("features = [\"zz\"]").fit(&data, &mut rng_for(1, &[]));
        assert!(missing.err().unwrap().to_string().contains("zz"));
    }

    #[test]
    fn one_class_and_nan_are_errors() {
        let (mut x, y, names) = toy();
        let ones = vec![true; y.len()];
        let data = TrainingData {
            features: x.view(),
            feature_names: &names,
            labels: &ones,
        };
        let err = model("").fit(&data, &mut rng_for(1, &[])).err().unwrap();
        assert!(matches!(err, ModelError::OneClass { .. }));
        x[[3, 1]] = f64::NAN;
        let data = TrainingData {
            features: x.view(),
            feature_names: &names,
            labels: &y,
        };
        let err = model("").fit(&data, &mut rng_for(1, &[])).err().unwrap();
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
