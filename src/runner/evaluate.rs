//! Pooled out-of-fold statistics of a finished plan: the content of the report.
//!
//! Binary analyses: AUC with DeLong CI, ROC points, the operating point at each training fold's
//! Youden threshold (sensitivity, specificity, PPV, NPV with Wilson CIs), average precision,
//! Brier score and calibration, decision curves, paired DeLong comparisons. Multi-class
//! analyses: one-vs-rest AUCs with DeLong CIs, macro and prevalence-weighted AUC, Hand–Till M,
//! confusion matrix and accuracy.

use super::RunnerError;
use super::cache::CellResult;
use super::plan::Cell;
use crate::Error;
use crate::data::cohort::Cohort;
use crate::data::split::Folds;
use crate::eval::threshold::{ProportionInterval, average_precision, threshold_metrics};
use crate::eval::{EvalError, calibration, dca, delong, multiclass, roc};
use crate::features::FeatureTable;
use crate::report::{
    BinaryDetails, CohortSummary, ComparisonResult, DcaSummary, FeatureSummary, ModelNetBenefit,
    ModelResult, MulticlassDetails, PredictionRow, Report, RocPoints, SiteCounts,
};
use crate::spec::Experiment;
use std::collections::{BTreeMap, BTreeSet};

/// False-positive rates at which the ROC band is estimated (0, 0.02, ..., 1).
const ROC_BAND_POINTS: usize = 51;
/// Bootstrap replicates of the ROC band.
const ROC_BAND_REPLICATES: usize = 500;

/// Out-of-fold predictions: `probs[model][repeat][case]` (empty when missing) and the
/// threshold of the fold each prediction came from.
struct Pooled {
    probs: Vec<Vec<Vec<Vec<f64>>>>,
    thresholds: Vec<Vec<Vec<Option<f64>>>>,
    summaries: Vec<Vec<serde_json::Value>>,
}

impl Pooled {
    /// Cases with a prediction from every model in repeat `r` (all of them unless a merge was
    /// partial); statistics are computed on these only.
    fn complete(&self, r: usize, n: usize) -> Vec<usize> {
        (0..n)
            .filter(|&i| self.probs.iter().all(|model| !model[r][i].is_empty()))
            .collect()
    }

    /// Class-`c` probability of model `m`, repeat `r`, for the cases `keep`.
    fn column(&self, m: usize, r: usize, c: usize, keep: &[usize]) -> Vec<f64> {
        keep.iter().map(|&i| self.probs[m][r][i][c]).collect()
    }
}

fn pool(
    exp: &Experiment,
    cohort: &Cohort,
    table: &FeatureTable,
    labels: &[usize],
    folds: &[Folds],
    cells: &[Cell],
    results: &[Option<(CellResult, bool)>],
) -> (Pooled, Vec<PredictionRow>) {
    let cases = cohort.cases();
    let n = cases.len();
    let (models, repeats) = (exp.models.len(), folds.len());
    let index_of: BTreeMap<&str, usize> = table
        .case_ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let mut pooled = Pooled {
        probs: vec![vec![vec![Vec::new(); n]; repeats]; models],
        thresholds: vec![vec![vec![None; n]; repeats]; models],
        summaries: vec![vec![serde_json::Value::Null; folds[0].k()]; models],
    };
    let mut rows = Vec::new();
    for (cell, (result, _)) in cells
        .iter()
        .zip(results)
        .filter_map(|(c, r)| r.as_ref().map(|r| (c, r)))
    {
        if cell.repeat == 0 {
            pooled.summaries[cell.model_index][cell.fold] = result.summary.clone();
        }
        for (id, p) in result.case_ids.iter().zip(&result.probabilities) {
            let i = index_of[id.as_str()];
            pooled.probs[cell.model_index][cell.repeat][i] = p.clone();
            pooled.thresholds[cell.model_index][cell.repeat][i] = result.threshold;
            rows.push(PredictionRow {
                case_id: id.clone(),
                patient: cases[i].patient.clone(),
                site: cases[i].site.clone(),
                model: cell.model.clone(),
                repeat: cell.repeat,
                fold: cell.fold,
                probabilities: p.clone(),
                threshold: result.threshold,
                label: labels[i],
            });
        }
    }
    (pooled, rows)
}

/// Macro one-vs-rest AUC (ties ½) of probability rows, or `None` when a class is missing.
fn macro_auc(probs: &[&[f64]], classes: &[usize], k: usize) -> Option<f64> {
    let mut sum = 0.0;
    for c in 0..k {
        let scores: Vec<f64> = probs.iter().map(|p| p[c]).collect();
        let is_c: Vec<bool> = classes.iter().map(|&y| y == c).collect();
        sum += roc::auc(&scores, &is_c).ok()?;
    }
    Some(sum / k as f64)
}

/// Discrimination of one set of predictions: the binary AUC, or the macro one-vs-rest AUC.
pub(super) fn discrimination(probs: &[&[f64]], classes: &[usize], k: usize) -> Option<f64> {
    if k == 2 {
        let scores: Vec<f64> = probs.iter().map(|p| p[1]).collect();
        let positive: Vec<bool> = classes.iter().map(|&y| y == 1).collect();
        roc::auc(&scores, &positive).ok()
    } else {
        macro_auc(probs, classes, k)
    }
}

/// Pools out-of-fold predictions and computes every statistic of the report.
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    exp: &Experiment,
    cohort: &Cohort,
    table: &FeatureTable,
    labels: &[usize],
    folds: &[Folds],
    cells: &[Cell],
    results: &[Option<(CellResult, bool)>],
    version: String,
    fingerprint: String,
    partial: Option<Vec<String>>,
    provenance: crate::report::provenance::Provenance,
) -> Result<(Report, Vec<PredictionRow>), Error> {
    let cases = cohort.cases();
    let n = cases.len();
    let k = exp.classes.len();
    let binary = k == 2;
    let (pooled, rows) = pool(exp, cohort, table, labels, folds, cells, results);
    let eval_error = |model: &str| {
        let model = model.to_string();
        move |source: EvalError| RunnerError::Eval {
            model: model.clone(),
            source,
        }
    };
    let keep0 = pooled.complete(0, n);
    let y0: Vec<usize> = keep0.iter().map(|&i| labels[i]).collect();
    let positive0: Vec<bool> = y0.iter().map(|&c| c == 1).collect();
    let level = exp.ci_level;

    let published = exp.published.as_ref();
    let mut model_results = Vec::new();
    for (m, entry) in exp.models.iter().enumerate() {
        let err = eval_error(&entry.id);
        let fold_auc = (0..folds[0].k())
            .map(|f| {
                let test: Vec<usize> = folds[0]
                    .test_indices(f)
                    .iter()
                    .copied()
                    .filter(|&i| !pooled.probs[m][0][i].is_empty())
                    .collect();
                let p: Vec<&[f64]> = test
                    .iter()
                    .map(|&i| pooled.probs[m][0][i].as_slice())
                    .collect();
                let y: Vec<usize> = test.iter().map(|&i| labels[i]).collect();
                discrimination(&p, &y, k)
            })
            .collect();
        let repeat_auc = (0..folds.len())
            .map(|r| {
                let keep = pooled.complete(r, n);
                let p: Vec<&[f64]> = keep
                    .iter()
                    .map(|&i| pooled.probs[m][r][i].as_slice())
                    .collect();
                let y: Vec<usize> = keep.iter().map(|&i| labels[i]).collect();
                discrimination(&p, &y, k).unwrap_or(f64::NAN)
            })
            .collect();
        let mut result = ModelResult {
            id: entry.id.clone(),
            kind: entry.kind.clone(),
            auc: f64::NAN,
            auc_ci_delong: None,
            delong_variance: None,
            ci_level: level,
            n_cases: keep0.len(),
            fold_auc,
            repeat_auc,
            published_auc: published.and_then(|p| p.auc.get(&entry.id).copied()),
            binary: None,
            multiclass: None,
            cell_summaries: pooled.summaries[m].clone(),
            patch_level: super::patches::patch_level(m, cells, results, table, labels, k, level),
        };
        if binary {
            let scores = pooled.column(m, 0, 1, &keep0);
            let d = delong::delong_auc(&scores, &positive0, level).map_err(&err)?;
            result.auc = d.auc;
            result.auc_ci_delong = Some(d.ci);
            result.delong_variance = Some(d.variance);
            // Each case is called positive at its own fold's training threshold: s ≥ t ⇔
            // s − t ≥ 0 exactly in IEEE arithmetic, so one threshold of 0 applies them all.
            let shifted: Vec<f64> = keep0
                .iter()
                .zip(&scores)
                .map(|(&i, &s)| s - pooled.thresholds[m][0][i].unwrap_or(0.5))
                .collect();
            let mut operating_point = threshold_metrics(
                &shifted,
                &positive0,
                0.0,
                roc::Direction::CasesHigher,
                level,
                ProportionInterval::Wilson,
            )
            .map_err(&err)?;
            operating_point.threshold = f64::NAN;
            let fold_thresholds = (0..folds[0].k())
                .map(|f| {
                    folds[0]
                        .test_indices(f)
                        .first()
                        .and_then(|&i| pooled.thresholds[m][0][i])
                })
                .collect();
            result.binary = Some(BinaryDetails {
                roc: roc_points(&scores, &positive0).map_err(&err)?,
                operating_point,
                fold_thresholds,
                average_precision: average_precision(&scores, &positive0).map_err(&err)?,
                brier: calibration::brier_score(&scores, &positive0).map_err(&err)?,
                calibration: calibration::calibration_intercept_slope(&scores, &positive0).ok(),
                roc_band: crate::eval::roc_band::roc_sensitivity_band(
                    &scores,
                    &positive0,
                    ROC_BAND_POINTS,
                    ROC_BAND_REPLICATES,
                    level,
                    &mut crate::seed::rng_for(exp.seed, &["roc-band", &entry.id]),
                )
                .ok(),
                pr_curve: crate::eval::threshold::pr_curve(&scores, &positive0).ok(),
                reliability: calibration::reliability_bins(
                    &scores,
                    &positive0,
                    10,
                    calibration::Binning::EqualWidth,
                )
                .unwrap_or_default(),
            });
        } else {
            let columns: Vec<Vec<f64>> = (0..k).map(|c| pooled.column(m, 0, c, &keep0)).collect();
            let refs: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
            let ovr = multiclass::one_vs_rest(&refs, &y0, level).map_err(&err)?;
            let hand_till = multiclass::hand_till(&refs, &y0).map_err(&err)?;
            let confusion =
                multiclass::confusion_matrix(&refs, &y0, level, ProportionInterval::Wilson)
                    .map_err(&err)?;
            result.auc = ovr.macro_auc;
            result.multiclass = Some(MulticlassDetails {
                one_vs_rest: ovr,
                hand_till_m: hand_till.m,
                confusion,
            });
        }
        model_results.push(result);
    }

    let mut comparisons = Vec::new();
    let mut dca_summary = DcaSummary {
        thresholds: Vec::new(),
        treat_all: Vec::new(),
        models: Vec::new(),
    };
    let mut figures = Vec::new();
    if binary {
        let s0: Vec<Vec<f64>> = (0..exp.models.len())
            .map(|m| pooled.column(m, 0, 1, &keep0))
            .collect();
        for [a, b] in &exp.compare {
            let ia = exp.models.iter().position(|m| &m.id == a).unwrap_or(0);
            let ib = exp.models.iter().position(|m| &m.id == b).unwrap_or(0);
            let t = delong::delong_paired_test(&s0[ia], &s0[ib], &positive0, level)
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
        let treat_all =
            dca::treat_all_curve(&positive0, thresholds).map_err(eval_error("treat-all"))?;
        dca_summary = DcaSummary {
            thresholds: thresholds.clone(),
            treat_all: treat_all.net_benefit,
            models: exp
                .models
                .iter()
                .zip(&s0)
                .map(|(entry, scores)| {
                    dca::net_benefit_curve(scores, &positive0, thresholds, 0.0)
                        .map(|c| ModelNetBenefit {
                            id: entry.id.clone(),
                            net_benefit: c.net_benefit,
                        })
                        .map_err(eval_error(&entry.id))
                })
                .collect::<Result<_, _>>()?,
        };
        figures = vec!["roc.svg".into(), "dca.svg".into()];
    }

    let mut sites: BTreeMap<String, SiteCounts> = BTreeMap::new();
    for (case, &y) in cases.iter().zip(labels) {
        let s = sites.entry(case.site.clone()).or_default();
        s.n_cases += 1;
        s.per_class.resize(k, 0);
        s.per_class[y] += 1;
    }
    let mut per_class = vec![0; k];
    for &y in labels {
        per_class[y] += 1;
    }
    // A predefined split's test cases are a benchmark's test set: summarise them as one.
    let test_summary = if binary && exp.split.kind == crate::spec::SplitKind::Predefined {
        let s0: Vec<Vec<f64>> = (0..exp.models.len())
            .map(|m| pooled.column(m, 0, 1, &keep0))
            .collect();
        Some(
            crate::report::benchmark::summarise_test(
                &s0,
                &positive0,
                &model_results,
                &comparisons,
                exp.published.as_ref(),
                exp.seed,
                level,
            )
            .map_err(eval_error("test summary"))?,
        )
    } else {
        None
    };
    let published = exp
        .published
        .as_ref()
        .map(|p| crate::report::compare_published(p, &model_results));
    let mut report = Report {
        radbench_version: crate::VERSION.to_string(),
        version,
        experiment: serde_json::from_str(&exp.canonical_json()).unwrap_or_default(),
        cohort: CohortSummary {
            manifest: exp.manifest.clone(),
            fingerprint,
            label: exp.label.clone(),
            classes: exp.classes.clone(),
            n_cases: n,
            n_patients: cases
                .iter()
                .map(|c| c.patient.as_str())
                .collect::<BTreeSet<_>>()
                .len(),
            per_class,
            sites,
        },
        features: FeatureSummary {
            classes: exp.feature_classes.clone(),
            bin_width: exp.bin_width,
            names: table.names.clone(),
        },
        parts: (0..folds[0].k())
            .map(|f| folds[0].name(f).to_string())
            .collect(),
        models: model_results,
        comparisons,
        dca: dca_summary,
        published,
        figures,
        partial,
        seed_derivation: super::prepare::seed_derivation(exp.seed),
        provenance,
        seed_sweep: None,
        segmentation: None,
        survival: None,
        published_segmentation: None,
        operating_point: None,
        test_summary,
        auto_mask: None,
    };
    let more = crate::report::figures::extra_figure_names(&report);
    report.figures.extend(more);
    Ok((report, rows))
}

/// ROC points from (0, 0) to (1, 1) for scores where higher means positive.
fn roc_points(scores: &[f64], labels: &[bool]) -> Result<RocPoints, EvalError> {
    let curve = roc::roc_curve(scores, labels, roc::Direction::CasesHigher)?;
    // pROC orders points by ascending threshold (from (1, 1) down to (0, 0)); reverse them.
    Ok(RocPoints {
        false_positive_rate: curve.specificities.iter().rev().map(|s| 1.0 - s).collect(),
        true_positive_rate: curve.sensitivities.iter().rev().copied().collect(),
    })
}
