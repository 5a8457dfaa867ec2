//! Pooled out-of-fold statistics of a finished plan: the content of the report.

use super::RunnerError;
use super::cache::CellResult;
use super::plan::Cell;
use crate::Error;
use crate::data::cohort::Cohort;
use crate::data::split::Folds;
use crate::eval::{dca, delong, roc};
use crate::features::FeatureTable;
use crate::report::{
    CohortSummary, ComparisonResult, DcaSummary, FeatureSummary, ModelNetBenefit, ModelResult,
    PredictionRow, Report, RocPoints, SiteCounts,
};
use crate::spec::Experiment;
use std::collections::{BTreeMap, BTreeSet};

/// Pools out-of-fold predictions and computes every statistic of the report.
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    exp: &Experiment,
    cohort: &Cohort,
    table: &FeatureTable,
    labels: &[bool],
    folds: &[Folds],
    cells: &[Cell],
    results: &[Option<(CellResult, bool)>],
    version: String,
    fingerprint: String,
    partial: Option<Vec<String>>,
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
    for (cell, (result, _)) in cells
        .iter()
        .zip(results)
        .filter_map(|(c, r)| r.as_ref().map(|r| (c, r)))
    {
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

    // Cases with a prediction from every model in repeat r (all of them unless a merge was
    // partial); statistics are computed on these only.
    let complete = |r: usize| -> Vec<usize> {
        (0..n)
            .filter(|&i| oof.iter().all(|model| model[r][i].is_finite()))
            .collect()
    };
    let pick =
        |values: &[f64], keep: &[usize]| -> Vec<f64> { keep.iter().map(|&i| values[i]).collect() };
    let keep0 = complete(0);
    let y0: Vec<bool> = keep0.iter().map(|&i| labels[i]).collect();
    let s0: Vec<Vec<f64>> = oof.iter().map(|model| pick(&model[0], &keep0)).collect();

    let published = exp.published.as_ref();
    let mut model_results = Vec::new();
    for (m, entry) in exp.models.iter().enumerate() {
        let d = delong::delong_auc(&s0[m], &y0, exp.ci_level).map_err(eval_error(&entry.id))?;
        let fold_auc = (0..exp.split.folds)
            .map(|f| {
                let test = folds[0].test_indices(f);
                let test: Vec<usize> = test
                    .into_iter()
                    .filter(|&i| oof[m][0][i].is_finite())
                    .collect();
                let s = pick(&oof[m][0], &test);
                let y: Vec<bool> = test.iter().map(|&i| labels[i]).collect();
                roc::auc(&s, &y).ok()
            })
            .collect();
        let repeat_auc = (0..exp.split.repeats)
            .map(|r| {
                let keep = complete(r);
                let y: Vec<bool> = keep.iter().map(|&i| labels[i]).collect();
                roc::auc(&pick(&oof[m][r], &keep), &y).map_err(eval_error(&entry.id))
            })
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
            roc: roc_points(&s0[m], &y0).map_err(eval_error(&entry.id))?,
        });
    }

    let mut comparisons = Vec::new();
    for [a, b] in &exp.compare {
        let ia = exp.models.iter().position(|m| &m.id == a).unwrap_or(0);
        let ib = exp.models.iter().position(|m| &m.id == b).unwrap_or(0);
        let t = delong::delong_paired_test(&s0[ia], &s0[ib], &y0, exp.ci_level)
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
    let treat_all = dca::treat_all_curve(&y0, thresholds).map_err(eval_error("treat-all"))?;
    let dca_models = exp
        .models
        .iter()
        .enumerate()
        .map(|(m, entry)| {
            dca::net_benefit_curve(&s0[m], &y0, thresholds, 0.0)
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
            n_patients: cases
                .iter()
                .map(|c| c.patient.as_str())
                .collect::<BTreeSet<_>>()
                .len(),
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
        partial,
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
