//! Prediction models: one trait pair and a registry of kinds.
//!
//! A [`Model`] is a configured, unfitted learner; [`Model::fit`] returns a different type, a
//! [`Fitted`] model, so an unfitted predictor cannot be asked for predictions (linfa's
//! `Fit`/`Predict` split). Each kind lives in one file and is listed once in [`MODEL_KINDS`],
//! which the experiment file's `kind = "..."` looks up. Randomness is an argument: a model
//! draws only from the [`SeededRng`] it is handed.
//!
//! Adding a baseline: write `src/models/<kind>.rs` with a `ModelKind`, a `Model` and a `Fitted`
//! type (and their tests), add one line to [`MODEL_KINDS`], and name it in an experiment file.

pub mod cnn;
pub mod cnn_model;
pub mod cnn_pretrain;
pub mod forest;
pub mod fusion;
pub mod lasso;
pub mod logistic;
pub mod pipeline;
pub mod scaling;
pub mod segmenter;
pub mod selection;
pub mod tree;

use crate::data::image::{Image, Mask};
use crate::seed::SeededRng;
use ndarray::{Array2, ArrayView2};
use std::collections::BTreeMap;

/// Errors from fitting or predicting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The training labels hold only one class.
    #[error("model {model:?}: the training data hold only one class ({n} cases)")]
    OneClass {
        /// Model id.
        model: String,
        /// Number of training cases.
        n: usize,
    },
    /// A feature value is NaN or infinite.
    #[error("model {model:?}: feature {feature:?} is not finite (NaN or infinity) in row {row}")]
    NonFinite {
        /// Model id.
        model: String,
        /// Feature name.
        feature: String,
        /// Row of the offending value.
        row: usize,
    },
    /// Inputs of inconsistent shape.
    #[error("model {model:?}: {message}")]
    Shape {
        /// Model id.
        model: String,
        /// What does not fit.
        message: String,
    },
    /// The learner failed.
    #[error("model {model:?}: fitting failed: {message}")]
    Fit {
        /// Model id.
        model: String,
        /// The learner's message.
        message: String,
    },
}

/// A model kind's settings that cannot be used: the message and, where known, the key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct SettingsError {
    key: Option<String>,
    message: String,
}

impl SettingsError {
    /// An error about `key`.
    pub fn for_key(key: &str, message: impl Into<String>) -> SettingsError {
        SettingsError {
            key: Some(key.to_string()),
            message: message.into(),
        }
    }

    /// Wraps a serde error from parsing settings; the first back-quoted name is taken as the key.
    pub fn from_serde(e: &toml::de::Error) -> SettingsError {
        let message = e.message().trim().to_string();
        let key = message.split('`').nth(1).map(str::to_string);
        SettingsError { key, message }
    }

    /// The key at fault, if known.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }
}

/// The pixels of one case, for models that look at images (CNNs, fusion).
#[derive(Debug, Clone)]
pub struct CaseImages {
    /// Case id.
    pub case_id: String,
    /// The primary image.
    pub image: Image,
    /// The region-of-interest mask, on the image's grid.
    pub mask: Mask,
    /// Extra co-registered channels by name (MRI sequences, say), on the image's grid.
    pub channels: BTreeMap<String, Image>,
}

/// The training part of a fold. Rows of `features`, `labels` and `images` are the same cases.
#[derive(Debug, Clone, Copy)]
pub struct TrainingData<'a> {
    /// Features, one row per case.
    pub features: ArrayView2<'a, f64>,
    /// Feature names, one per column.
    pub feature_names: &'a [String],
    /// Class index of each case, `0..n_classes`; for a binary label 1 is the positive class.
    pub labels: &'a [usize],
    /// Number of classes (2 for a binary label).
    pub n_classes: usize,
    /// Each case's images; empty unless the model asked for them ([`Model::needs_images`]).
    pub images: &'a [&'a CaseImages],
    /// Each case's patient id, rows as in `features`; empty when every case is its own patient.
    /// Inner splits (late fusion's out-of-fold members) keep a patient's cases together.
    pub patients: &'a [&'a str],
}

/// The cases to predict: features and (when asked for) images, rows in the same order.
#[derive(Debug, Clone, Copy)]
pub struct PredictData<'a> {
    /// Features, one row per case, columns as in training.
    pub features: ArrayView2<'a, f64>,
    /// Feature names, one per column.
    pub feature_names: &'a [String],
    /// Each case's images; empty unless the model asked for them.
    pub images: &'a [&'a CaseImages],
}

impl<'a> TrainingData<'a> {
    /// The same cases as prediction input (to score the training fold itself).
    pub fn as_predict(&self) -> PredictData<'a> {
        PredictData {
            features: self.features,
            feature_names: self.feature_names,
            images: self.images,
        }
    }
}

/// Cases held out of fitting to choose the model (a predefined split's `val` cases): models
/// that stop early or select on held-out data use them instead of an inner random split.
#[derive(Debug, Clone, Copy)]
pub struct ValidationData<'a> {
    /// The validation cases as prediction input.
    pub cases: PredictData<'a>,
    /// Class index of each validation case, rows as in `cases`.
    pub labels: &'a [usize],
}

/// A configured, unfitted model.
pub trait Model: Send + Sync {
    /// The model's id in the experiment.
    fn id(&self) -> &str;

    /// Estimated cost of fitting per training case, relative to a logistic regression on
    /// radiomics (1.0); used to balance shards.
    fn relative_cost(&self) -> f64 {
        1.0
    }

    /// Whether the model needs each case's images (the runner then loads them).
    fn needs_images(&self) -> bool {
        false
    }

    /// Fits on `data`, drawing any randomness from `rng` only.
    fn fit(
        &self,
        data: &TrainingData<'_>,
        rng: &mut SeededRng,
    ) -> Result<Box<dyn Fitted>, ModelError>;

    /// Fits on `data` with `validation` cases for model selection (early stopping). Models
    /// that select nothing on held-out data ignore them: the default is [`Model::fit`].
    fn fit_with_validation(
        &self,
        data: &TrainingData<'_>,
        validation: &ValidationData<'_>,
        rng: &mut SeededRng,
    ) -> Result<Box<dyn Fitted>, ModelError> {
        let _ = validation;
        self.fit(data, rng)
    }
}

/// A fitted model.
pub trait Fitted: Send + Sync {
    /// Class probabilities: one row per case, one column per class (rows sum to 1).
    fn predict_proba(&self, data: &PredictData<'_>) -> Result<Array2<f64>, ModelError>;

    /// What the fit chose that a reader should see (selected features, epochs, ...), as JSON
    /// with stable key order; stored per cell in the report. `null` when there is nothing.
    fn summary(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    /// Class probabilities of every patch (slice, crop) before they are aggregated per case,
    /// for models that score several patches of a case; `None` for models that score cases.
    fn predict_patches(
        &self,
        _data: &PredictData<'_>,
    ) -> Result<Option<Vec<PatchPrediction>>, ModelError> {
        Ok(None)
    }
}

/// Class probabilities of one patch of a case ([`Fitted::predict_patches`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PatchPrediction {
    /// The case the patch was cut from.
    pub case_id: String,
    /// The patch's centre slice (k), for 2-D and 2.5-D patches.
    pub slice: Option<usize>,
    /// One probability per class.
    pub probabilities: Vec<f64>,
}

/// A kind of model that an experiment file can name.
pub trait ModelKind: Sync {
    /// The name used in `kind = "..."`.
    fn name(&self) -> &'static str;

    /// Builds a model from its settings (the `[[model]]` table without `id` and `kind`).
    fn build(&self, id: &str, settings: &toml::Table) -> Result<Box<dyn Model>, SettingsError>;
}

/// Every model kind, sorted by name.
pub static MODEL_KINDS: &[&dyn ModelKind] = &[
    &cnn_model::CnnKind,
    &forest::ForestKind,
    &fusion::FusionKind,
    &logistic::LogisticKind,
];

/// Looks up a kind by name; the error lists the valid names.
pub fn kind_by_name(name: &str) -> Result<&'static dyn ModelKind, SettingsError> {
    MODEL_KINDS
        .iter()
        .copied()
        .find(|k| k.name() == name)
        .ok_or_else(|| {
            let valid: Vec<&str> = MODEL_KINDS.iter().map(|k| k.name()).collect();
            SettingsError::for_key(
                "kind",
                format!(
                    "unknown model kind {name:?}, expected one of {}",
                    valid.join(", ")
                ),
            )
        })
}

/// Checks a model table's settings for `kind` without keeping the model.
pub fn check_settings(kind: &str, settings: &toml::Table) -> Result<(), SettingsError> {
    kind_by_name(kind)?.build("check", settings).map(|_| ())
}

/// Builds the model of an experiment entry.
pub fn build(entry: &crate::spec::ModelEntry) -> Result<Box<dyn Model>, SettingsError> {
    kind_by_name(&entry.kind)?.build(&entry.id, &entry.settings)
}

/// Checks that labels hold both classes and features are finite, naming the model.
pub(crate) fn check_training_data(model: &str, data: &TrainingData<'_>) -> Result<(), ModelError> {
    let n = data.labels.len();
    if data.features.nrows() != n || data.features.ncols() != data.feature_names.len() {
        return Err(ModelError::Shape {
            model: model.into(),
            message: format!(
                "{}×{} features for {} labels and {} names",
                data.features.nrows(),
                data.features.ncols(),
                n,
                data.feature_names.len()
            ),
        });
    }
    if !data.patients.is_empty() && data.patients.len() != n {
        return Err(ModelError::Shape {
            model: model.into(),
            message: format!("{} patient ids for {n} labels", data.patients.len()),
        });
    }
    if let Some(&bad) = data.labels.iter().find(|&&y| y >= data.n_classes) {
        return Err(ModelError::Shape {
            model: model.into(),
            message: format!("class index {bad} for {} classes", data.n_classes),
        });
    }
    let first = data.labels.first().copied().unwrap_or(0);
    if data.labels.iter().all(|&y| y == first) {
        return Err(ModelError::OneClass {
            model: model.into(),
            n,
        });
    }
    check_finite(model, data.features, data.feature_names)
}

/// Errors on the first NaN or infinite value, naming its feature and row.
pub(crate) fn check_finite(
    model: &str,
    features: ArrayView2<'_, f64>,
    names: &[String],
) -> Result<(), ModelError> {
    for ((row, col), v) in features.indexed_iter() {
        if !v.is_finite() {
            return Err(ModelError::NonFinite {
                model: model.into(),
                feature: names.get(col).cloned().unwrap_or_else(|| format!("#{col}")),
                row,
            });
        }
    }
    Ok(())
}
