//! Where a `kind = "cnn"` model's starting weights come from: a checkpoint file, or a network
//! the runner pretrains on another cohort first.
//!
//! Principal types: [`PretrainedSpec`] (the `pretrained` key), [`PretrainCohort`] (its cohort
//! form). The file form is the library's [`Pretrained`]:
//! ```toml
//! pretrained = { path = "weights/resnet18.safetensors", skip = ["fc."] }
//! ```
//! The cohort form names a manifest (relative to the experiment file) and a label instead:
//! ```toml
//! pretrained = { cohort = "../data-manifests/synth-lesion-ct-pretrain.toml", label = "lesion", epochs = 6, skip = ["fc."] }
//! ```
//! Before any cell, the runner trains the model's own network and input layout on every case
//! of that cohort (classes: the label's distinct values in ascending order), caches the
//! checkpoint, and every cell fine-tunes from it (`crate::runner` documents the cache key).
//! Exactly one of `path` and `cohort` must be given; unknown keys are errors that name the key.

use super::cnn::classifier::Pretrained;
use super::cnn::train::TrainSpec;
use serde::{Deserialize, Deserializer};

/// The `pretrained` key of a CNN model: a checkpoint file or a pretraining cohort.
#[derive(Debug, Clone, PartialEq)]
pub enum PretrainedSpec {
    /// Start from a `.safetensors` file.
    Checkpoint(Pretrained),
    /// Start from a network the runner pretrains on another cohort (boxed: it carries a
    /// whole `TrainSpec`).
    Cohort(Box<PretrainCohort>),
}

/// A pretraining cohort: the runner trains the model's network on all of it first.
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PretrainCohort {
    /// Manifest of the pretraining cohort, relative to the experiment file.
    pub cohort: String,
    /// The label the network is pretrained to predict (classes: its distinct values, sorted).
    pub label: String,
    /// Pretraining epochs (overrides `train.epochs`).
    #[serde(default)]
    pub epochs: Option<usize>,
    /// Pretraining settings (default: the library defaults; `freeze`, `lr_scales` and
    /// `patience` are not allowed, since the whole network learns and nothing is held out).
    #[serde(default)]
    pub train: Option<TrainSpec>,
    /// Name prefixes kept fresh when fine-tuning (the head, `"fc."`, when the classes differ).
    #[serde(default)]
    pub skip: Vec<String>,
    /// Fail the fine-tuning load on missing or unexpected tensors.
    #[serde(default)]
    pub strict: bool,
}

impl PretrainCohort {
    /// The training settings of the pretraining run.
    pub fn train_spec(&self) -> TrainSpec {
        let mut train = self.train.clone().unwrap_or_default();
        if let Some(epochs) = self.epochs {
            train.epochs = epochs;
        }
        train
    }

    /// Rejects pretraining settings that cannot be used; the error names the key.
    pub fn check(&self) -> Result<(), (String, String)> {
        let fail = |key: &str, message: &str| Err((key.to_string(), message.to_string()));
        if self.cohort.trim().is_empty() {
            return fail("pretrained.cohort", "is empty");
        }
        if self.label.trim().is_empty() {
            return fail("pretrained.label", "is empty");
        }
        let train = self.train_spec();
        if train.freeze.is_some() || !train.lr_scales.is_empty() {
            return fail(
                "pretrained.train",
                "`freeze` and `lr_scales` apply to fine-tuning (the model's own `train`), not to pretraining",
            );
        }
        if train.patience.is_some() {
            return fail(
                "pretrained.train",
                "`patience` needs validation cases; pretraining uses every case of the cohort",
            );
        }
        train.check().map_err(|e| match e {
            super::cnn::CnnError::Settings { key, message } => {
                (format!("pretrained.train.{key}"), message)
            }
            other => ("pretrained.train".to_string(), other.to_string()),
        })
    }

    /// The library form that fine-tunes from the checkpoint at `path`.
    pub fn checkpoint(&self, path: std::path::PathBuf) -> Pretrained {
        Pretrained {
            path,
            strict: self.strict,
            skip: self.skip.clone(),
            first_conv: None,
        }
    }
}

impl PretrainedSpec {
    /// The checkpoint form, if this is one.
    pub fn as_checkpoint(&self) -> Option<&Pretrained> {
        match self {
            PretrainedSpec::Checkpoint(p) => Some(p),
            PretrainedSpec::Cohort(_) => None,
        }
    }

    /// The cohort form, if this is one.
    pub fn as_cohort(&self) -> Option<&PretrainCohort> {
        match self {
            PretrainedSpec::Cohort(c) => Some(c),
            PretrainedSpec::Checkpoint(_) => None,
        }
    }
}

impl<'de> Deserialize<'de> for PretrainedSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        // Read the table first, then pick the form by its keys, so an unknown key is reported
        // by name (an untagged enum would only say that no form matched).
        let value = toml::Value::deserialize(deserializer)?;
        let Some(table) = value.as_table() else {
            return Err(D::Error::custom(
                "`pretrained` must be a table: { path = \"...\" } or { cohort = \"...\", label = \"...\" }",
            ));
        };
        let explain = |form: &str, e: toml::de::Error| {
            D::Error::custom(format!(
                "`pretrained` ({form} form): {}",
                e.message().trim()
            ))
        };
        match (table.contains_key("path"), table.contains_key("cohort")) {
            (true, true) => Err(D::Error::custom(
                "`pretrained` takes exactly one of `path` (a checkpoint file) and `cohort` (a pretraining cohort), not both",
            )),
            (false, false) => Err(D::Error::custom(
                "`pretrained` needs `path` (a checkpoint file) or `cohort` (a pretraining cohort manifest)",
            )),
            (true, false) => value
                .try_into()
                .map(PretrainedSpec::Checkpoint)
                .map_err(|e| explain("path", e)),
            (false, true) => value
                .try_into()
                .map(|c| PretrainedSpec::Cohort(Box::new(c)))
                .map_err(|e| explain("cohort", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Holder {
        pretrained: PretrainedSpec,
    }

    fn parse(text: &str) -> Result<PretrainedSpec, String> {
        toml::from_str::<Holder>(text)
            .map(|h| h.pretrained)
            .map_err(|e| e.message().to_string())
    }

    #[test]
    fn both_forms_parse() {
        let file = parse(r#"pretrained = { path = "w.safetensors", skip = ["fc."] }"#).unwrap();
        let p = file.as_checkpoint().unwrap();
        assert_eq!(p.path, std::path::PathBuf::from("w.safetensors"));
        assert_eq!(p.skip, vec!["fc.".to_string()]);
        let cohort = parse(
            r#"pretrained = { cohort = "m.toml", label = "lesion", epochs = 3, train = { lr = 0.01 } }"#,
        )
        .unwrap();
        let c = cohort.as_cohort().unwrap();
        assert_eq!((c.cohort.as_str(), c.label.as_str()), ("m.toml", "lesion"));
        let train = c.train_spec();
        assert_eq!((train.epochs, train.lr), (3, 0.01));
        assert!(c.check().is_ok());
    }

    #[test]
    fn unknown_and_conflicting_keys_are_named() {
        let e = parse(r#"pretrained = { cohort = "m.toml", label = "y", epoch = 3 }"#).unwrap_err();
        assert!(e.contains("`pretrained`") && e.contains("`epoch`"), "{e}");
        let e = parse(r#"pretrained = { path = "w", cohort = "m.toml" }"#).unwrap_err();
        assert!(e.contains("exactly one of `path`"), "{e}");
        let e = parse(r#"pretrained = { skip = [] }"#).unwrap_err();
        assert!(e.contains("needs `path`"), "{e}");
        let e = parse(r#"pretrained = { path = "w", label = "y" }"#).unwrap_err();
        assert!(e.contains("path form") && e.contains("`label`"), "{e}");
    }

    #[test]
    fn a_fusion_cnn_refuses_the_cohort_form() {
        use crate::models::ModelKind;
        let settings: toml::Table = toml::from_str(
            r#"
strategy = "early"
cnn = { input = { layout = { kind = "slices2d", k = 1 }, size = [16, 16], normalise = { kind = "z-score-in-mask" } }, network = { arch = "resnet", depth = "resnet18", base_width = 4, stem = "small" }, pretrained = { cohort = "m.toml", label = "y" } }
"#,
        )
        .unwrap();
        let e = crate::models::fusion::FusionKind
            .build("fused", &settings)
            .err()
            .unwrap();
        assert!(e.to_string().contains("top-level"), "{e}");
    }

    #[test]
    fn fine_tuning_settings_are_rejected_in_pretraining() {
        let spec = |train: &str| {
            parse(&format!(
                r#"pretrained = {{ cohort = "m.toml", label = "y", train = {train} }}"#
            ))
            .unwrap()
            .as_cohort()
            .unwrap()
            .check()
        };
        assert_eq!(spec("{ freeze = 0 }").unwrap_err().0, "pretrained.train");
        assert_eq!(spec("{ patience = 2 }").unwrap_err().0, "pretrained.train");
        assert_eq!(
            spec("{ batch_size = 1 }").unwrap_err().0,
            "pretrained.train.batch_size"
        );
        assert!(spec("{ epochs = 2 }").is_ok());
    }
}
