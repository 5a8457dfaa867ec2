//! Everything a run, a shard or a plan needs before any feature or model is computed.

use super::RunnerError;
use super::cache::CellCache;
use super::plan::{Cell, plan_cells, plan_seed_cells};
use super::shard::assign_shards;
use crate::Error;
use crate::data::cohort::Cohort;
use crate::data::manifest::CaseEntry;
use crate::data::split::{
    Folds, by_site, predefined, stratified_group_holdout, stratified_group_kfold,
};
use crate::models;
use crate::report;
use crate::spec::{Experiment, SplitKind};
use std::path::Path;

/// A validated experiment with its verified cohort, labels, folds, models and cells.
pub struct Prepared {
    /// The experiment.
    pub exp: Experiment,
    /// The verified cohort.
    pub cohort: Cohort,
    /// Class index of each case (binary: 1 = positive), in cohort order.
    pub labels: Vec<usize>,
    /// The folds of each repeat.
    pub folds: Vec<Folds>,
    /// The models, in experiment order.
    pub models: Vec<Box<dyn models::Model>>,
    /// Every cell, in plan order.
    pub cells: Vec<Cell>,
    /// The cell cache of each model.
    pub caches: Vec<CellCache>,
    /// Cohort fingerprint.
    pub fingerprint: String,
    /// Report content version.
    pub version: String,
    /// Hashes of the inputs for the report's provenance block.
    pub provenance: report::provenance::Provenance,
    /// The other seeds of a seed sweep (those different from `exp.seed`), each with its own
    /// folds and cell caches; their cells follow the main cells in `cells`.
    pub sweep: Vec<SweepRun>,
    /// The models that pretrain on another cohort before the cells (see [`super::pretrain`]).
    pub pretraining: Vec<super::pretrain::PretrainJob>,
}

/// One seed of a seed sweep: the whole experiment again with another seed.
pub struct SweepRun {
    /// The seed.
    pub seed: u64,
    /// The folds of each repeat, drawn from this seed.
    pub folds: Vec<Folds>,
    /// The cell cache of each model for this seed.
    pub caches: Vec<CellCache>,
}

/// Loads and checks an experiment, opens its cohort (generating a synthetic one into
/// `cache_root/synth`), derives labels and folds, builds models and plans the cells.
pub fn prepare(experiment: &Path, cache_root: &Path) -> Result<Prepared, Error> {
    let exp = Experiment::load(experiment)?;
    let cohort = Cohort::open(&exp.manifest_path, &cache_root.join("synth"))?;

    let cases = cohort.cases();
    let labels: Vec<usize> = cases
        .iter()
        .map(|c| class_of(&exp, c))
        .collect::<Result<_, _>>()?;
    let mut counts = vec![0usize; exp.classes.len()];
    for &c in &labels {
        counts[c] += 1;
    }
    if let Some(empty) = counts.iter().position(|&n| n == 0) {
        return Err(RunnerError::Labels(format!(
            "no case of class {:?} for label {:?} among {} cases{}: discrimination needs every class",
            exp.classes[empty],
            exp.label,
            labels.len(),
            if exp.multiclass { "" } else { " (all have the same class)" }
        ))
        .into());
    }

    let fingerprint = cohort.fingerprint().to_string();
    // The pretraining manifests are inputs too (nothing is added when there are none).
    let pretraining = super::pretrain::plan_pretraining(&exp, experiment)?;
    let version = report::content_version(
        &(exp.canonical_json() + &super::pretrain::version_part(&pretraining)),
        &fingerprint,
    );

    let folds = make_folds(&exp, exp.seed, cases, &labels)?;

    let built: Vec<Box<dyn models::Model>> = exp
        .models
        .iter()
        .map(|m| {
            models::build(m).map_err(|e| RunnerError::ModelSettings {
                model: m.id.clone(),
                message: e.to_string(),
            })
        })
        .collect::<Result<_, _>>()?;
    let ids: Vec<String> = exp.models.iter().map(|m| m.id.clone()).collect();
    let fold_counts: Vec<usize> = folds.iter().map(Folds::k).collect();
    let mut cells = plan_cells(&ids, &fold_counts);
    let caches = model_caches(&exp, exp.seed, cache_root, &fingerprint);
    let mut sweep = Vec::new();
    for &seed in exp.seeds.iter().filter(|&&s| s != exp.seed) {
        let folds = make_folds(&exp, seed, cases, &labels)?;
        let counts: Vec<usize> = folds.iter().map(Folds::k).collect();
        cells.extend(plan_seed_cells(&ids, &counts, Some(seed)));
        sweep.push(SweepRun {
            seed,
            folds,
            caches: model_caches(&exp, seed, cache_root, &fingerprint),
        });
    }

    let provenance = provenance(experiment, &exp, &cohort, &folds)?;
    Ok(Prepared {
        exp,
        cohort,
        labels,
        folds,
        models: built,
        cells,
        caches,
        fingerprint,
        version,
        provenance,
        sweep,
        pretraining,
    })
}

/// One cache per model slice: what a model's cells depend on, and nothing else, so adding a
/// model to an experiment reuses the cells of the models already run.
fn model_caches(
    exp: &Experiment,
    seed: u64,
    cache_root: &Path,
    fingerprint: &str,
) -> Vec<CellCache> {
    exp.models
        .iter()
        .map(|m| {
            let mut slice = serde_json::json!({
                "seed": seed,
                "label": [&exp.label, exp.positive],
                "features": [&exp.feature_classes, exp.bin_width, exp.mask_label],
                "split": &exp.split,
                "model": m,
            });
            // The cells' thresholds depend on the binary reading; absent, the slice is as before.
            if let Some(op) = &exp.operating_point {
                slice["operating_point"] = serde_json::json!(op.positive);
            }
            // Test features from predicted masks depend on the segmenter's settings too.
            if let Some(seg) = m.mask.segmenter() {
                slice["mask_segmenter"] =
                    serde_json::json!(exp.segmenters.iter().find(|s| s.id == seg));
            }
            CellCache::new(
                cache_root,
                &report::content_version(&slice.to_string(), fingerprint),
            )
        })
        .collect()
}

/// The provenance block: hashes of the experiment file, manifest, cohort and split.
fn provenance(
    experiment: &Path,
    exp: &Experiment,
    cohort: &Cohort,
    folds: &[Folds],
) -> Result<report::provenance::Provenance, Error> {
    use report::provenance::{ManifestHash, Provenance, RUN_DETAILS, sha256_hex};
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| crate::spec::SpecError::Io {
            path: path.to_path_buf(),
            source,
        })
    };
    let case_ids: Vec<String> = cohort.cases().iter().map(|c| c.id.clone()).collect();
    Ok(Provenance {
        radbench_version: crate::VERSION.to_string(),
        experiment_sha256: sha256_hex(&read(experiment)?),
        experiment_canonical_sha256: sha256_hex(exp.canonical_json().as_bytes()),
        manifests: vec![ManifestHash {
            path: exp.manifest.clone(),
            sha256: sha256_hex(&read(&exp.manifest_path)?),
        }],
        cohort_fingerprint: cohort.fingerprint().to_string(),
        split_assignment_sha256: report::provenance::split_assignment_hash(folds, &case_ids),
        feature_settings_mode: if exp.feature_settings().ibsi {
            "IBSI".into()
        } else {
            "pyradiomics".into()
        },
        seed_derivation: seed_derivation(exp.seed),
        run_details: RUN_DETAILS.into(),
        pretrained: Vec::new(),
    })
}

/// How every random stream of a run is derived from `seed`.
pub fn seed_derivation(seed: u64) -> String {
    format!(
        "Every random stream is ChaCha8 keyed by SHA-256(\"radbench-seed-v1\", seed {seed}, path): \
         split repeat r uses path [\"split\", r]; a cell uses [\"model\", id, \"repeat\", r, \
         \"fold\", f]; the ROC band of a model uses [\"roc-band\", id]. A seed-sweep run \
         derives the same paths from its own seed."
    )
}

/// The split of each repeat, each drawn from its own stream `["split", repeat]`.
fn make_folds(
    exp: &Experiment,
    seed: u64,
    cases: &[CaseEntry],
    labels: &[usize],
) -> Result<Vec<Folds>, Error> {
    let patients: Vec<&str> = cases.iter().map(|c| c.patient.as_str()).collect();
    let split = &exp.split;
    if split.kind == SplitKind::Predefined {
        let ids: Vec<&str> = cases.iter().map(|c| c.id.as_str()).collect();
        let marks: Vec<Option<&str>> = cases.iter().map(|c| c.split.as_deref()).collect();
        return Ok(vec![predefined(&ids, &patients, &marks)?]);
    }
    if split.kind == SplitKind::BySite {
        let sites: Vec<&str> = cases.iter().map(|c| c.site.as_str()).collect();
        let test_sites: Vec<String> = if split.test_sites.is_empty() {
            sites
                .iter()
                .filter(|s| !split.train_sites.iter().any(|t| t == *s))
                .map(|s| s.to_string())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect()
        } else {
            split.test_sites.clone()
        };
        return Ok(vec![by_site(
            &sites,
            &patients,
            &split.train_sites,
            &test_sites,
        )?]);
    }
    (0..split.repeats)
        .map(|r| {
            let mut rng = crate::seed::rng_for(seed, &["split", &r.to_string()]);
            let folds = match split.kind {
                SplitKind::RepeatedHoldout => {
                    stratified_group_holdout(&patients, labels, split.test_fraction, &mut rng)
                }
                _ => stratified_group_kfold(&patients, labels, split.folds, &mut rng),
            };
            folds.map_err(Error::from)
        })
        .collect()
}

/// The class index of a case: binary, 1 when the label equals `positive`; multi-class, the
/// label value itself, which must index `classes`.
fn class_of(exp: &Experiment, case: &CaseEntry) -> Result<usize, RunnerError> {
    let value = case
        .labels
        .get(&exp.label)
        .copied()
        .ok_or_else(|| RunnerError::MissingLabel {
            case: case.id.clone(),
            label: exp.label.clone(),
        })?;
    if !exp.multiclass {
        return Ok(usize::from(value == exp.positive));
    }
    usize::try_from(value)
        .ok()
        .filter(|&v| v < exp.classes.len())
        .ok_or_else(|| {
            RunnerError::Labels(format!(
                "case {}: label {} = {value} is not a class index 0..{} of `[data] classes`",
                case.id,
                exp.label,
                exp.classes.len() - 1
            ))
        })
}

impl Prepared {
    /// The folds a cell was planned on (its sweep seed's, or the main ones).
    pub fn folds_of(&self, cell: &Cell) -> &[Folds] {
        self.sweep_run(cell).map_or(&self.folds, |s| &s.folds)
    }

    /// The cache a cell is stored in.
    pub fn cache_of(&self, cell: &Cell) -> &CellCache {
        let caches = self.sweep_run(cell).map_or(&self.caches, |s| &s.caches);
        &caches[cell.model_index]
    }

    fn sweep_run(&self, cell: &Cell) -> Option<&SweepRun> {
        let seed = cell.sweep_seed?;
        self.sweep.iter().find(|s| s.seed == seed)
    }

    /// Number of cells of the main seed (they come first in `cells`).
    pub fn main_cell_count(&self) -> usize {
        self.cells.iter().filter(|c| c.sweep_seed.is_none()).count()
    }

    /// The shard of each cell when the cells are split `count` ways, balanced by the estimated
    /// cost of each cell (the model's relative cost × its training-set size).
    pub fn shard_assignment(&self, count: usize) -> Vec<usize> {
        let costs: Vec<f64> = self
            .cells
            .iter()
            .map(|c| {
                let n_train = self.folds_of(c)[c.repeat].train_indices(c.fold).len() as f64;
                self.models[c.model_index].relative_cost() * n_train
            })
            .collect();
        assign_shards(&self.cells, &costs, count)
    }
}
