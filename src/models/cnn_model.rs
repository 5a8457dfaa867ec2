//! `kind = "cnn"`: a CNN classifier ([`crate::models::cnn`]) on each case's pixels, as a
//! radbench model that the runner fits per cell like any other.
//!
//! ```toml
//! [[model]]
//! id = "cnn"
//! kind = "cnn"
//! input = { layout = { kind = "slices2d", k = 3 }, size = [32, 32], normalise = { kind = "z-score-in-mask" } }
//! channels = ["image"]            # "image" = the primary image; other names = manifest channels
//! network = { arch = "resnet", depth = "resnet18", base_width = 8, stem = "small" }
//! train = { epochs = 8, batch_size = 32, lr = 0.001 }
//! aggregate = "mean"              # patch → patient
//! validation = "split"            # early stopping on a predefined split's val cases
//! ```
//! With a predefined split (`[split] kind = "predefined"`) the split's `val` cases always
//! serve for early stopping, replacing any inner `validation_fraction`; `validation = "split"`
//! says so explicitly (it allows `train.patience` without an inner fraction) and makes a
//! split without val cases an error.
//! A 3-D network takes one `[channels, d, h, w]` crop per case centred on the lesion:
//! ```toml
//! input = { layout = { kind = "crop3d", depth = 28 }, size = [28, 28], normalise = { kind = "z-score" } }
//! network = { arch = "resnet3d", depth = "resnet18", base_width = 16, stem = "small" }
//! ```
//! (`depth` = slices along k; `size` = `[rows (j), columns (i)]`). A 2-D network given a
//! `crop3d` layout reads the crop's slices as channels (2.5-D).
//! The number of classes comes from the experiment's label. Every sample of the training fold
//! (k patches per case for 2-D layouts) carries its case's label; predictions are aggregated
//! per case. All randomness (initial weights, batch order, augmentation) comes from the cell's
//! stream, so a cell is bit-identical on rerun.

use super::cnn::classifier::{Aggregate, ArchSpec, CnnClassifier, CnnSpec, FittedCnn};
use super::cnn::input::{Layout, PatchSpec, Sample, extract};
use super::cnn::train::{Labelled, TrainSpec};
use super::cnn_pretrain::PretrainedSpec;
use super::{
    CaseImages, Fitted, Model, ModelError, ModelKind, PatchPrediction, PredictData, SettingsError,
    TrainingData, ValidationData, check_training_data,
};
use crate::seed::SeededRng;
use ndarray::Array2;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Settings of `kind = "cnn"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CnnModelSpec {
    /// What to cut from each case.
    pub input: PatchSpec,
    /// Input channels, in order: `"image"` or the name of a manifest channel.
    #[serde(default = "default_channels")]
    pub channels: Vec<String>,
    /// The network.
    pub network: ArchSpec,
    /// Training settings.
    #[serde(default)]
    pub train: TrainSpec,
    /// Fraction of training cases held out for early stopping (0 = none).
    #[serde(default)]
    pub validation_fraction: f64,
    /// Patch → patient aggregation.
    #[serde(default)]
    pub aggregate: Aggregate,
    /// Checkpoint to start from, or a cohort the runner pretrains on first
    /// ([`PretrainedSpec`]).
    #[serde(default)]
    pub pretrained: Option<PretrainedSpec>,
    /// With a `crop3d` layout: feed the crop's slices to a 2-D network as channels
    /// (`[c, d, h, w]` → `[c·d, h, w]`), e.g. the frames of a cine (default false).
    #[serde(default)]
    pub frames_as_channels: bool,
    /// Where early-stopping cases come from.
    #[serde(default)]
    pub validation: ValidationSource,
}

/// Where the cases for early stopping come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ValidationSource {
    /// An inner stratified `validation_fraction` of the training cases (none when 0), unless
    /// the split gives validation cases.
    #[default]
    Inner,
    /// The `val` cases of a predefined split (required).
    Split,
}

fn default_channels() -> Vec<String> {
    vec!["image".into()]
}

impl CnnModelSpec {
    /// The classifier settings for `classes` classes.
    pub(crate) fn classifier_spec(&self, classes: usize) -> CnnSpec {
        CnnSpec {
            arch: self.network.clone(),
            classes,
            train: self.train.clone(),
            validation_fraction: self.validation_fraction,
            aggregate: self.aggregate,
            // An unresolved pretraining cohort has no weights yet; `fit_on` refuses it.
            pretrained: self
                .pretrained
                .as_ref()
                .and_then(PretrainedSpec::as_checkpoint)
                .cloned(),
        }
    }

    /// These settings fine-tuning from the checkpoint at `path`, which the runner pretrained
    /// on this model's pretraining cohort (unchanged unless `pretrained` is a cohort).
    pub fn with_pretrained_checkpoint(&self, path: std::path::PathBuf) -> CnnModelSpec {
        let mut spec = self.clone();
        if let Some(PretrainedSpec::Cohort(cohort)) = &self.pretrained {
            spec.pretrained = Some(PretrainedSpec::Checkpoint(cohort.checkpoint(path)));
        }
        spec
    }
}

/// The `cnn` kind.
pub struct CnnKind;

impl ModelKind for CnnKind {
    fn name(&self) -> &'static str {
        "cnn"
    }

    fn build(&self, id: &str, settings: &toml::Table) -> Result<Box<dyn Model>, SettingsError> {
        let spec: CnnModelSpec = toml::Value::Table(settings.clone())
            .try_into()
            .map_err(|e| SettingsError::from_serde(&e))?;
        if spec.channels.is_empty() {
            return Err(SettingsError::for_key("channels", "`channels` is empty"));
        }
        let crop3d = matches!(spec.input.layout, Layout::Crop3d { .. });
        if spec.network.input_rank() == 4 && !crop3d {
            return Err(SettingsError::for_key(
                "network",
                "a 3-D network needs 3-D inputs: input.layout = { kind = \"crop3d\", depth = ... }",
            ));
        }
        if spec.frames_as_channels && (!crop3d || spec.network.input_rank() == 4) {
            return Err(SettingsError::for_key(
                "frames_as_channels",
                "`frames_as_channels = true` needs a 2-D network and `input.layout = { kind = \"crop3d\", ... }`",
            ));
        }
        if spec.validation == ValidationSource::Split && spec.validation_fraction > 0.0 {
            return Err(SettingsError::for_key(
                "validation_fraction",
                "`validation = \"split\"` early-stops on the split's val cases; drop validation_fraction",
            ));
        }
        if let Some(cohort) = spec.pretrained.as_ref().and_then(PretrainedSpec::as_cohort) {
            cohort.check().map_err(|(key, message)| {
                SettingsError::for_key("pretrained", format!("key `{key}`: {message}"))
            })?;
        }
        let has_validation =
            spec.validation == ValidationSource::Split || spec.validation_fraction > 0.0;
        spec.classifier_spec(2)
            .check_with(has_validation)
            .map_err(|e| match e {
                super::cnn::CnnError::Settings { key, message } => {
                    SettingsError::for_key(&key, message)
                }
                other => SettingsError::for_key("kind", other.to_string()),
            })?;
        Ok(Box::new(CnnModel {
            id: id.to_string(),
            spec,
        }))
    }
}

/// Builds a checked `kind = "cnn"` model from parsed settings (the runner's fine-tuning model
/// after it substituted a pretrained checkpoint for the pretraining cohort).
pub(crate) fn model_from_spec(id: &str, spec: CnnModelSpec) -> Box<dyn Model> {
    Box::new(CnnModel {
        id: id.to_string(),
        spec,
    })
}

/// An unfitted CNN model.
pub struct CnnModel {
    id: String,
    spec: CnnModelSpec,
}

/// Cuts every sample of `cases` with the model's input settings.
pub(crate) fn samples_of(
    model: &str,
    spec: &CnnModelSpec,
    cases: &[&CaseImages],
) -> Result<Vec<Vec<Sample>>, ModelError> {
    cases
        .iter()
        .map(|case| {
            let images = spec
                .channels
                .iter()
                .map(|name| {
                    if name == "image" {
                        Ok(&case.image)
                    } else {
                        case.channels.get(name).ok_or_else(|| ModelError::Shape {
                            model: model.into(),
                            message: format!("case {}: no channel {name:?}", case.case_id),
                        })
                    }
                })
                .collect::<Result<Vec<_>, _>>()?;
            let samples =
                extract(&case.case_id, &images, &case.mask, &spec.input).map_err(|e| {
                    ModelError::Fit {
                        model: model.into(),
                        message: e.to_string(),
                    }
                })?;
            // A 2-D network reads a 3-D crop as 2.5-D (or cine frames as channels): its slices
            // become channels.
            Ok(
                if spec.frames_as_channels || spec.network.input_rank() == 3 {
                    samples.iter().map(Sample::depth_as_channels).collect()
                } else {
                    samples
                },
            )
        })
        .collect()
}

impl Model for CnnModel {
    fn id(&self) -> &str {
        &self.id
    }

    fn relative_cost(&self) -> f64 {
        // A few epochs of a small CNN cost hundreds of logistic fits per case.
        200.0 * self.spec.train.epochs.max(1) as f64
    }

    fn needs_images(&self) -> bool {
        true
    }

    fn fit(
        &self,
        data: &TrainingData<'_>,
        rng: &mut SeededRng,
    ) -> Result<Box<dyn Fitted>, ModelError> {
        if self.spec.validation == ValidationSource::Split {
            return Err(ModelError::Fit {
                model: self.id.clone(),
                message: "`validation = \"split\"` needs a predefined split with val cases".into(),
            });
        }
        self.fit_on(data, None, rng)
    }

    fn fit_with_validation(
        &self,
        data: &TrainingData<'_>,
        validation: &ValidationData<'_>,
        rng: &mut SeededRng,
    ) -> Result<Box<dyn Fitted>, ModelError> {
        if validation.cases.images.len() != validation.labels.len() {
            return Err(ModelError::Shape {
                model: self.id.clone(),
                message: format!(
                    "{} validation images for {} labels",
                    validation.cases.images.len(),
                    validation.labels.len()
                ),
            });
        }
        self.fit_on(data, Some(validation), rng)
    }
}

impl CnnModel {
    /// Fits on `data`, early-stopping on `validation` when given.
    fn fit_on(
        &self,
        data: &TrainingData<'_>,
        validation: Option<&ValidationData<'_>>,
        rng: &mut SeededRng,
    ) -> Result<Box<dyn Fitted>, ModelError> {
        check_training_data(&self.id, data)?;
        if let Some(PretrainedSpec::Cohort(c)) = &self.spec.pretrained {
            return Err(ModelError::Fit {
                model: self.id.clone(),
                message: format!(
                    "`pretrained.cohort = {:?}` is pretrained by the runner before the cells; it is \
                     supported on top-level `kind = \"cnn\"` models only (use `pretrained.path` here)",
                    c.cohort
                ),
            });
        }
        if data.images.len() != data.labels.len() {
            return Err(ModelError::Shape {
                model: self.id.clone(),
                message: format!(
                    "{} images for {} labels",
                    data.images.len(),
                    data.labels.len()
                ),
            });
        }
        let per_case = samples_of(&self.id, &self.spec, data.images)?;
        let mut samples = Vec::new();
        let mut labels = Vec::new();
        let mut patients = Vec::new();
        for (row, (case_samples, &label)) in per_case.into_iter().zip(data.labels).enumerate() {
            labels.extend(std::iter::repeat_n(label, case_samples.len()));
            if let Some(&patient) = data.patients.get(row) {
                patients.extend(std::iter::repeat_n(patient, case_samples.len()));
            }
            samples.extend(case_samples);
        }
        let spec = self.spec.classifier_spec(data.n_classes);
        let fitted = match validation {
            None => CnnClassifier::fit_grouped(&samples, &labels, &patients, &spec, rng),
            Some(validation) => {
                let mut val_samples = Vec::new();
                let mut val_labels = Vec::new();
                let per_case = samples_of(&self.id, &self.spec, validation.cases.images)?;
                for (case_samples, &label) in per_case.into_iter().zip(validation.labels) {
                    val_labels.extend(std::iter::repeat_n(label, case_samples.len()));
                    val_samples.extend(case_samples);
                }
                let given = Labelled {
                    samples: &val_samples,
                    labels: &val_labels,
                };
                CnnClassifier::fit_with_validation(&samples, &labels, given, &spec, rng)
            }
        }
        .map_err(|e| ModelError::Fit {
            model: self.id.clone(),
            message: e.to_string(),
        })?;
        Ok(Box::new(FittedCnnModel {
            id: self.id.clone(),
            spec: self.spec.clone(),
            n_classes: data.n_classes,
            fitted,
        }))
    }
}

/// A trained CNN model.
pub struct FittedCnnModel {
    id: String,
    spec: CnnModelSpec,
    n_classes: usize,
    fitted: FittedCnn,
}

impl Fitted for FittedCnnModel {
    fn predict_proba(&self, data: &PredictData<'_>) -> Result<Array2<f64>, ModelError> {
        let per_case = samples_of(&self.id, &self.spec, data.images)?;
        let samples: Vec<Sample> = per_case.into_iter().flatten().collect();
        let by_case: BTreeMap<String, Vec<f64>> = self
            .fitted
            .predict_cases(&samples)
            .map_err(|e| ModelError::Fit {
                model: self.id.clone(),
                message: e.to_string(),
            })?
            .into_iter()
            .map(|c| (c.case, c.proba))
            .collect();
        let mut out = Array2::zeros((data.images.len(), self.n_classes));
        for (row, case) in data.images.iter().enumerate() {
            let p = by_case
                .get(&case.case_id)
                .ok_or_else(|| ModelError::Shape {
                    model: self.id.clone(),
                    message: format!("no prediction for case {}", case.case_id),
                })?;
            for (c, &v) in p.iter().enumerate() {
                out[[row, c]] = v;
            }
        }
        Ok(out)
    }

    fn summary(&self) -> serde_json::Value {
        serde_json::to_value(self.fitted.curve()).unwrap_or(serde_json::Value::Null)
    }

    fn predict_patches(
        &self,
        data: &PredictData<'_>,
    ) -> Result<Option<Vec<PatchPrediction>>, ModelError> {
        let samples: Vec<Sample> = samples_of(&self.id, &self.spec, data.images)?
            .into_iter()
            .flatten()
            .collect();
        let proba = self
            .fitted
            .predict_proba(&samples)
            .map_err(|e| ModelError::Fit {
                model: self.id.clone(),
                message: e.to_string(),
            })?;
        Ok(Some(
            samples
                .iter()
                .zip(proba)
                .map(|(sample, probabilities)| PatchPrediction {
                    case_id: sample.case.clone(),
                    slice: sample.slice,
                    probabilities,
                })
                .collect(),
        ))
    }
}
