//! Pretraining before the cells: a `kind = "cnn"` model whose `pretrained` names a cohort
//! ([`crate::models::cnn_pretrain::PretrainCohort`]) gets its network trained on that cohort
//! first, and every cell fine-tunes from the checkpoint.
//!
//! Principal items: [`PretrainJob`] (planned by `prepare`, which reads each pretraining
//! manifest so that its hash enters the report version), [`pretrain`] (trains or reuses the
//! checkpoints and rewires the models and their cell caches) and [`PretrainOutcome`].
//!
//! The checkpoint lives at `<cache>/pretrained/<model>-<key>.safetensors`, where the key is a
//! SHA-256 of everything that determines its bytes: radbench version, experiment seed, model
//! id (the stream is `["pretrain", model id]`), the pretraining manifest's hash and cohort
//! fingerprint, label and its classes, mask label, input layout, channels, network and the
//! pretraining settings. It is written to a temporary file and renamed, so a crash never
//! leaves half a checkpoint, and a rerun reuses it. The fine-tuned model's cells are keyed on
//! the checkpoint file's own SHA-256, so a different checkpoint (another setting, or a
//! machine whose arithmetic differs) never reuses cells fitted from the old one. A seed sweep
//! fine-tunes every seed from the one checkpoint of the experiment seed. Every run mode needs
//! the checkpoint's hash, so a shard or a merge that finds no checkpoint in the shared cache
//! trains it too (concurrent writers write the same bytes; the rename keeps the file whole).

use super::RunnerError;
use super::images::load_images;
use super::prepare::Prepared;
use crate::Error;
use crate::data::cohort::Cohort;
use crate::models::cnn::classifier::{CnnClassifier, CnnSpec};
use crate::models::cnn::store::seeded_varmap;
use crate::models::cnn::transfer::{LoadOptions, load_checkpoint, read_checkpoint};
use crate::models::cnn_model::{CnnModelSpec, model_from_spec, samples_of};
use crate::models::cnn_pretrain::PretrainCohort;
use crate::report::provenance::{LoadCounts, PretrainedNetwork, sha256_hex};
use crate::spec::Experiment;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A model to pretrain: its settings, its pretraining cohort and that cohort's manifest.
#[derive(Debug, Clone)]
pub struct PretrainJob {
    /// Index of the model in the experiment.
    pub model_index: usize,
    /// Model id.
    pub model: String,
    /// The model's parsed settings.
    pub spec: CnnModelSpec,
    /// The pretraining cohort as written.
    pub cohort: PretrainCohort,
    /// The manifest, resolved against the experiment file's folder.
    pub manifest_path: PathBuf,
    /// SHA-256 of the manifest's bytes.
    pub manifest_sha256: String,
}

/// What [`pretrain`] did for one model.
#[derive(Debug, Clone, PartialEq)]
pub struct PretrainOutcome {
    /// Model id.
    pub model: String,
    /// The checkpoint file.
    pub checkpoint: PathBuf,
    /// SHA-256 of its bytes.
    pub checkpoint_sha256: String,
    /// Whether this run trained it (`false`: read from the cache).
    pub trained: bool,
    /// Seconds spent (loading and training, or reading).
    pub seconds: f64,
}

/// The models of `exp` that pretrain on a cohort, with their manifests read and hashed.
/// `experiment` is the experiment file, against whose folder cohort paths are resolved.
pub fn plan_pretraining(exp: &Experiment, experiment: &Path) -> Result<Vec<PretrainJob>, Error> {
    let base = experiment.parent().unwrap_or(Path::new("."));
    let mut jobs = Vec::new();
    for (model_index, entry) in exp.models.iter().enumerate() {
        if entry.kind != "cnn" || !entry.settings.contains_key("pretrained") {
            continue;
        }
        let spec: CnnModelSpec = toml::Value::Table(entry.settings.clone())
            .try_into()
            .map_err(|e: toml::de::Error| RunnerError::ModelSettings {
                model: entry.id.clone(),
                message: e.message().trim().to_string(),
            })?;
        let Some(cohort) = spec
            .pretrained
            .as_ref()
            .and_then(|p| p.as_cohort())
            .cloned()
        else {
            continue;
        };
        let manifest_path = base.join(&cohort.cohort);
        let bytes = std::fs::read(&manifest_path).map_err(|e| RunnerError::ModelSettings {
            model: entry.id.clone(),
            message: format!(
                "key `pretrained.cohort`: cannot read the pretraining manifest {}: {e}",
                manifest_path.display()
            ),
        })?;
        jobs.push(PretrainJob {
            model_index,
            model: entry.id.clone(),
            spec,
            cohort,
            manifest_path,
            manifest_sha256: sha256_hex(&bytes),
        });
    }
    Ok(jobs)
}

/// What the pretraining manifests add to the report version: empty without pretraining, so
/// the versions of other experiments do not change.
pub fn version_part(jobs: &[PretrainJob]) -> String {
    jobs.iter()
        .map(|j| format!("\npretrain {} {}", j.model, j.manifest_sha256))
        .collect()
}

/// Trains (or reads from the cache) the checkpoint of every pretraining job of `prepared`,
/// then makes each such model fine-tune from it: its model is rebuilt with the checkpoint,
/// its cell caches are keyed on the checkpoint's SHA-256, and the provenance records it.
pub fn pretrain(
    prepared: &mut Prepared,
    cache_root: &Path,
    progress: bool,
) -> Result<Vec<PretrainOutcome>, Error> {
    let mut outcomes = Vec::new();
    for job in prepared.pretraining.clone() {
        let started = Instant::now();
        let fail = |message: String| RunnerError::Pretraining {
            model: job.model.clone(),
            message,
        };
        let key_error = |key: &str, message: String| RunnerError::ModelSettings {
            model: job.model.clone(),
            message: format!("key `{key}`: {message}"),
        };
        let cohort = Cohort::open(&job.manifest_path, &cache_root.join("synth"))
            .map_err(|e| key_error("pretrained.cohort", e.to_string()))?;
        let (values, classes) = class_values(&cohort, &job)
            .map_err(|message| key_error("pretrained.label", message))?;
        let exp = &prepared.exp;
        let key = checkpoint_key(exp, &job, &cohort, &classes);
        let path =
            cache_root
                .join("pretrained")
                .join(format!("{}-{}.safetensors", job.model, &key[..16]));
        let reusable = path.is_file() && read_checkpoint(&path).is_ok();
        if !reusable {
            let images = load_images(&cohort, exp.mask_label, progress)?;
            let refs: Vec<_> = images.iter().collect();
            let per_case = samples_of(&job.model, &job.spec, &refs)
                .map_err(|e| fail(format!("{}: {e}", job.cohort.cohort)))?;
            let mut samples = Vec::new();
            let mut labels = Vec::new();
            for (case_samples, &value) in per_case.into_iter().zip(&values) {
                let class = classes.iter().position(|&c| c == value).unwrap_or(0);
                labels.extend(std::iter::repeat_n(class, case_samples.len()));
                samples.extend(case_samples);
            }
            let spec = CnnSpec {
                arch: job.spec.network.clone(),
                classes: classes.len(),
                train: job.cohort.train_spec(),
                validation_fraction: 0.0,
                aggregate: job.spec.aggregate,
                pretrained: None,
            };
            let mut rng = crate::seed::rng_for(exp.seed, &["pretrain", &job.model]);
            let fitted = CnnClassifier::fit(&samples, &labels, &spec, &mut rng)
                .map_err(|e| fail(e.to_string()))?;
            save_atomic(&path, |tmp| fitted.save(tmp)).map_err(fail)?;
        }
        let bytes = std::fs::read(&path)
            .map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
        let checkpoint_sha256 = sha256_hex(&bytes);
        let load = fine_tuning_load(&job, exp.classes.len(), &path).map_err(fail)?;

        let tuned = job.spec.with_pretrained_checkpoint(path.clone());
        prepared.models[job.model_index] = model_from_spec(&job.model, tuned);
        let i = job.model_index;
        prepared.caches[i] = prepared.caches[i].keyed_on(&checkpoint_sha256);
        for run in &mut prepared.sweep {
            run.caches[i] = run.caches[i].keyed_on(&checkpoint_sha256);
        }
        prepared.provenance.pretrained.push(PretrainedNetwork {
            model: job.model.clone(),
            cohort: job.cohort.cohort.clone(),
            manifest_sha256: job.manifest_sha256.clone(),
            cohort_fingerprint: cohort.fingerprint().to_string(),
            label: job.cohort.label.clone(),
            classes,
            cases: values.len(),
            epochs: job.cohort.train_spec().epochs,
            seed_path: vec!["pretrain".into(), job.model.clone()],
            checkpoint_sha256: checkpoint_sha256.clone(),
            load,
        });
        outcomes.push(PretrainOutcome {
            model: job.model.clone(),
            checkpoint: path,
            checkpoint_sha256,
            trained: !reusable,
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    Ok(outcomes)
}

/// Each case's label value (cohort order) and the distinct values in class order.
fn class_values(cohort: &Cohort, job: &PretrainJob) -> Result<(Vec<i64>, Vec<i64>), String> {
    let label = &job.cohort.label;
    let values: Vec<i64> = cohort
        .cases()
        .iter()
        .map(|c| {
            c.labels.get(label).copied().ok_or_else(|| {
                let known: Vec<&str> = c.labels.keys().map(String::as_str).collect();
                format!(
                    "case {} of {} has no label {label:?} (its labels: {})",
                    c.id,
                    job.cohort.cohort,
                    known.join(", ")
                )
            })
        })
        .collect::<Result<_, _>>()?;
    let classes: Vec<i64> = values
        .iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if classes.len() < 2 {
        return Err(format!(
            "label {label:?} has a single value across the {} cases of {}; pretraining needs two classes or more",
            values.len(),
            job.cohort.cohort
        ));
    }
    Ok((values, classes))
}

/// SHA-256 (hex) of everything that determines the checkpoint's bytes.
fn checkpoint_key(exp: &Experiment, job: &PretrainJob, cohort: &Cohort, classes: &[i64]) -> String {
    let determinants = serde_json::json!({
        "radbench": crate::VERSION,
        "seed": exp.seed,
        "stream": ["pretrain", &job.model],
        "manifest_sha256": &job.manifest_sha256,
        "cohort_fingerprint": cohort.fingerprint(),
        "label": &job.cohort.label,
        "classes": classes,
        "mask_label": exp.mask_label,
        "input": &job.spec.input,
        "channels": &job.spec.channels,
        "frames_as_channels": job.spec.frames_as_channels,
        "network": &job.spec.network,
        "aggregate": job.spec.aggregate,
        "train": job.cohort.train_spec(),
    });
    sha256_hex(determinants.to_string().as_bytes())
}

/// Writes a file through `write` into a temporary name beside `path`, then renames it.
fn save_atomic(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), crate::models::cnn::CnnError>,
) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let result = write(&tmp).map_err(|e| e.to_string()).and_then(|()| {
        std::fs::rename(&tmp, path)
            .map_err(|e| format!("cannot move the checkpoint to {}: {e}", path.display()))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Loads the checkpoint into a fresh fine-tuning network (the experiment's classes) to report
/// what loads, is skipped, missing or unexpected; every cell's load is the same.
fn fine_tuning_load(job: &PretrainJob, classes: usize, path: &Path) -> Result<LoadCounts, String> {
    let tensors = read_checkpoint(path).map_err(|e| e.to_string())?;
    let first_conv = job.spec.network.first_conv();
    let in_channels = tensors
        .get(first_conv)
        .and_then(|t| t.dims().get(1).copied())
        .ok_or_else(|| format!("{}: no {first_conv} tensor", path.display()))?;
    let (varmap, vb) = seeded_varmap(0);
    job.spec
        .network
        .build(in_channels, classes, job.spec.train.freeze, vb)
        .map_err(|e| e.to_string())?;
    let options = LoadOptions {
        strict: job.cohort.strict,
        skip: job.cohort.skip.clone(),
        first_conv: None,
    };
    let report = load_checkpoint(&varmap, path, &options).map_err(|e| e.to_string())?;
    Ok(LoadCounts {
        loaded: report.loaded.len(),
        skipped: report.skipped.len(),
        missing: report.missing.len(),
        unexpected: report.unexpected.len(),
    })
}
