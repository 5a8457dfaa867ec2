//! Reports: one serde model ([`Report`]) rendered as JSON and Markdown, written atomically
//! into `reports/<experiment>/<version>/`.
//!
//! The version is a short SHA-256 of the canonical experiment, the cohort fingerprint and the
//! radbench version ([`content_version`]), so a changed spec, changed data or a new release
//! never overwrites an older report. `report.json`, `report.md` and `predictions.csv` carry no
//! timestamps and are byte-identical on rerun; `run.json` (host, threads, durations) is the
//! only file allowed to differ.

pub mod auto_mask;
pub mod benchmark;
pub mod figures;
pub mod figures_survival;
pub mod html;
pub mod markdown;
pub mod operating_point;
pub mod provenance;
pub mod studies;
pub mod tables;
mod write;

pub use figures::draw_figures;
pub use write::{write_atomic, write_report_files};

use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Errors from writing a report; each names the path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// A file or folder could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A figure could not be drawn.
    #[error("figure {0}")]
    Figure(String),
}

/// Everything a report shows; serialised with stable key order and no timestamps.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The radbench version that wrote it.
    pub radbench_version: String,
    /// The content version (folder name).
    pub version: String,
    /// The validated experiment, canonical form.
    pub experiment: serde_json::Value,
    /// Who is in the cohort.
    pub cohort: CohortSummary,
    /// Radiomics extraction.
    pub features: FeatureSummary,
    /// Names of the split's parts (repeat 0): `fold 0`, ..., or `site B`, ... for a by-site
    /// split; `fold_auc` of each model follows this order.
    pub parts: Vec<String>,
    /// One entry per model, in experiment order.
    pub models: Vec<ModelResult>,
    /// Paired comparisons asked for in `[evaluation] compare`.
    pub comparisons: Vec<ComparisonResult>,
    /// Decision curves of the pooled out-of-fold predictions (repeat 0).
    pub dca: DcaSummary,
    /// Every `[published]` value beside the reproduced one.
    pub published: Option<PublishedComparison>,
    /// Figure files written into `figures/`.
    pub figures: Vec<String>,
    /// Cells missing from a merge with `--allow-partial` (`null` for a complete report): the
    /// statistics then cover only the cases whose cells are present.
    pub partial: Option<Vec<String>>,
    /// How random streams were derived, so a reader can re-derive them.
    pub seed_derivation: String,
    /// What the report was computed from (hashes of the inputs), never machine details.
    pub provenance: provenance::Provenance,
    /// The spread of each metric across the seeds of `[experiment] seeds` (absent without a
    /// sweep).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed_sweep: Option<SeedSweep>,
    /// Segmentation quality of each segmenter (only when the experiment has segmenters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segmentation: Option<Vec<studies::SegmentationResult>>,
    /// Survival by high vs low volume (only with `[survival]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub survival: Option<studies::SurvivalResult>,
    /// `[published.segmentation]` values beside the reproduced ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published_segmentation: Option<Vec<studies::PublishedStudyRow>>,
    /// The binary reading of a multi-class label beside a simulated reader (`[operating_point]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operating_point: Option<operating_point::OperatingPointResult>,
    /// The test-split summary of a predefined split (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_summary: Option<benchmark::TestSummary>,
    /// Models on predicted masks and their fallback cases (absent when there are none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_mask: Option<Vec<auto_mask::AutoMaskResult>>,
}

/// A seed sweep: each model's metrics for every seed, and their spread.
#[derive(Debug, Clone, Serialize)]
pub struct SeedSweep {
    /// The seeds, as listed.
    pub seeds: Vec<u64>,
    /// One row per seed and model.
    pub runs: Vec<SeedRun>,
    /// One row per model and metric: mean, SD, min and max across the seeds.
    pub summary: Vec<SweepSummary>,
}

/// One model's pooled out-of-fold metrics (repeat 0) under one seed.
#[derive(Debug, Clone, Serialize)]
pub struct SeedRun {
    /// The seed.
    pub seed: u64,
    /// Model id.
    pub model: String,
    /// AUC (binary) or macro one-vs-rest AUC.
    pub auc: Option<f64>,
    /// Average precision (binary).
    pub average_precision: Option<f64>,
    /// Accuracy: binary at each training fold's Youden threshold; multi-class at the argmax.
    pub accuracy: Option<f64>,
}

/// The spread of one metric of one model across seeds.
#[derive(Debug, Clone, Serialize)]
pub struct SweepSummary {
    /// Model id.
    pub model: String,
    /// Metric name (`auc`, `average_precision`, `accuracy`).
    pub metric: String,
    /// Number of seeds with a value.
    pub n: usize,
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1); NaN for one value.
    pub sd: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

/// Cohort counts (TRIPOD+AI participant flow).
#[derive(Debug, Clone, Serialize)]
pub struct CohortSummary {
    /// Manifest path as written in the experiment.
    pub manifest: String,
    /// SHA-256 fingerprint of the case list and every file hash.
    pub fingerprint: String,
    /// Label name.
    pub label: String,
    /// Class names, index = class (binary: `[not positive, positive]`).
    pub classes: Vec<String>,
    /// Number of cases.
    pub n_cases: usize,
    /// Number of distinct patients.
    pub n_patients: usize,
    /// Number of cases of each class.
    pub per_class: Vec<usize>,
    /// Cases per site, in total and per class.
    pub sites: BTreeMap<String, SiteCounts>,
}

/// Counts for one site.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SiteCounts {
    /// Number of cases.
    pub n_cases: usize,
    /// Number of cases of each class.
    pub per_class: Vec<usize>,
}

/// Radiomics extraction settings and the features produced.
#[derive(Debug, Clone, Serialize)]
pub struct FeatureSummary {
    /// Feature classes.
    pub classes: Vec<String>,
    /// Discretisation bin width.
    pub bin_width: f64,
    /// Feature names, in column order.
    pub names: Vec<String>,
}

/// Out-of-fold performance of one model.
#[derive(Debug, Clone, Serialize)]
pub struct ModelResult {
    /// Model id.
    pub id: String,
    /// Model kind.
    pub kind: String,
    /// Pooled out-of-fold AUC of repeat 0: the binary AUC, or the macro one-vs-rest AUC.
    pub auc: f64,
    /// DeLong confidence interval of the binary AUC.
    pub auc_ci_delong: Option<[f64; 2]>,
    /// DeLong variance of the binary AUC.
    pub delong_variance: Option<f64>,
    /// Confidence level of every interval.
    pub ci_level: f64,
    /// Number of cases with a prediction.
    pub n_cases: usize,
    /// AUC of each fold's test part, repeat 0 (null where a class is missing).
    pub fold_auc: Vec<Option<f64>>,
    /// Pooled out-of-fold AUC of each repeat.
    pub repeat_auc: Vec<f64>,
    /// The published AUC for this model id, if the experiment lists one.
    pub published_auc: Option<f64>,
    /// Binary analyses: ROC, operating point, precision, calibration.
    pub binary: Option<BinaryDetails>,
    /// Multi-class analyses: per-class AUCs, Hand–Till M, confusion matrix.
    pub multiclass: Option<MulticlassDetails>,
    /// What each fold's fit chose (repeat 0), as the model reports it.
    pub cell_summaries: Vec<serde_json::Value>,
    /// Patch-level discrimination, for models that score several patches per case (absent
    /// for the others).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch_level: Option<PatchLevelResult>,
}

/// Discrimination of the patches (slices) a model scored before aggregating them per case:
/// each patch carries its case's label, pooled out of fold over repeat 0. Patches of one case
/// are correlated, so the DeLong interval, which treats them as independent, is too narrow.
#[derive(Debug, Clone, Serialize)]
pub struct PatchLevelResult {
    /// Number of patches scored.
    pub n_patches: usize,
    /// Binary AUC, or macro one-vs-rest AUC, over patches.
    pub auc: f64,
    /// DeLong interval of the binary patch AUC (patches taken as independent).
    pub auc_ci_delong: Option<[f64; 2]>,
    /// Multi-class: one-vs-rest AUC per class over patches.
    pub one_vs_rest_auc: Option<Vec<f64>>,
}

/// Binary-label statistics of one model.
#[derive(Debug, Clone, Serialize)]
pub struct BinaryDetails {
    /// ROC curve of the pooled out-of-fold predictions.
    pub roc: RocPoints,
    /// Sensitivity, specificity, PPV, NPV, accuracy (Wilson CIs), balanced accuracy and F1 when
    /// each fold's test cases are called at that fold's training-set Youden threshold.
    pub operating_point: crate::eval::threshold::ThresholdMetrics,
    /// The Youden threshold chosen on each training fold (repeat 0).
    pub fold_thresholds: Vec<Option<f64>>,
    /// Average precision (step-wise, as scikit-learn).
    pub average_precision: f64,
    /// Brier score.
    pub brier: f64,
    /// Calibration intercept and slope (logistic recalibration), when estimable.
    pub calibration: Option<crate::eval::calibration::CalibrationFit>,
    /// Pointwise bootstrap confidence band of the sensitivity along the ROC curve.
    pub roc_band: Option<crate::eval::roc_band::RocBand>,
    /// Precision–recall curve of the pooled out-of-fold predictions.
    pub pr_curve: Option<crate::eval::threshold::PrCurve>,
    /// Reliability diagram: ten equal-width bins of predicted probability (empty bins left out).
    pub reliability: Vec<crate::eval::calibration::ReliabilityBin>,
}

/// Multi-class statistics of one model.
#[derive(Debug, Clone, Serialize)]
pub struct MulticlassDetails {
    /// One-vs-rest AUC per class with DeLong CIs, macro and weighted averages.
    pub one_vs_rest: crate::eval::multiclass::OneVsRest,
    /// Hand & Till's multi-class AUC M.
    pub hand_till_m: f64,
    /// Confusion matrix (argmax) and accuracy with CI.
    pub confusion: crate::eval::multiclass::ConfusionMatrix,
}

/// The paper's numbers next to the reproduced ones.
#[derive(Debug, Clone, Serialize)]
pub struct PublishedComparison {
    /// Citation.
    pub source: String,
    /// Declared tolerance on |reproduced − published| AUC.
    pub tolerance: f64,
    /// What the reproduction can and cannot show.
    pub note: Option<String>,
    /// One row per published AUC.
    pub rows: Vec<PublishedRow>,
}

/// One published AUC and its reproduction.
#[derive(Debug, Clone, Serialize)]
pub struct PublishedRow {
    /// Model id.
    pub model: String,
    /// Published AUC.
    pub published_auc: f64,
    /// Published CI, when given.
    pub published_ci: Option<[f64; 2]>,
    /// Reproduced AUC (null when the experiment has no such model).
    pub reproduced_auc: Option<f64>,
    /// Reproduced CI (binary: DeLong).
    pub reproduced_ci: Option<[f64; 2]>,
    /// Reproduced − published.
    pub difference: Option<f64>,
    /// Whether the published AUC lies inside the reproduced CI.
    pub published_inside_ci: Option<bool>,
    /// Whether |difference| ≤ tolerance.
    pub within_tolerance: Option<bool>,
}

/// ROC curve points, from (0, 0) to (1, 1).
#[derive(Debug, Clone, Serialize)]
pub struct RocPoints {
    /// 1 − specificity at each point.
    pub false_positive_rate: Vec<f64>,
    /// Sensitivity at each point.
    pub true_positive_rate: Vec<f64>,
}

/// Net benefit per threshold probability (decision-curve analysis, dcurves' definition).
#[derive(Debug, Clone, Serialize)]
pub struct DcaSummary {
    /// Threshold probabilities.
    pub thresholds: Vec<f64>,
    /// Net benefit of treating everybody.
    pub treat_all: Vec<f64>,
    /// Net benefit of each model, in experiment order.
    pub models: Vec<ModelNetBenefit>,
}

/// One model's decision curve.
#[derive(Debug, Clone, Serialize)]
pub struct ModelNetBenefit {
    /// Model id.
    pub id: String,
    /// Net benefit at each threshold.
    pub net_benefit: Vec<f64>,
}

/// A paired DeLong comparison of two models on the same cases.
#[derive(Debug, Clone, Serialize)]
pub struct ComparisonResult {
    /// First model id.
    pub a: String,
    /// Second model id.
    pub b: String,
    /// The method, named.
    pub method: String,
    /// AUC of `a`.
    pub auc_a: f64,
    /// AUC of `b`.
    pub auc_b: f64,
    /// AUC(a) − AUC(b).
    pub auc_difference: f64,
    /// Confidence interval of the difference.
    pub ci: [f64; 2],
    /// z statistic.
    pub z: f64,
    /// Two-sided p-value.
    pub p: f64,
}

/// One row of `predictions.csv`.
#[derive(Debug, Clone)]
pub struct PredictionRow {
    /// Case id.
    pub case_id: String,
    /// Patient id.
    pub patient: String,
    /// Site.
    pub site: String,
    /// Model id.
    pub model: String,
    /// Repeat index.
    pub repeat: usize,
    /// Fold index.
    pub fold: usize,
    /// Class probabilities.
    pub probabilities: Vec<f64>,
    /// The fold's training threshold (binary).
    pub threshold: Option<f64>,
    /// True class index.
    pub label: usize,
}

/// Compares every published AUC with the reproduced model of the same id.
pub fn compare_published(
    published: &crate::spec::raw::RawPublished,
    models: &[ModelResult],
) -> PublishedComparison {
    let rows = published
        .auc
        .iter()
        .map(|(id, &auc)| {
            let m = models.iter().find(|m| &m.id == id);
            let reproduced_auc = m.map(|m| m.auc).filter(|a| a.is_finite());
            let reproduced_ci = m.and_then(|m| m.auc_ci_delong);
            let difference = reproduced_auc.map(|r| r - auc);
            PublishedRow {
                model: id.clone(),
                published_auc: auc,
                published_ci: published.auc_ci.get(id).copied(),
                reproduced_auc,
                reproduced_ci,
                difference,
                published_inside_ci: reproduced_ci.map(|c| c[0] <= auc && auc <= c[1]),
                within_tolerance: difference.map(|d| d.abs() <= published.tolerance),
            }
        })
        .collect();
    PublishedComparison {
        source: published.source.clone(),
        tolerance: published.tolerance,
        note: published.note.clone(),
        rows,
    }
}

/// The short content version: the first 12 hex digits of SHA-256 over the canonical
/// experiment, the cohort fingerprint and the radbench version.
pub fn content_version(canonical_experiment: &str, cohort_fingerprint: &str) -> String {
    let mut h = Sha256::new();
    for part in [canonical_experiment, cohort_fingerprint, crate::VERSION] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    let digest = h.finalize();
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

/// Renders `report.json`: pretty-printed, stable key order, shortest round-trip floats.
pub fn render_json(report: &Report) -> String {
    // Plain structs, vectors and BTreeMaps always serialise.
    let mut s = serde_json::to_string_pretty(report).unwrap_or_default();
    s.push('\n');
    s
}

/// Renders `predictions.csv`, one row per case, model, repeat and fold. Binary analyses give
/// the positive-class `probability` and the fold's training `threshold`; multi-class ones give
/// one `p_<class>` column per class and the `predicted` class (argmax).
pub fn render_predictions_csv(rows: &[PredictionRow], classes: &[String]) -> String {
    let binary = classes.len() == 2;
    let mut s = String::from("case_id,patient,site,model,repeat,fold,");
    if binary {
        s.push_str("probability,threshold,label\n");
    } else {
        for c in classes {
            s.push_str(&csv_field(&format!("p_{c}")));
            s.push(',');
        }
        s.push_str("predicted,label\n");
    }
    for r in rows {
        s.push_str(&format!(
            "{},{},{},{},{},{},",
            csv_field(&r.case_id),
            csv_field(&r.patient),
            csv_field(&r.site),
            csv_field(&r.model),
            r.repeat,
            r.fold,
        ));
        if binary {
            let t = r.threshold.map(|t| t.to_string()).unwrap_or_default();
            s.push_str(&format!("{},{t},{}\n", r.probabilities[1], r.label));
        } else {
            for p in &r.probabilities {
                s.push_str(&format!("{p},"));
            }
            let predicted = argmax(&r.probabilities);
            s.push_str(&format!("{predicted},{}\n", r.label));
        }
    }
    s
}

/// Index of the largest value (the lowest index wins a tie, as the confusion matrix).
fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

/// Quotes a CSV field when it holds a comma, quote or newline.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_depends_on_every_part() {
        let v = content_version("{}", "abc");
        assert_eq!(v.len(), 12);
        assert_eq!(v, content_version("{}", "abc"));
        assert_ne!(v, content_version("{ }", "abc"));
        assert_ne!(v, content_version("{}", "abd"));
    }

    #[test]
    fn csv_quotes_only_when_needed() {
        assert_eq!(csv_field("a"), "a");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("a\"b"), "\"a\"\"b\"");
    }
}
