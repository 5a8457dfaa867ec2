//! The validated experiment: what the runner executes.

use super::mask_source::MaskSource;
use super::raw::{RawDca, RawExperiment, RawPublished};
use super::{SpecError, line_of, line_of_key};
use crate::features::FeatureSettings;
use crate::models;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How cases are split into training and test parts (always grouped by patient).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SplitKind {
    /// k folds stratified by label, shuffled with a seed; `repeats` > 1 repeats it with
    /// other shuffles (`repeated-stratified-kfold` is the same kind).
    StratifiedKfold,
    /// One stratified test part of `test_fraction`, repeated `repeats` times.
    RepeatedHoldout,
    /// Train on `train_sites`, test on each of `test_sites` separately.
    BySite,
    /// The split the cohort comes with (each case's `split` in the manifest): fit on `train`,
    /// choose on `val` (early stopping, operating threshold), test once on `test`.
    Predefined,
}

/// The split of an experiment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SplitSpec {
    /// The kind of split.
    pub kind: SplitKind,
    /// Number of folds (k-fold).
    pub folds: usize,
    /// Number of repeats.
    pub repeats: usize,
    /// Test fraction (repeated hold-out).
    pub test_fraction: f64,
    /// Training sites (by site).
    pub train_sites: Vec<String>,
    /// Test sites (by site); empty means every site not trained on.
    pub test_sites: Vec<String>,
}

/// One `[[model]]` entry: its id, kind and the kind's own settings (already checked by the kind).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelEntry {
    /// Unique id within the experiment (names rows of the report).
    pub id: String,
    /// The model kind (a name in [`crate::models::MODEL_KINDS`]).
    pub kind: String,
    /// The kind's settings, as written (without `id` and `kind`).
    pub settings: toml::Table,
    /// Which masks the model's radiomics come from (`mask = "..."`; left out of the canonical
    /// form when it is the default, so older experiments keep their version).
    #[serde(skip_serializing_if = "MaskSource::is_reference")]
    pub mask: MaskSource,
}

/// A validated experiment. Serialising it gives the canonical form hashed into the report
/// version (paths appear as written, so moving a checkout does not change the version).
#[derive(Debug, Clone, Serialize)]
pub struct Experiment {
    /// Experiment name (report folder name).
    pub name: String,
    /// Experiment seed.
    pub seed: u64,
    /// Seed sweep: every seed the whole experiment is also run with (empty: no sweep).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub seeds: Vec<u64>,
    /// Free text.
    pub description: Option<String>,
    /// The manifest path as written in the file.
    pub manifest: String,
    /// The manifest path resolved against the experiment file's folder.
    #[serde(skip)]
    pub manifest_path: PathBuf,
    /// The label name.
    pub label: String,
    /// The label value that counts as positive (binary analysis).
    pub positive: i64,
    /// Class names, index = class: for a binary analysis `[not positive, positive]`; for a
    /// multi-class one the `[data] classes` list, label value `i` being class `i`.
    pub classes: Vec<String>,
    /// Whether `[data] classes` asked for a multi-class analysis.
    pub multiclass: bool,
    /// Feature classes to extract.
    pub feature_classes: Vec<String>,
    /// Discretisation bin width.
    pub bin_width: f64,
    /// Mask label of the region of interest.
    pub mask_label: u8,
    /// Feature classes extracted from extra channels, by channel name (empty: none; then left
    /// out of the canonical form, so older experiments keep their version).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub channel_feature_classes: BTreeMap<String, Vec<String>>,
    /// The split.
    pub split: SplitSpec,
    /// Models, in file order.
    pub models: Vec<ModelEntry>,
    /// Confidence level of every interval.
    pub ci_level: f64,
    /// Pairs of model ids to compare (paired DeLong).
    pub compare: Vec<[String; 2]>,
    /// Decision-curve thresholds.
    pub dca: RawDca,
    /// The decision-curve threshold grid, expanded.
    #[serde(skip)]
    pub dca_thresholds: Vec<f64>,
    /// The paper's numbers.
    pub published: Option<RawPublished>,
    /// Segmenters (`kind = "segmenter"`), in file order; kept apart from `models` because they
    /// predict masks, not classes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub segmenters: Vec<ModelEntry>,
    /// The survival analysis (`[survival]`), if asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub survival: Option<super::survival::SurvivalSpec>,
    /// The binary reading of a multi-class label (`[operating_point]`), if asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operating_point: Option<super::operating_point::OperatingPointSpec>,
}

impl Experiment {
    /// Reads and validates an experiment file.
    pub fn load(path: &Path) -> Result<Experiment, SpecError> {
        let source = std::fs::read_to_string(path).map_err(|source| SpecError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Experiment::parse(&source, path)
    }

    /// Validates experiment text; `path` names the file in errors and anchors relative paths.
    pub fn parse(source: &str, path: &Path) -> Result<Experiment, SpecError> {
        let invalid = |line: usize, message: String| SpecError::Invalid {
            path: path.to_path_buf(),
            line,
            message,
        };
        let raw: RawExperiment = toml::from_str(source).map_err(|e| {
            let line = e.span().map(|s| line_of(source, s.start)).unwrap_or(0);
            invalid(line, e.message().trim().to_string())
        })?;

        let name = raw.experiment.name.get_ref().clone();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(invalid(
                line_of(source, raw.experiment.name.span().start),
                format!("key `name`: {name:?} must be letters, digits, '-' or '_'"),
            ));
        }

        let classes = raw.features.classes.get_ref().clone();
        for class in &classes {
            if let Err(e) = crate::features::family_by_name(class) {
                return Err(invalid(
                    line_of(source, raw.features.classes.span().start),
                    format!("key `features.classes`: {e}"),
                ));
            }
        }
        let channel_feature_classes = raw.features.channels.get_ref().clone();
        for (channel, list) in &channel_feature_classes {
            let line = line_of(source, raw.features.channels.span().start);
            if channel == "image" || channel.is_empty() {
                return Err(invalid(
                    line,
                    format!(
                        "key `features.channels`: {channel:?} is not an extra channel name \
                         (the primary image's classes are `features.classes`)"
                    ),
                ));
            }
            if list.is_empty() {
                return Err(invalid(
                    line,
                    format!("key `features.channels.{channel}` lists no feature class"),
                ));
            }
            for class in list {
                if let Err(e) = crate::features::family_by_name(class) {
                    return Err(invalid(
                        line,
                        format!("key `features.channels.{channel}`: {e}"),
                    ));
                }
            }
        }
        let bin_width = *raw.features.bin_width.get_ref();
        if !(bin_width.is_finite() && bin_width > 0.0) {
            return Err(invalid(
                line_of(source, raw.features.bin_width.span().start),
                "key `features.bin_width` must be a positive number".into(),
            ));
        }

        let kind = match raw.split.kind.get_ref().as_str() {
            "stratified-kfold" | "repeated-stratified-kfold" => SplitKind::StratifiedKfold,
            "repeated-holdout" => SplitKind::RepeatedHoldout,
            "by-site" => SplitKind::BySite,
            "predefined" => SplitKind::Predefined,
            other => {
                return Err(invalid(
                    line_of(source, raw.split.kind.span().start),
                    format!(
                        "key `split.kind`: unknown split {other:?}, expected one of \
                         `stratified-kfold`, `repeated-stratified-kfold`, `repeated-holdout`, `by-site`, \
                         `predefined`"
                    ),
                ));
            }
        };
        let test_fraction = raw
            .split
            .test_fraction
            .as_ref()
            .map_or(0.3, |t| *t.get_ref());
        if let Some(t) = &raw.split.test_fraction
            && !(test_fraction > 0.0 && test_fraction < 1.0)
        {
            return Err(invalid(
                line_of(source, t.span().start),
                format!("key `split.test_fraction`: {test_fraction} is not in (0, 1)"),
            ));
        }
        let train_sites = raw
            .split
            .train_sites
            .as_ref()
            .map(|t| t.get_ref().clone())
            .unwrap_or_default();
        if kind == SplitKind::BySite && train_sites.is_empty() {
            return Err(invalid(
                line_of(source, raw.split.kind.span().start),
                "a `by-site` split needs `train_sites = [...]`".into(),
            ));
        }
        if kind == SplitKind::BySite && *raw.split.repeats.get_ref() != 1 {
            return Err(invalid(
                line_of(source, raw.split.repeats.span().start),
                "key `split.repeats`: a `by-site` split is deterministic; repeats must be 1".into(),
            ));
        }
        if kind == SplitKind::Predefined && *raw.split.repeats.get_ref() != 1 {
            return Err(invalid(
                line_of(source, raw.split.repeats.span().start),
                "key `split.repeats`: a `predefined` split is fixed; repeats must be 1".into(),
            ));
        }
        let folds = *raw.split.folds.get_ref();
        if kind == SplitKind::StratifiedKfold && folds < 2 {
            return Err(invalid(
                line_of(source, raw.split.folds.span().start),
                format!("key `split.folds`: {folds} folds; at least 2 are needed"),
            ));
        }
        let repeats = *raw.split.repeats.get_ref();
        if repeats < 1 {
            return Err(invalid(
                line_of(source, raw.split.repeats.span().start),
                "key `split.repeats` must be at least 1".into(),
            ));
        }

        let seeds = match &raw.experiment.seeds {
            None => Vec::new(),
            Some(list) => {
                let line = line_of(source, list.span().start);
                let seeds = list.get_ref().clone();
                if seeds.len() < 2 {
                    return Err(invalid(
                        line,
                        "key `experiment.seeds`: a seed sweep needs at least 2 seeds".into(),
                    ));
                }
                for (i, s) in seeds.iter().enumerate() {
                    if seeds[..i].contains(s) {
                        return Err(invalid(
                            line,
                            format!("key `experiment.seeds`: seed {s} is listed twice"),
                        ));
                    }
                }
                seeds
            }
        };

        if raw.model.is_empty() {
            return Err(invalid(
                0,
                "no `[[model]]` table: at least one model is needed".into(),
            ));
        }
        let mut models: Vec<ModelEntry> = Vec::new();
        let mut segmenters: Vec<ModelEntry> = Vec::new();
        // Line of each model's `mask` key, checked once every segmenter is known.
        let mut mask_lines: Vec<usize> = Vec::new();
        for spanned in &raw.model {
            let span = spanned.span();
            let mut table = spanned.get_ref().clone();
            let take_string = |table: &mut toml::Table, key: &str| -> Result<String, SpecError> {
                match table.remove(key) {
                    Some(toml::Value::String(s)) => Ok(s),
                    Some(_) => Err(invalid(
                        line_of_key(source, span.clone(), key),
                        format!("key `model.{key}` must be a string"),
                    )),
                    None => Err(invalid(
                        line_of(source, span.start),
                        format!("a `[[model]]` table misses the key `{key}`"),
                    )),
                }
            };
            let id = take_string(&mut table, "id")?;
            let kind = take_string(&mut table, "kind")?;
            if models.iter().chain(&segmenters).any(|m| m.id == id) {
                return Err(invalid(
                    line_of_key(source, span.clone(), "id"),
                    format!("key `model.id`: {id:?} is used twice"),
                ));
            }
            if kind == models::segmenter::SEGMENTER_KIND {
                models::segmenter::parse_settings(&table).map_err(|e| {
                    let line = e
                        .key()
                        .map(|k| line_of_key(source, span.clone(), k))
                        .unwrap_or_else(|| line_of_key(source, span.clone(), "kind"));
                    invalid(line, format!("model {id:?}: {e}"))
                })?;
                segmenters.push(ModelEntry {
                    id,
                    kind,
                    settings: table,
                    mask: MaskSource::Reference,
                });
                continue;
            }
            let mask_line = line_of_key(source, span.clone(), "mask");
            let mask = match table.remove("mask") {
                None => MaskSource::Reference,
                Some(toml::Value::String(s)) => MaskSource::parse(&s)
                    .map_err(|m| invalid(mask_line, format!("model {id:?}: key `mask`: {m}")))?,
                Some(_) => {
                    return Err(invalid(
                        mask_line,
                        format!("model {id:?}: key `mask` must be a string"),
                    ));
                }
            };
            models::check_settings(&kind, &table).map_err(|e| {
                let line = e
                    .key()
                    .map(|k| line_of_key(source, span.clone(), k))
                    .unwrap_or_else(|| line_of_key(source, span.clone(), "kind"));
                invalid(line, format!("model {id:?}: {e}"))
            })?;
            models.push(ModelEntry {
                id,
                kind,
                settings: table,
                mask,
            });
            mask_lines.push(mask_line);
        }
        super::mask_source::validate(&models, &segmenters, &seeds)
            .map_err(|(m, message)| invalid(mask_lines[m], message))?;

        if models.is_empty() {
            return Err(invalid(
                0,
                "every `[[model]]` is a segmenter: at least one classification model is needed"
                    .into(),
            ));
        }
        let survival = super::survival::validate(raw.survival.as_ref(), &segmenters)
            .map_err(|(at, message)| invalid(line_of(source, at), message))?;

        let ci_level = *raw.evaluation.ci_level.get_ref();
        if !(ci_level > 0.0 && ci_level < 1.0) {
            return Err(invalid(
                line_of(source, raw.evaluation.ci_level.span().start),
                format!("key `evaluation.ci_level`: {ci_level} is not in (0, 1)"),
            ));
        }
        let compare = raw.evaluation.compare.get_ref().clone();
        for pair in &compare {
            for id in pair {
                if !models.iter().any(|m| &m.id == id) {
                    return Err(invalid(
                        line_of(source, raw.evaluation.compare.span().start),
                        format!("key `evaluation.compare`: no model with id {id:?}"),
                    ));
                }
            }
        }

        let dca = *raw.evaluation.dca.get_ref();
        let dca_thresholds =
            crate::eval::dca::threshold_grid(dca.from, dca.to, dca.step).map_err(|e| {
                invalid(
                    line_of(source, raw.evaluation.dca.span().start),
                    format!("key `evaluation.dca`: {e}"),
                )
            })?;

        let (class_names, multiclass) = match &raw.data.classes {
            None => (
                vec![
                    format!("{} != {}", raw.data.label, raw.data.positive),
                    format!("{} = {}", raw.data.label, raw.data.positive),
                ],
                false,
            ),
            Some(names) => {
                let list = names.get_ref().clone();
                if list.len() < 3 {
                    return Err(invalid(
                        line_of(source, names.span().start),
                        "key `data.classes` lists the classes of a multi-class label (at least 3); \
                         for a binary label use `positive`"
                            .into(),
                    ));
                }
                (list, true)
            }
        };

        let operating_point = super::operating_point::validate(
            raw.operating_point.as_ref(),
            &class_names,
            multiclass,
        )
        .map_err(|(at, message)| invalid(line_of(source, at), message))?;

        let base = path.parent().unwrap_or(Path::new("."));
        Ok(Experiment {
            name,
            seed: raw.experiment.seed,
            seeds,
            description: raw.experiment.description,
            manifest_path: base.join(&raw.data.manifest),
            manifest: raw.data.manifest,
            label: raw.data.label,
            positive: raw.data.positive,
            classes: class_names,
            multiclass,
            feature_classes: classes,
            bin_width,
            mask_label: raw.features.label,
            channel_feature_classes,
            split: SplitSpec {
                kind,
                folds,
                repeats,
                test_fraction,
                train_sites,
                test_sites: raw.split.test_sites.unwrap_or_default(),
            },
            models,
            ci_level,
            compare,
            dca,
            dca_thresholds,
            published: raw.published,
            segmenters,
            survival,
            operating_point,
        })
    }

    /// Feature extraction settings of this experiment.
    pub fn feature_settings(&self) -> FeatureSettings {
        FeatureSettings {
            bin_width: self.bin_width,
            label: self.mask_label,
            ..FeatureSettings::default()
        }
    }

    /// The canonical JSON of the experiment (stable key order), hashed into the report version.
    pub fn canonical_json(&self) -> String {
        // Serialising plain structs and BTreeMap-backed tables cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[experiment]
name = "quick"
seed = 7

[data]
manifest = "../data-manifests/x.toml"
label = "lesion"

[split]
kind = "stratified-kfold"
folds = 5

[[model]]
id = "radiomics"
kind = "logistic"
alpha = 1.0
"#;

    fn parse(src: &str) -> Result<Experiment, SpecError> {
        Experiment::parse(src, Path::new("experiments/q.toml"))
    }

    #[test]
    fn good_file_resolves_paths_relative_to_itself() {
        let e = parse(GOOD).unwrap();
        assert_eq!(
            e.manifest_path,
            Path::new("experiments/../data-manifests/x.toml")
        );
        assert_eq!(e.models.len(), 1);
        assert_eq!(e.split.folds, 5);
        assert_eq!(e.positive, 1);
    }

    #[test]
    fn unknown_key_names_key_line_and_valid_keys() {
        let src = GOOD.replace("folds = 5", "folds = 5\nfolsd = 3");
        let msg = parse(&src).unwrap_err().to_string();
        assert!(msg.starts_with("experiments/q.toml:13:"), "{msg}");
        assert!(msg.contains("folsd") && msg.contains("repeats"), "{msg}");
    }

    #[test]
    fn unknown_model_setting_names_its_line() {
        let src = GOOD.replace("alpha = 1.0", "alpha = 1.0\nalhpa = 2.0");
        let msg = parse(&src).unwrap_err().to_string();
        assert!(msg.starts_with("experiments/q.toml:18:"), "{msg}");
        assert!(msg.contains("alhpa"), "{msg}");
    }

    #[test]
    fn wrong_type_and_missing_key_are_errors() {
        let msg = parse(&GOOD.replace("seed = 7", "seed = \"x\""))
            .unwrap_err()
            .to_string();
        assert!(msg.contains(":4:"), "{msg}");
        let msg = parse(&GOOD.replace("label = \"lesion\"", ""))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("label"), "{msg}");
    }

    #[test]
    fn seed_sweep_needs_distinct_seeds() {
        let with = |list: &str| GOOD.replace("seed = 7", &format!("seed = 7\nseeds = {list}"));
        let e = parse(&with("[7, 8, 9]")).unwrap();
        assert_eq!(e.seeds, vec![7, 8, 9]);
        assert!(e.canonical_json().contains("\"seeds\":[7,8,9]"));
        assert!(!parse(GOOD).unwrap().canonical_json().contains("seeds"));
        let msg = parse(&with("[1, 2, 1]")).unwrap_err().to_string();
        assert!(
            msg.contains("seed 1 is listed twice") && msg.contains(":5:"),
            "{msg}"
        );
        let msg = parse(&with("[3]")).unwrap_err().to_string();
        assert!(msg.contains("at least 2 seeds"), "{msg}");
        let msg = parse(&with("[1, -2]")).unwrap_err().to_string();
        assert!(msg.contains(":5:"), "{msg}");
        let msg = parse(&with("[1, \"x\"]")).unwrap_err().to_string();
        assert!(msg.contains(":5:"), "{msg}");
    }

    #[test]
    fn unknown_model_kind_lists_kinds() {
        let msg = parse(&GOOD.replace("kind = \"logistic\"", "kind = \"svmm\""))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("svmm") && msg.contains("logistic"), "{msg}");
        assert!(msg.contains(":16:"), "{msg}");
    }

    #[test]
    fn semantic_checks() {
        assert!(parse(&GOOD.replace("folds = 5", "folds = 1")).is_err());
        let dup = format!("{GOOD}\n[[model]]\nid = \"radiomics\"\nkind = \"logistic\"\n");
        assert!(parse(&dup).unwrap_err().to_string().contains("twice"));
        let cmp = format!("{GOOD}\n[evaluation]\ncompare = [[\"radiomics\", \"nope\"]]\n");
        assert!(parse(&cmp).unwrap_err().to_string().contains("nope"));
    }

    #[test]
    fn channel_feature_classes_are_checked_and_kept_out_of_old_hashes() {
        let with = GOOD.replace(
            "[split]",
            "[features]\nchannels = { bmode = [\"firstorder\", \"tic\"] }\n\n[split]",
        );
        let e = parse(&with).unwrap();
        assert_eq!(e.channel_feature_classes["bmode"], ["firstorder", "tic"]);
        assert!(e.canonical_json().contains("bmode"));
        assert!(!parse(GOOD).unwrap().canonical_json().contains("channel"));
        let bad = with.replace("\"tic\"", "\"ticc\"");
        let msg = parse(&bad).unwrap_err().to_string();
        assert!(
            msg.contains("features.channels.bmode") && msg.contains("ticc"),
            "{msg}"
        );
        let msg = parse(&with.replace("bmode = [\"firstorder\", \"tic\"]", "bmode = []"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("lists no feature class"), "{msg}");
    }

    #[test]
    fn predefined_split_parses_and_refuses_repeats() {
        let src = GOOD.replace("kind = \"stratified-kfold\"", "kind = \"predefined\"");
        assert_eq!(parse(&src).unwrap().split.kind, SplitKind::Predefined);
        let msg = parse(&src.replace("folds = 5", "repeats = 3"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("repeats must be 1"), "{msg}");
    }

    #[test]
    fn canonical_json_is_stable() {
        assert_eq!(
            parse(GOOD).unwrap().canonical_json(),
            parse(GOOD).unwrap().canonical_json()
        );
    }
}
