//! Running one experiment end to end.

use super::RunnerError;
use super::cache::{CellCache, CellResult};
use super::evaluate::evaluate;
use super::features::extract_features;
use super::images::load_images;
use super::plan::Cell;
use super::prepare::{Prepared, prepare};
use super::progress::progress_bar;
use super::shard::Shard;
use crate::Error;
use crate::data::split::Folds;
use crate::eval::roc;
use crate::eval::threshold::youden_threshold;
use crate::features::FeatureTable;
use crate::models::{self, CaseImages, PredictData, TrainingData, ValidationData};
use crate::report::{self, Report};
use crate::spec::Experiment;
use ndarray::Axis;
use rayon::prelude::*;
use std::path::PathBuf;
use std::time::Instant;

/// Which cells a run computes and whether it writes the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Compute (or reuse) every cell and write the report.
    Full,
    /// Compute this shard's cells into the cache; write no report.
    Shard(Shard),
    /// Compute nothing: read every cell from the cache and write the report. Missing cells are
    /// an error unless `allow_partial`, which writes a report marked partial.
    Merge {
        /// Write a partial report when cells are missing.
        allow_partial: bool,
    },
}

/// What to run and where to write.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The experiment file.
    pub experiment: PathBuf,
    /// Root of the reports (default `reports/`); the report goes to `<out>/<name>/<version>/`.
    pub out: PathBuf,
    /// Cache of finished cells and synthetic cohorts (default `<out>/.cache`); shared by the
    /// shards of a cluster run.
    pub cache: Option<PathBuf>,
    /// Show a progress bar on stderr (only when it is a terminal).
    pub progress: bool,
    /// Which cells to run.
    pub mode: Mode,
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The report folder and report (none for a shard run).
    pub report: Option<(PathBuf, Report)>,
    /// Cells this run was responsible for.
    pub cells_planned: usize,
    /// Cells computed in this run.
    pub cells_computed: usize,
    /// Cells reused from the cache.
    pub cells_reused: usize,
    /// Cells missing from the cache (merge with `allow_partial` only).
    pub cells_missing: Vec<String>,
    /// The networks pretrained (or read from the cache) before the cells.
    pub pretraining: Vec<super::pretrain::PretrainOutcome>,
}

/// Runs an experiment and writes its report.
pub fn run(opts: &RunOptions) -> Result<RunOutcome, Error> {
    let started = Instant::now();
    let cache_root = opts
        .cache
        .clone()
        .unwrap_or_else(|| opts.out.join(".cache"));
    let mut prepared = prepare(&opts.experiment, &cache_root)?;
    let pretraining = super::pretrain::pretrain(&mut prepared, &cache_root, opts.progress)?;
    let Prepared {
        exp,
        cohort,
        labels,
        folds,
        models: built,
        cells,
        caches: _,
        fingerprint,
        version,
        provenance,
        sweep: _,
        pretraining: _,
    } = &prepared;
    let opened = started.elapsed();
    let table = extract_features(exp, cohort, &cache_root, opts.progress)?;
    let extracted = started.elapsed();
    let report_dir = opts.out.join(&exp.name).join(version);
    // A merge reads cells only; it never fits, so it needs no pixels.
    let merge = matches!(opts.mode, Mode::Merge { .. });
    // Segmenter cells are computed by full runs and by shard 0; a merge only reads them.
    let compute_segmenters = match opts.mode {
        Mode::Full => true,
        Mode::Shard(shard) => shard.index == 0,
        Mode::Merge { .. } => false,
    };
    let auto_mask = exp.models.iter().any(|m| !m.mask.is_reference());
    let study_images = (compute_segmenters && !exp.segmenters.is_empty())
        || (auto_mask && !merge)
        || exp.survival.as_ref().is_some_and(|s| {
            s.group_by == crate::spec::survival::SurvivalGrouping::ReferenceVolume
        });
    let images = if (built.iter().any(|m| m.needs_images()) && !merge) || study_images {
        load_images(cohort, exp.mask_label, opts.progress)?
    } else {
        Vec::new()
    };
    // Which cells this run is responsible for.
    let mine: Vec<bool> = match opts.mode {
        Mode::Shard(shard) => prepared
            .shard_assignment(shard.count)
            .into_iter()
            .map(|s| s == shard.index)
            .collect(),
        _ => vec![true; cells.len()],
    };
    // Models on predicted masks read the segmenters' test masks, so the segmenters come first;
    // a shard holding such cells computes (or reuses) every segmenter cell itself (the same
    // bytes as shard 0's, written atomically).
    let needs_masks = auto_mask
        && cells
            .iter()
            .zip(&mine)
            .any(|(c, &m)| m && !exp.models[c.model_index].mask.is_reference());
    let compute_segmenters = compute_segmenters || (needs_masks && !merge);
    let segmenter_runs = if exp.segmenters.is_empty() || !(compute_segmenters || merge) {
        Vec::new()
    } else {
        super::segmentation::run_segmenters(
            exp,
            folds,
            &table.case_ids,
            &images,
            &cache_root,
            fingerprint,
            compute_segmenters,
        )?
    };
    // Feature-table rows are the cohort's cases in order (as the evaluation also reads them).
    let patients: Vec<&str> = cohort.cases().iter().map(|c| c.patient.as_str()).collect();
    let inputs = Inputs {
        table: &table,
        labels,
        patients: &patients,
        n_classes: exp.classes.len(),
        images: &images,
        segmenters: &segmenter_runs,
    };
    let compute = !matches!(opts.mode, Mode::Merge { .. });
    let bar = progress_bar(
        opts.progress,
        mine.iter().filter(|&&m| m).count() as u64,
        "cells",
    );
    let latencies = super::latency::LatencyLog::default();
    let results: Vec<Option<(CellResult, bool)>> = cells
        .par_iter()
        .zip(&mine)
        .map(|(cell, &mine)| {
            if !mine {
                return Ok(None);
            }
            let cache = prepared.cache_of(cell);
            let folds = prepared.folds_of(cell);
            let r = if compute {
                run_cell(cell, exp, built, folds, &inputs, cache, &latencies).map(Some)
            } else {
                Ok(cached_cell(cell, folds, &table, cache).map(|r| (r, true)))
            };
            bar.inc(1);
            r
        })
        .collect::<Result<_, Error>>()?;
    bar.finish_and_clear();
    let cells_planned = mine.iter().filter(|&&m| m).count();
    let cells_reused = results
        .iter()
        .flatten()
        .filter(|(_, reused)| *reused)
        .count();
    let cells_computed = results.iter().flatten().count() - cells_reused;
    let fitted = started.elapsed();
    if let Mode::Shard(_) = opts.mode {
        return Ok(RunOutcome {
            report: None,
            cells_planned,
            cells_computed,
            cells_reused,
            cells_missing: Vec::new(),
            pretraining,
        });
    }
    let missing: Vec<String> = cells
        .iter()
        .zip(&results)
        .filter(|(_, r)| r.is_none())
        .map(|(c, _)| c.key())
        .collect();
    if !missing.is_empty()
        && opts.mode
            != (Mode::Merge {
                allow_partial: true,
            })
    {
        let shown: Vec<&str> = missing.iter().take(8).map(String::as_str).collect();
        return Err(RunnerError::MissingCells {
            count: missing.len(),
            total: cells.len(),
            examples: shown.join(", "),
        }
        .into());
    }

    let partial = (!missing.is_empty()).then(|| missing.clone());
    // The main tables are the single-seed result of `seed`; sweep cells feed the sweep table.
    let main = prepared.main_cell_count();
    let (mut report, rows) = evaluate(
        exp,
        cohort,
        &table,
        labels,
        folds,
        &cells[..main],
        &results[..main],
        version.clone(),
        fingerprint.clone(),
        partial,
        provenance.clone(),
    )?;
    report.seed_sweep = super::sweep::seed_sweep(&prepared, &results);
    super::studies::attach(
        &mut report,
        exp,
        cohort,
        folds,
        &segmenter_runs,
        &images,
        &rows,
    )?;
    report.auto_mask =
        super::auto_mask::summary(exp, &cells[..main], &results[..main], &table.case_ids);
    let figures = report::draw_figures(&report)?;
    let json = report::render_json(&report);
    let md = report::markdown::render_markdown(&report);
    let html = report::html::render_html(&report, &figures);
    let csv = report::render_predictions_csv(&rows, &exp.classes);
    let run_json = serde_json::json!({
        "radbench_version": crate::VERSION,
        "git_commit": crate::GIT_COMMIT,
        "host": host_name(),
        "threads": rayon::current_num_threads(),
        "cells_computed": cells_computed,
        "cells_reused": cells_reused,
        "seconds": {
            "open_cohort": opened.as_secs_f64(),
            "extract_features": (extracted - opened).as_secs_f64(),
            "fit_cells": (fitted - extracted).as_secs_f64(),
            "total": started.elapsed().as_secs_f64(),
        },
        "inference_latency": latency_json(exp, latencies),
    });
    let mut run_json = run_json;
    if !pretraining.is_empty() {
        // Pretraining ran between opening the cohort and extracting features: time it apart.
        let pretrain_seconds: f64 = pretraining.iter().map(|p| p.seconds).sum();
        run_json["seconds"]["pretrain"] = pretrain_seconds.into();
        run_json["seconds"]["open_cohort"] = (opened.as_secs_f64() - pretrain_seconds).into();
        run_json["pretraining"] = pretraining
            .iter()
            .map(|p| {
                serde_json::json!({
                    "model": p.model,
                    "checkpoint": p.checkpoint.display().to_string(),
                    "trained": p.trained,
                    "seconds": p.seconds,
                })
            })
            .collect();
    }
    let run_json = format!(
        "{}\n",
        serde_json::to_string_pretty(&run_json).unwrap_or_default()
    );
    report::write_report_files(
        &report_dir,
        &[
            ("report.json", json.as_bytes()),
            ("report.md", md.as_bytes()),
            ("report.html", html.as_bytes()),
            ("predictions.csv", csv.as_bytes()),
            ("run.json", run_json.as_bytes()),
        ],
    )?;
    for (name, svg) in &figures {
        report::write_atomic(&report_dir.join("figures").join(name), svg.as_bytes())?;
    }
    super::segmentation::copy_masks(&segmenter_runs, folds, &table.case_ids, &report_dir)?;
    Ok(RunOutcome {
        report: Some((report_dir, report)),
        cells_planned,
        cells_computed,
        cells_reused,
        cells_missing: missing,
        pretraining,
    })
}

/// Per-model latency for `run.json`; a model whose first cell came from the cache was not timed.
fn latency_json(exp: &Experiment, log: super::latency::LatencyLog) -> serde_json::Value {
    let measured = log.into_map();
    let mut out = serde_json::Map::new();
    for (m, entry) in exp.models.iter().enumerate() {
        let value = match measured.get(&m) {
            Some(l) => serde_json::to_value(l).unwrap_or_default(),
            None => serde_json::json!({
                "measured": false,
                "why": "its first cell (repeat 0, fold 0) was read from the cache, not fitted"
            }),
        };
        out.insert(entry.id.clone(), value);
    }
    serde_json::Value::Object(out)
}

fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

/// The case ids of a cell's test part, in cohort order.
fn test_ids(cell: &Cell, folds: &[Folds], table: &FeatureTable) -> Vec<String> {
    folds[cell.repeat]
        .test_indices(cell.fold)
        .iter()
        .map(|&i| table.case_ids[i].clone())
        .collect()
}

/// The cell's stored result, if its cache holds one for the cell's test cases.
fn cached_cell(
    cell: &Cell,
    folds: &[Folds],
    table: &FeatureTable,
    cache: &CellCache,
) -> Option<CellResult> {
    cache.load(&cell.key(), &test_ids(cell, folds, table))
}

/// What every cell reads: features, labels and (when a model needs them) images, rows in
/// cohort order.
struct Inputs<'a> {
    table: &'a FeatureTable,
    labels: &'a [usize],
    /// Each case's patient id.
    patients: &'a [&'a str],
    n_classes: usize,
    images: &'a [CaseImages],
    /// The segmenters' runs (test masks for models on predicted masks).
    segmenters: &'a [super::segmentation::SegmenterRun],
}

/// Fits one cell (or reads it from the cache); the flag says whether it was reused.
fn run_cell(
    cell: &Cell,
    exp: &Experiment,
    built: &[Box<dyn models::Model>],
    folds: &[Folds],
    inputs: &Inputs<'_>,
    cache: &CellCache,
    latencies: &super::latency::LatencyLog,
) -> Result<(CellResult, bool), Error> {
    let table = inputs.table;
    let test_ids = test_ids(cell, folds, table);
    if let Some(done) = cache.load(&cell.key(), &test_ids) {
        return Ok((done, true));
    }
    let model = &built[cell.model_index];
    let split = &folds[cell.repeat];
    let test = split.test_indices(cell.fold);
    let train = split.train_indices(cell.fold);
    let x_train = table.values.select(Axis(0), train);
    let y_train: Vec<usize> = train.iter().map(|&i| inputs.labels[i]).collect();
    let pick_images = |rows: &[usize]| -> Vec<&CaseImages> {
        if model.needs_images() {
            rows.iter().map(|&i| &inputs.images[i]).collect()
        } else {
            Vec::new()
        }
    };
    let train_images = pick_images(train);
    let train_patients: Vec<&str> = train.iter().map(|&i| inputs.patients[i]).collect();
    let data = TrainingData {
        features: x_train.view(),
        feature_names: &table.names,
        labels: &y_train,
        n_classes: inputs.n_classes,
        images: &train_images,
        patients: &train_patients,
    };
    let cell_error = |source| RunnerError::Cell {
        cell: cell.key(),
        source,
    };
    // A predefined split's validation cases choose the model (early stopping) and the
    // operating threshold; without them the threshold comes from the training fold itself.
    let val = split.val_indices(cell.fold);
    let x_val = table.values.select(Axis(0), val);
    let y_val: Vec<usize> = val.iter().map(|&i| inputs.labels[i]).collect();
    let val_images = pick_images(val);
    let validation = ValidationData {
        cases: PredictData {
            features: x_val.view(),
            feature_names: &table.names,
            images: &val_images,
        },
        labels: &y_val,
    };
    let mut rng = cell.rng(exp.seed);
    let fitted = if val.is_empty() {
        model.fit(&data, &mut rng)
    } else {
        model.fit_with_validation(&data, &validation, &mut rng)
    }
    .map_err(cell_error)?;
    let threshold = if inputs.n_classes == 2 {
        let (chooser, chooser_labels) = if val.is_empty() {
            (data.as_predict(), y_train.as_slice())
        } else {
            (validation.cases, y_val.as_slice())
        };
        let own = fitted.predict_proba(&chooser).map_err(cell_error)?;
        let positive: Vec<bool> = chooser_labels.iter().map(|&c| c == 1).collect();
        youden_threshold(
            &own.column(1).to_vec(),
            &positive,
            roc::Direction::CasesHigher,
        )
        .ok()
    } else if let Some(op) = &exp.operating_point {
        // A binary reading of a multi-class label: the same Youden rule on the summed
        // probability of the positive classes, chosen on the training fold only.
        let own = fitted
            .predict_proba(&data.as_predict())
            .map_err(cell_error)?;
        let scores: Vec<f64> = own
            .rows()
            .into_iter()
            .map(|r| op.positive.iter().map(|&c| r[c]).sum())
            .collect();
        let positive: Vec<bool> = y_train.iter().map(|c| op.positive.contains(c)).collect();
        youden_threshold(&scores, &positive, roc::Direction::CasesHigher).ok()
    } else {
        None
    };
    let x_test = table.values.select(Axis(0), test);
    let test_images = pick_images(test);
    let test_data = PredictData {
        features: x_test.view(),
        feature_names: &table.names,
        images: &test_images,
    };
    let (probabilities, mask_fallback) = match exp.models[cell.model_index].mask.segmenter() {
        None => (
            fitted.predict_proba(&test_data).map_err(cell_error)?,
            Vec::new(),
        ),
        Some(segmenter) => super::auto_mask::predict_test(
            exp,
            segmenter,
            inputs.segmenters,
            cell,
            test,
            inputs.images,
            &table.names,
            fitted.as_ref(),
            &y_train,
            inputs.n_classes,
        )?,
    };
    let patches = fitted
        .predict_patches(&test_data)
        .map_err(cell_error)?
        .unwrap_or_default();
    if cell.repeat == 0
        && cell.fold == 0
        && cell.sweep_seed.is_none()
        && let Some(l) = super::latency::measure(fitted.as_ref(), table, test, &test_images)
    {
        latencies.record(cell.model_index, l);
    }
    let result = CellResult {
        case_ids: test_ids,
        probabilities: probabilities
            .rows()
            .into_iter()
            .map(|r| r.to_vec())
            .collect(),
        threshold,
        summary: fitted.summary(),
        patches,
        mask_fallback,
    };
    cache.store(&cell.key(), &result)?;
    Ok((result, false))
}
