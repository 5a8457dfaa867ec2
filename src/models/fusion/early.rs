//! Early fusion: the CNN is trained on the training fold, each case's embedding is the mean of
//! its patches' pooled penultimate features, and a radiomics head (`logistic`, which
//! standardises its inputs, or `forest`, each with its optional in-fold `selection`) is fitted
//! on the radiomics columns concatenated with the embedding columns `cnn_embed_<j>`.

use super::super::cnn::classifier::{CnnClassifier, FittedCnn};
use super::super::cnn_model::CnnModelSpec;
use super::super::pipeline::resolve_columns;
use super::super::{
    Fitted, Model, ModelError, PredictData, SettingsError, TrainingData, check_finite,
    check_training_data, kind_by_name,
};
use super::{case_samples, check_cnn, check_features, cnn_error, parse};
use crate::seed::SeededRng;
use ndarray::{Array2, ArrayView2, Axis, concatenate};
use serde::Deserialize;

/// Settings of `strategy = "early"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct EarlySpec {
    /// The CNN whose embedding is fused.
    cnn: CnnModelSpec,
    /// Radiomics columns used; default all.
    #[serde(default)]
    features: Option<Vec<String>>,
    /// The model on the fused columns: a `logistic` or `forest` settings table with `kind`.
    #[serde(default)]
    head: Option<toml::Table>,
}

/// An unfitted early-fusion model.
pub(super) struct EarlyFusion {
    id: String,
    spec: EarlySpec,
    head: Box<dyn Model>,
}

/// Builds the head model from its table (`kind` = logistic or forest, default logistic).
fn build_head(id: &str, table: Option<&toml::Table>) -> Result<Box<dyn Model>, SettingsError> {
    let mut table = table.cloned().unwrap_or_default();
    let kind = match table.remove("kind") {
        None => "logistic".to_string(),
        Some(toml::Value::String(k)) if k == "logistic" || k == "forest" => k,
        Some(other) => {
            return Err(SettingsError::for_key(
                "head",
                format!("`head.kind` = {other}: expected \"logistic\" or \"forest\""),
            ));
        }
    };
    kind_by_name(&kind)?
        .build(&format!("{id}/head"), &table)
        .map_err(|e| SettingsError::for_key(e.key().unwrap_or("head"), format!("head: {e}")))
}

impl EarlyFusion {
    pub(super) fn build(id: &str, settings: &toml::Table) -> Result<Box<dyn Model>, SettingsError> {
        let spec: EarlySpec = parse(settings)?;
        check_cnn(&spec.cnn)?;
        check_features(spec.features.as_deref())?;
        let head = build_head(id, spec.head.as_ref())?;
        Ok(Box::new(EarlyFusion {
            id: id.to_string(),
            spec,
            head,
        }))
    }
}

impl Model for EarlyFusion {
    fn id(&self) -> &str {
        &self.id
    }

    fn relative_cost(&self) -> f64 {
        200.0 * self.spec.cnn.train.epochs.max(1) as f64 + self.head.relative_cost()
    }

    fn needs_images(&self) -> bool {
        true
    }

    fn fit(
        &self,
        data: &TrainingData<'_>,
        rng: &mut SeededRng,
    ) -> Result<Box<dyn Fitted>, ModelError> {
        check_training_data(&self.id, data)?;
        let columns = resolve_columns(&self.id, self.spec.features.as_deref(), data.feature_names)?;
        let (samples, counts) =
            case_samples(&self.id, &self.spec.cnn, data.labels.len(), data.images)?;
        let sample_labels: Vec<usize> = counts
            .iter()
            .zip(data.labels)
            .flat_map(|(&n, &y)| std::iter::repeat_n(y, n))
            .collect();
        let cnn = CnnClassifier::fit(
            &samples,
            &sample_labels,
            &self.spec.cnn.classifier_spec(data.n_classes),
            rng,
        )
        .map_err(cnn_error(&self.id))?;
        let fused = Fused {
            model: self.id.clone(),
            columns,
            train_width: data.feature_names.len(),
            cnn,
        };
        let (x, names) =
            fused.fused_inputs(data.features, data.feature_names, &samples, &counts)?;
        let head = self.head.fit(
            &TrainingData {
                features: x.view(),
                feature_names: &names,
                labels: data.labels,
                n_classes: data.n_classes,
                images: &[],
                patients: data.patients,
            },
            rng,
        )?;
        Ok(Box::new(FittedEarlyFusion {
            spec: self.spec.clone(),
            fused,
            head,
        }))
    }
}

/// The fitted input side: radiomics columns and the trained CNN.
struct Fused {
    model: String,
    columns: Vec<usize>,
    train_width: usize,
    cnn: FittedCnn,
}

impl Fused {
    /// Radiomics columns ⊕ per-case mean embeddings, with column names.
    fn fused_inputs(
        &self,
        features: ArrayView2<'_, f64>,
        names: &[String],
        samples: &[super::super::cnn::input::Sample],
        counts: &[usize],
    ) -> Result<(Array2<f64>, Vec<String>), ModelError> {
        if features.ncols() != self.train_width {
            return Err(ModelError::Shape {
                model: self.model.clone(),
                message: format!(
                    "{} feature columns, trained on {}",
                    features.ncols(),
                    self.train_width
                ),
            });
        }
        check_finite(&self.model, features, names)?;
        let radiomics = features.select(Axis(1), &self.columns);
        let embeddings = self.cnn.embed(samples).map_err(cnn_error(&self.model))?;
        let dim = self.cnn.embed_dim();
        let mut embed = Array2::<f64>::zeros((counts.len(), dim));
        let mut next = 0;
        for (row, &n) in counts.iter().enumerate() {
            for e in &embeddings[next..next + n] {
                for (j, &v) in e.iter().enumerate() {
                    embed[[row, j]] += f64::from(v) / n as f64;
                }
            }
            next += n;
        }
        let x = concatenate(Axis(1), &[radiomics.view(), embed.view()]).map_err(|e| {
            ModelError::Shape {
                model: self.model.clone(),
                message: e.to_string(),
            }
        })?;
        let mut fused_names: Vec<String> = self.columns.iter().map(|&j| names[j].clone()).collect();
        fused_names.extend((0..dim).map(|j| format!("cnn_embed_{j}")));
        Ok((x, fused_names))
    }
}

/// A fitted early-fusion model.
struct FittedEarlyFusion {
    spec: EarlySpec,
    fused: Fused,
    head: Box<dyn Fitted>,
}

impl Fitted for FittedEarlyFusion {
    fn predict_proba(&self, data: &PredictData<'_>) -> Result<Array2<f64>, ModelError> {
        let (samples, counts) = case_samples(
            &self.fused.model,
            &self.spec.cnn,
            data.features.nrows(),
            data.images,
        )?;
        let (x, names) =
            self.fused
                .fused_inputs(data.features, data.feature_names, &samples, &counts)?;
        self.head.predict_proba(&PredictData {
            features: x.view(),
            feature_names: &names,
            images: &[],
        })
    }

    fn summary(&self) -> serde_json::Value {
        let head = self.head.summary();
        serde_json::json!({
            "strategy": "early",
            // The head's in-fold selection, at the top level where the report looks for it.
            "selected": head.get("selected").cloned(),
            "radiomics_columns": self.fused.columns.len(),
            "embed_dim": self.fused.cnn.embed_dim(),
            "cnn": {
                "fingerprint": self.fused.cnn.fingerprint().ok(),
                "curve": self.fused.cnn.curve(),
            },
            "head": head,
        })
    }
}
