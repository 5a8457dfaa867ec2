//! `kind = "fusion"`: radiomics and CNN image features combined in one model, fitted per cell
//! like any other model. Three strategies, chosen with `strategy`:
//!
//! ```toml
//! # Early fusion: radiomics ⊕ the CNN's per-case embedding → a radiomics head.
//! [[model]]
//! id = "fused-early"
//! kind = "fusion"
//! strategy = "early"
//! cnn = { input = { layout = { kind = "slices2d", k = 3 }, size = [32, 32], normalise = { kind = "z-score-in-mask" } }, network = { arch = "resnet", depth = "resnet18", base_width = 8, stem = "small" }, train = { epochs = 8 } }
//! features = ["original_shape_Sphericity"]  # radiomics columns used; default all
//! head = { kind = "logistic", alpha = 1.0, selection = { method = "lasso" } }  # or kind = "forest"
//!
//! # Late fusion (stacking): members' inner out-of-fold probabilities → logistic meta-learner.
//! [[model]]
//! id = "stacked"
//! kind = "fusion"
//! strategy = "late"
//! inner_folds = 5                 # inner stratified k-fold on the training fold
//! meta = { alpha = 1.0 }          # L2 penalty of the meta-learner (max_iter also accepted)
//! [[model.members]]               # any model kind, settings inline; `id` names it in the summary
//! id = "radiomics"
//! kind = "logistic"
//! [[model.members]]
//! id = "cnn"
//! kind = "cnn"
//! input = { layout = { kind = "slices2d", k = 3 }, size = [32, 32], normalise = { kind = "z-score-in-mask" } }
//! network = { arch = "resnet", depth = "resnet18", base_width = 8, stem = "small" }
//!
//! # Joint fusion: one CNN whose linear head reads pooled image features ⊕ radiomics.
//! [[model]]
//! id = "fused-joint"
//! kind = "fusion"
//! strategy = "joint"
//! cnn = { input = { ... }, network = { ... }, train = { epochs = 8 } }  # as kind = "cnn"
//! features = ["original_shape_Sphericity"]  # radiomics columns; default all
//! selection = { method = "univariate-auc", k = 8 }  # optional, fitted in the training fold
//! ```
//!
//! `cnn` takes the settings of `kind = "cnn"` ([`CnnModelSpec`]). Members of a late fusion are
//! written inline rather than as references to other `[[model]]` ids, so a fusion cell's cache
//! key (which hashes only that model's settings) covers everything it fits.
//!
//! No fitted part sees a test-fold case: the CNN, the radiomics selection, the standardiser,
//! the members and the meta-learner are fitted on the training rows handed to
//! [`Model::fit`] only (the `leakage` integration test checks it for every strategy). All
//! randomness comes from the cell's stream. The fit summary records what was fitted: the CNN's
//! weight fingerprint and loss curve, the selected features, the standardiser, each member's
//! summary and the meta-learner's coefficients.

mod early;
mod joint;
mod late;
#[cfg(test)]
mod tests;

use super::cnn::CnnError;
use super::cnn::input::Sample;
use super::cnn_model::{CnnModelSpec, samples_of};
use super::{CaseImages, Model, ModelError, ModelKind, SettingsError};
use serde::de::DeserializeOwned;

/// The `fusion` kind.
pub struct FusionKind;

impl ModelKind for FusionKind {
    fn name(&self) -> &'static str {
        "fusion"
    }

    fn build(&self, id: &str, settings: &toml::Table) -> Result<Box<dyn Model>, SettingsError> {
        let mut rest = settings.clone();
        let strategy = match rest.remove("strategy") {
            Some(toml::Value::String(s)) => s,
            Some(other) => {
                return Err(SettingsError::for_key(
                    "strategy",
                    format!("`strategy` must be a string, got {other}"),
                ));
            }
            None => {
                return Err(SettingsError::for_key(
                    "strategy",
                    "fusion needs `strategy` = \"early\", \"late\" or \"joint\"",
                ));
            }
        };
        match strategy.as_str() {
            "early" => early::EarlyFusion::build(id, &rest),
            "late" => late::LateFusion::build(id, &rest),
            "joint" => joint::JointFusion::build(id, &rest),
            other => Err(SettingsError::for_key(
                "strategy",
                format!("unknown fusion strategy {other:?}, expected early, late or joint"),
            )),
        }
    }
}

/// Parses a settings table into `T`, errors naming the key.
fn parse<T: DeserializeOwned>(settings: &toml::Table) -> Result<T, SettingsError> {
    toml::Value::Table(settings.clone())
        .try_into()
        .map_err(|e| SettingsError::from_serde(&e))
}

/// Checks the CNN part's settings as `kind = "cnn"` does.
fn check_cnn(spec: &CnnModelSpec) -> Result<(), SettingsError> {
    if spec
        .pretrained
        .as_ref()
        .is_some_and(|p| p.as_cohort().is_some())
    {
        return Err(SettingsError::for_key(
            "cnn",
            "`cnn.pretrained.cohort`: pretraining cohorts are supported on top-level `kind = \"cnn\"` models only (use `pretrained.path` here)",
        ));
    }
    if spec.channels.is_empty() {
        return Err(SettingsError::for_key(
            "channels",
            "`cnn.channels` is empty",
        ));
    }
    spec.classifier_spec(2).check().map_err(|e| match e {
        CnnError::Settings { key, message } => {
            SettingsError::for_key(&key, format!("cnn.{key}: {message}"))
        }
        other => SettingsError::for_key("cnn", other.to_string()),
    })
}

/// Checks that a `features` subset, when given, is not empty.
fn check_features(features: Option<&[String]>) -> Result<(), SettingsError> {
    if features.is_some_and(<[String]>::is_empty) {
        return Err(SettingsError::for_key("features", "`features` is empty"));
    }
    Ok(())
}

/// Every sample of `cases`, flattened in case order, with the number of samples per case.
fn case_samples(
    model: &str,
    spec: &CnnModelSpec,
    rows: usize,
    cases: &[&CaseImages],
) -> Result<(Vec<Sample>, Vec<usize>), ModelError> {
    if cases.len() != rows {
        return Err(ModelError::Shape {
            model: model.into(),
            message: format!("{} cases with images for {rows} feature rows", cases.len()),
        });
    }
    let per_case = samples_of(model, spec, cases)?;
    let counts = per_case.iter().map(Vec::len).collect();
    Ok((per_case.into_iter().flatten().collect(), counts))
}

/// Wraps a CNN error as a fitting error of `model`.
fn cnn_error(model: &str) -> impl Fn(CnnError) -> ModelError + '_ {
    move |e| ModelError::Fit {
        model: model.into(),
        message: e.to_string(),
    }
}
