//! Everything a run, a shard or a plan needs before any feature or model is computed.

use super::RunnerError;
use super::cache::CellCache;
use super::plan::{Cell, plan_cells};
use super::shard::assign_shards;
use crate::Error;
use crate::data::cohort::Cohort;
use crate::data::split::{Folds, stratified_group_kfold};
use crate::models;
use crate::report;
use crate::spec::Experiment;
use std::path::Path;

/// A validated experiment with its verified cohort, labels, folds, models and cells.
pub struct Prepared {
    /// The experiment.
    pub exp: Experiment,
    /// The verified cohort.
    pub cohort: Cohort,
    /// Binary label of each case (true = positive), in cohort order.
    pub labels: Vec<bool>,
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
    let labels: Vec<bool> = cases
        .iter()
        .map(|c| {
            c.labels
                .get(&exp.label)
                .map(|&v| v == exp.positive)
                .ok_or_else(|| RunnerError::MissingLabel {
                    case: c.id.clone(),
                    label: exp.label.clone(),
                })
        })
        .collect::<Result<_, _>>()?;
    let n_positive = labels.iter().filter(|&&y| y).count();
    if n_positive == 0 || n_positive == labels.len() {
        return Err(RunnerError::Labels(format!(
            "all {} cases have the same class for label {:?} (positive = {}): \
             discrimination needs both classes",
            labels.len(),
            exp.label,
            exp.positive
        ))
        .into());
    }

    let fingerprint = cohort.fingerprint().to_string();
    let version = report::content_version(&exp.canonical_json(), &fingerprint);

    // Folds per repeat, each from its own stream.
    let patients: Vec<&str> = cases.iter().map(|c| c.patient.as_str()).collect();
    let folds: Vec<Folds> = (0..exp.split.repeats)
        .map(|r| {
            let mut rng = crate::seed::rng_for(exp.seed, &["split", &r.to_string()]);
            stratified_group_kfold(&patients, &labels, exp.split.folds, &mut rng)
        })
        .collect::<Result<_, _>>()?;

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
    let cells = plan_cells(&ids, exp.split.repeats, exp.split.folds);
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
