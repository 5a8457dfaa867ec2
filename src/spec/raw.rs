//! The experiment file as written: serde types that mirror the TOML one to one.
//!
//! Every table denies unknown keys, so a typo is an error that names the key, its line and the
//! valid keys. Model tables are kept as raw TOML tables with their span, because each model kind
//! parses its own settings (see [`crate::models`]).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use toml::Spanned;

/// The whole experiment file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExperiment {
    /// `[experiment]`: name and seed.
    pub experiment: RawHeader,
    /// `[data]`: the cohort and the label.
    pub data: RawData,
    /// `[features]`: radiomics extraction settings.
    #[serde(default)]
    pub features: RawFeatures,
    /// `[split]`: how cases are split into training and test folds.
    pub split: RawSplit,
    /// `[[model]]`: the models to compare (at least one).
    #[serde(default)]
    pub model: Vec<Spanned<toml::Table>>,
    /// `[evaluation]`: statistics settings.
    #[serde(default)]
    pub evaluation: RawEvaluation,
    /// `[published]`: the paper's numbers, shown beside the reproduced ones.
    #[serde(default)]
    pub published: Option<RawPublished>,
    /// `[survival]`: survival by high vs low volume.
    #[serde(default)]
    pub survival: Option<super::survival::RawSurvival>,
    /// `[operating_point]`: a binary reading of a multi-class label, with a simulated reader.
    #[serde(default)]
    pub operating_point: Option<super::operating_point::RawOperatingPoint>,
}

/// `[experiment]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeader {
    /// Experiment name: letters, digits, `-` and `_` (it names the report folder).
    pub name: Spanned<String>,
    /// The experiment seed from which every random stream is derived.
    pub seed: u64,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Seed sweep: the whole experiment is run once per seed, and the spread of each metric
    /// across them is reported beside the single-seed result of `seed`.
    #[serde(default)]
    pub seeds: Option<Spanned<Vec<u64>>>,
}

/// `[data]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawData {
    /// Path of the cohort manifest, relative to the experiment file.
    pub manifest: String,
    /// Name of the label (a key of each case's `labels`).
    pub label: String,
    /// The label value that counts as positive (default 1) for a binary analysis.
    #[serde(default = "default_positive")]
    pub positive: i64,
    /// Class names for a multi-class analysis: label value `i` is class `classes[i]`.
    #[serde(default)]
    pub classes: Option<Spanned<Vec<String>>>,
}

fn default_positive() -> i64 {
    1
}

/// `[features]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFeatures {
    /// Feature classes to extract, pyradiomics names (default firstorder and shape).
    #[serde(default = "default_classes_spanned")]
    pub classes: Spanned<Vec<String>>,
    /// Fixed bin width for discretisation (pyradiomics `binWidth`, default 25).
    #[serde(default = "default_bin_width")]
    pub bin_width: Spanned<f64>,
    /// Mask label of the region of interest (default 1).
    #[serde(default = "default_label")]
    pub label: u8,
    /// Feature classes to extract from extra manifest channels, by channel name (default
    /// none): `channels = { bmode = ["firstorder", "glcm"] }` adds columns named
    /// `bmode_original_firstorder_Mean`, ..., computed on that channel inside the same mask.
    #[serde(default = "default_channel_classes")]
    pub channels: Spanned<BTreeMap<String, Vec<String>>>,
}

impl Default for RawFeatures {
    fn default() -> Self {
        RawFeatures {
            classes: default_classes_spanned(),
            bin_width: default_bin_width(),
            label: default_label(),
            channels: default_channel_classes(),
        }
    }
}

fn default_classes_spanned() -> Spanned<Vec<String>> {
    Spanned::new(0..0, default_classes())
}
fn default_classes() -> Vec<String> {
    vec!["firstorder".into(), "shape".into()]
}
fn default_channel_classes() -> Spanned<BTreeMap<String, Vec<String>>> {
    Spanned::new(0..0, BTreeMap::new())
}
fn default_bin_width() -> Spanned<f64> {
    Spanned::new(0..0, 25.0)
}
fn default_label() -> u8 {
    1
}

/// `[split]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSplit {
    /// `stratified-kfold`, `repeated-stratified-kfold`, `repeated-holdout`, `by-site` or
    /// `predefined` (the cohort's own train/val/test marks).
    pub kind: Spanned<String>,
    /// Number of folds (≥ 2).
    #[serde(default = "default_folds")]
    pub folds: Spanned<usize>,
    /// Number of repeats of the whole split with different shuffles (≥ 1).
    #[serde(default = "default_repeats")]
    pub repeats: Spanned<usize>,
    /// `repeated-holdout`: fraction of patients (per class) in the test part (default 0.3).
    #[serde(default)]
    pub test_fraction: Option<Spanned<f64>>,
    /// `by-site`: the sites to train on.
    #[serde(default)]
    pub train_sites: Option<Spanned<Vec<String>>>,
    /// `by-site`: the sites to test on, each separately (default: every other site).
    #[serde(default)]
    pub test_sites: Option<Vec<String>>,
}

fn default_folds() -> Spanned<usize> {
    Spanned::new(0..0, 5)
}
fn default_repeats() -> Spanned<usize> {
    Spanned::new(0..0, 1)
}

/// `[evaluation]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEvaluation {
    /// Confidence level of every interval (default 0.95).
    #[serde(default = "default_level_spanned")]
    pub ci_level: Spanned<f64>,
    /// Pairs of model ids to compare with a paired DeLong test.
    #[serde(default = "default_compare")]
    pub compare: Spanned<Vec<[String; 2]>>,
    /// Threshold grid of the decision curves.
    #[serde(default = "default_dca")]
    pub dca: Spanned<RawDca>,
}

/// `[evaluation] dca = { from, to, step }`: threshold probabilities of the decision curves.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawDca {
    /// First threshold (default 0.01).
    pub from: f64,
    /// Last threshold (default 0.99).
    pub to: f64,
    /// Step (default 0.01).
    pub step: f64,
}

fn default_dca() -> Spanned<RawDca> {
    Spanned::new(
        0..0,
        RawDca {
            from: 0.01,
            to: 0.99,
            step: 0.01,
        },
    )
}

impl Default for RawEvaluation {
    fn default() -> Self {
        RawEvaluation {
            ci_level: default_level_spanned(),
            compare: default_compare(),
            dca: default_dca(),
        }
    }
}

fn default_level_spanned() -> Spanned<f64> {
    Spanned::new(0..0, default_level())
}
fn default_compare() -> Spanned<Vec<[String; 2]>> {
    Spanned::new(0..0, Vec::new())
}
fn default_level() -> f64 {
    0.95
}

/// `[published]`: a paper's reported numbers, keyed by model id.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawPublished {
    /// Citation (DOI or reference).
    pub source: String,
    /// Reported AUC per model id.
    #[serde(default)]
    pub auc: BTreeMap<String, f64>,
    /// Reported AUC confidence interval per model id, when the paper gives one.
    #[serde(default)]
    pub auc_ci: BTreeMap<String, [f64; 2]>,
    /// Largest |reproduced − published| AUC still called a reproduction (default 0.05).
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
    /// What the synthetic analogue can and cannot reproduce, shown with the table.
    #[serde(default)]
    pub note: Option<String>,
    /// Segmentation and survival figures of the paper (segmentation studies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segmentation: Option<super::published::PublishedSegmentation>,
    /// Reported accuracy per model id, when the paper gives one (a benchmark table's ACC).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub acc: BTreeMap<String, f64>,
}

fn default_tolerance() -> f64 {
    0.05
}
