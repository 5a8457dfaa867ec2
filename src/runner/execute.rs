//! Running one experiment end to end.

use super::RunnerError;
use super::cache::{CellCache, CellResult};
use super::plan::{Cell, plan_cells};
use crate::Error;
use crate::data::cohort::Cohort;
use crate::data::split::{Folds, stratified_group_kfold};
use crate::eval::{dca, delong, roc};
use crate::features::{self, FeatureFamily, FeatureTable};
use crate::models::{self, TrainingData};
use crate::report::{
    self, CohortSummary, ComparisonResult, DcaSummary, FeatureSummary, ModelNetBenefit,
    ModelResult, PredictionRow, Report, RocPoints, SiteCounts,
};
use crate::spec::Experiment;
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::{Array2, Axis};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

/// What to run and where to write.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The experiment file.
    pub experiment: PathBuf,
    /// Root of the reports (default `reports/`); the report goes to `<out>/<name>/<version>/`.
    pub out: PathBuf,
    /// Show a progress bar on stderr (only when it is a terminal).
    pub progress: bool,
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The report folder.
    pub report_dir: PathBuf,
    /// The report.
    pub report: Report,
    /// Cells computed in this run.
    pub cells_computed: usize,
    /// Cells reused from the cache.
    pub cells_reused: usize,
}

/// Runs an experiment and writes its report.
pub fn run(opts: &RunOptions) -> Result<RunOutcome, Error> {
    let started = Instant::now();
    let exp = Experiment::load(&opts.experiment)?;
    let cache_root = opts.out.join(".cache");
    let cohort = Cohort::open(&exp.manifest_path, &cache_root.join("synth"))?;
    let opened = started.elapsed();

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

    let table = extract_features(&exp, &cohort, opts.progress)?;
    let extracted = started.elapsed();

    let fingerprint = cohort.fingerprint();
    let version = report::content_version(&exp.canonical_json(), &fingerprint);
    let report_dir = opts.out.join(&exp.name).join(&version);

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
            CellCache::new(&cache_root, &report::content_version(&slice.to_string(), &fingerprint))
        })
        .collect();

    let bar = progress_bar(opts.progress, cells.len() as u64, "cells");
    let results: Vec<(CellResult, bool)> = cells
        .par_iter()
        .map(|cell| {
            let cache = &caches[cell.model_index];
            let r = run_cell(cell, &exp, &built, &folds, &table, &labels, cache);
            bar.inc(1);
            r
        })
        .collect::<Result<_, _>>()?;
    bar.finish_and_clear();
    let cells_reused = results.iter().filter(|(_, reused)| *reused).count();
    let fitted = started.elapsed();

    let (report, rows) = evaluate(&exp, &cohort, &table, &labels, &folds, &cells, &results, version, fingerprint)?;
    let figures = report::draw_figures(&report)?;
    let json = report::render_json(&report);
    let md = report::markdown::render_markdown(&report);
    let html = report::html::render_html(&report, &figures);
    let csv = report::render_predictions_csv(&rows);
    let run_json = serde_json::json!({
        "host": host_name(),
        "threads": rayon::current_num_threads(),
        "cells_computed": cells.len() - cells_reused,
        "cells_reused": cells_reused,
        "seconds": {
            "open_cohort": opened.as_secs_f64(),
            "extract_features": (extracted - opened).as_secs_f64(),
            "fit_cells": (fitted - extracted).as_secs_f64(),
            "total": started.elapsed().as_secs_f64(),
        },
    });
    let run_json = format!("{}\n", serde_json::to_string_pretty(&run_json).unwrap_or_default());
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
    Ok(RunOutcome {
        report_dir,
        report,
        cells_computed: cells.len() - cells_reused,
        cells_reused,
    })
}

fn progress_bar(enabled: bool, len: u64, what: &str) -> ProgressBar {
    if !(enabled && std::io::stderr().is_terminal()) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{msg:>9} [{bar:30}] {pos}/{len} {elapsed}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}

fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

/// Extracts the experiment's feature classes for every case, in cohort order.
fn extract_features(exp: &Experiment, cohort: &Cohort, progress: bool) -> Result<FeatureTable, Error> {
    let families: Vec<&dyn FeatureFamily> = exp
        .feature_classes
        .iter()
        .map(|c| features::family_by_name(c))
        .collect::<Result<_, _>>()
        .map_err(|source| RunnerError::Features {
            case: "(settings)".into(),
            source,
        })?;
    let settings = exp.feature_settings();
    let cases = cohort.cases();
    let bar = progress_bar(progress, cases.len() as u64, "features");
    let rows: Vec<Vec<(String, f64)>> = cases
        .par_iter()
        .map(|case| {
            let (image, mask) = cohort
                .load_case(case, settings.label)
                .map_err(|source| RunnerError::Case {
                    case: case.id.clone(),
                    source,
                })?;
            let row = features::extract(&image, &mask, &settings, &families).map_err(|source| {
                RunnerError::Features {
                    case: case.id.clone(),
                    source,
                }
            })?;
            bar.inc(1);
            Ok::<_, Error>(row)
        })
        .collect::<Result<_, _>>()?;
    bar.finish_and_clear();
    let names: Vec<String> = rows
        .first()
        .map(|r| r.iter().map(|(n, _)| n.clone()).collect())
        .unwrap_or_default();
    let mut values = Array2::zeros((rows.len(), names.len()));
    for (i, row) in rows.iter().enumerate() {
        for (j, (_, v)) in row.iter().enumerate() {
            values[[i, j]] = *v;
        }
    }
    Ok(FeatureTable {
        case_ids: cases.iter().map(|c| c.id.clone()).collect(),
        names,
        values,
    })
}

/// Fits one cell (or reads it from the cache); the flag says whether it was reused.
fn run_cell(
    cell: &Cell,
    exp: &Experiment,
    built: &[Box<dyn models::Model>],
    folds: &[Folds],
    table: &FeatureTable,
    labels: &[bool],
    cache: &CellCache,
) -> Result<(CellResult, bool), Error> {
    let split = &folds[cell.repeat];
    let test = split.test_indices(cell.fold);
    let test_ids: Vec<String> = test.iter().map(|&i| table.case_ids[i].clone()).collect();
    if let Some(done) = cache.load(&cell.key(), &test_ids) {
        return Ok((done, true));
    }
    let train = split.train_indices(cell.fold);
    let x_train = table.values.select(Axis(0), &train);
    let y_train: Vec<bool> = train.iter().map(|&i| labels[i]).collect();
    let data = TrainingData {
        features: x_train.view(),
        feature_names: &table.names,
        labels: &y_train,
    };
    let cell_error = |source| RunnerError::Cell {
        cell: cell.key(),
        source,
    };
    let mut rng = cell.rng(exp.seed);
    let fitted = built[cell.model_index].fit(&data, &mut rng).map_err(cell_error)?;
    let x_test = table.values.select(Axis(0), &test);
    let probabilities = fitted.predict_proba(x_test.view()).map_err(cell_error)?;
    let result = CellResult {
        case_ids: test_ids,
        probabilities,
    };
    cache.store(&cell.key(), &result)?;
    Ok((result, false))
}

/// Pools out-of-fold predictions and computes every statistic of the report.
#[allow(clippy::too_many_arguments)]
fn evaluate(
    exp: &Experiment,
    cohort: &Cohort,
    table: &FeatureTable,
    labels: &[bool],
    folds: &[Folds],
    cells: &[Cell],
    results: &[(CellResult, bool)],
    version: String,
    fingerprint: String,
) -> Result<(Report, Vec<PredictionRow>), Error> {
    let cases = cohort.cases();
    let n = cases.len();
    let index_of: BTreeMap<&str, usize> = table
        .case_ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    // oof[model][repeat][case]
    let mut oof = vec![vec![vec![f64::NAN; n]; exp.split.repeats]; exp.models.len()];
    let mut rows = Vec::with_capacity(n * cells.len() / exp.split.folds.max(1));
    for (cell, (result, _)) in cells.iter().zip(results) {
        for (id, &p) in result.case_ids.iter().zip(&result.probabilities) {
            let i = index_of[id.as_str()];
            oof[cell.model_index][cell.repeat][i] = p;
            rows.push(PredictionRow {
                case_id: id.clone(),
                patient: cases[i].patient.clone(),
                site: cases[i].site.clone(),
                model: cell.model.clone(),
                repeat: cell.repeat,
                fold: cell.fold,
                probability: p,
                label: labels[i] as u8,
            });
        }
    }
    let eval_error = |model: &str| {
        let model = model.to_string();
        move |source| RunnerError::Eval { model, source }
    };

    let published = exp.published.as_ref();
    let mut model_results = Vec::new();
    for (m, entry) in exp.models.iter().enumerate() {
        let d = delong::delong_auc(&oof[m][0], labels, exp.ci_level).map_err(eval_error(&entry.id))?;
        let fold_auc = (0..exp.split.folds)
            .map(|f| {
                let test = folds[0].test_indices(f);
                let s: Vec<f64> = test.iter().map(|&i| oof[m][0][i]).collect();
                let y: Vec<bool> = test.iter().map(|&i| labels[i]).collect();
                roc::auc(&s, &y).ok()
            })
            .collect();
        let repeat_auc = (0..exp.split.repeats)
            .map(|r| roc::auc(&oof[m][r], labels).map_err(eval_error(&entry.id)))
            .collect::<Result<_, _>>()?;
        model_results.push(ModelResult {
            id: entry.id.clone(),
            kind: entry.kind.clone(),
            auc: d.auc,
            delong_variance: d.variance,
            auc_ci_delong: d.ci,
            ci_level: exp.ci_level,
            n_cases: d.n_cases + d.n_controls,
            n_positive: d.n_cases,
            fold_auc,
            repeat_auc,
            published_auc: published.and_then(|p| p.auc.get(&entry.id).copied()),
            roc: roc_points(&oof[m][0], labels).map_err(eval_error(&entry.id))?,
        });
    }

    let mut comparisons = Vec::new();
    for [a, b] in &exp.compare {
        let ia = exp.models.iter().position(|m| &m.id == a).unwrap_or(0);
        let ib = exp.models.iter().position(|m| &m.id == b).unwrap_or(0);
        let t = delong::delong_paired_test(&oof[ia][0], &oof[ib][0], labels, exp.ci_level)
            .map_err(eval_error(&format!("{a} vs {b}")))?;
        comparisons.push(ComparisonResult {
            a: a.clone(),
            b: b.clone(),
            method: "delong-paired".into(),
            auc_a: t.auc_a,
            auc_b: t.auc_b,
            auc_difference: t.difference,
            ci: t.ci,
            z: t.z,
            p: t.p,
        });
    }

    let thresholds = &exp.dca_thresholds;
    let treat_all = dca::treat_all_curve(labels, thresholds).map_err(eval_error("treat-all"))?;
    let dca_models = exp
        .models
        .iter()
        .enumerate()
        .map(|(m, entry)| {
            dca::net_benefit_curve(&oof[m][0], labels, thresholds, 0.0)
                .map(|c| ModelNetBenefit {
                    id: entry.id.clone(),
                    net_benefit: c.net_benefit,
                })
                .map_err(eval_error(&entry.id))
        })
        .collect::<Result<_, _>>()?;

    let mut sites: BTreeMap<String, SiteCounts> = BTreeMap::new();
    for (case, &y) in cases.iter().zip(labels) {
        let s = sites.entry(case.site.clone()).or_default();
        s.n_cases += 1;
        s.n_positive += y as usize;
    }
    let n_positive = labels.iter().filter(|&&y| y).count();
    let report = Report {
        radbench_version: crate::VERSION.to_string(),
        version,
        experiment: serde_json::from_str(&exp.canonical_json()).unwrap_or_default(),
        cohort: CohortSummary {
            manifest: exp.manifest.clone(),
            fingerprint,
            label: format!("{} = {}", exp.label, exp.positive),
            n_cases: n,
            n_patients: cases.iter().map(|c| c.patient.as_str()).collect::<BTreeSet<_>>().len(),
            n_positive,
            n_negative: n - n_positive,
            sites,
        },
        features: FeatureSummary {
            classes: exp.feature_classes.clone(),
            bin_width: exp.bin_width,
            names: table.names.clone(),
        },
        models: model_results,
        comparisons,
        dca: DcaSummary {
            thresholds: thresholds.clone(),
            treat_all: treat_all.net_benefit,
            models: dca_models,
        },
        figures: vec!["roc.svg".into(), "dca.svg".into()],
        seed_derivation: format!(
            "Every random stream is ChaCha8 keyed by SHA-256(\"radbench-seed-v1\", seed {}, path): \
             split repeat r uses path [\"split\", r]; a cell uses [\"model\", id, \"repeat\", r, \
             \"fold\", f].",
            exp.seed
        ),
    };
    Ok((report, rows))
}

/// ROC points from (0, 0) to (1, 1) for scores where higher means positive.
fn roc_points(scores: &[f64], labels: &[bool]) -> Result<RocPoints, crate::eval::EvalError> {
    let curve = roc::roc_curve(scores, labels, roc::Direction::CasesHigher)?;
    // pROC orders points by ascending threshold (from (1, 1) down to (0, 0)); reverse them.
    Ok(RocPoints {
        false_positive_rate: curve.specificities.iter().rev().map(|s| 1.0 - s).collect(),
        true_positive_rate: curve.sensitivities.iter().rev().copied().collect(),
    })
}
