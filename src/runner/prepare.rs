//! Everything a run, a shard or a plan needs before any feature or model is computed.

use super::RunnerError;
use super::cache::CellCache;
use super::plan::{Cell, plan_cells};
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
    let version = report::content_version(&exp.canonical_json(), &fingerprint);

    let folds = make_folds(&exp, cases, &labels)?;

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
    let cells = plan_cells(&ids, &fold_counts);
    // One cache per model slice: what a model's cells depend on, and nothing else, so adding a
    // model to an experiment reuses the cells of the models already run.
    let caches: Vec<CellCache> = exp
        .models
        .iter()
        .map(|m| {
            let slice = serde_json::json!({
                "seed": exp.seed,
                "label": [&exp.label, exp.positive],
                "features": [&exp.feature_classes, exp.bin_width, exp.mask_label],
                "split": &exp.split,
                "model": m,
            });
            CellCache::new(
                cache_root,
                &report::content_version(&slice.to_string(), &fingerprint),
            )
        })
        .collect();

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
    })
}

/// The split of each repeat, each drawn from its own stream `["split", repeat]`.
fn make_folds(
    exp: &Experiment,
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
            let mut rng = crate::seed::rng_for(exp.seed, &["split", &r.to_string()]);
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
    /// The shard of each cell when the cells are split `count` ways, balanced by the estimated
    /// cost of each cell (the model's relative cost × its training-set size).
    pub fn shard_assignment(&self, count: usize) -> Vec<usize> {
        let costs: Vec<f64> = self
            .cells
            .iter()
            .map(|c| {
                let n_train = self.folds[c.repeat].train_indices(c.fold).len() as f64;
                self.models[c.model_index].relative_cost() * n_train
            })
            .collect();
        assign_shards(&self.cells, &costs, count)
    }
}
