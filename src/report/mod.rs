//! Reports: one serde model ([`Report`]) rendered as JSON and Markdown, written atomically
//! into `reports/<experiment>/<version>/`.
//!
//! The version is a short SHA-256 of the canonical experiment, the cohort fingerprint and the
//! radbench version ([`content_version`]), so a changed spec, changed data or a new release
//! never overwrites an older report. `report.json`, `report.md` and `predictions.csv` carry no
//! timestamps and are byte-identical on rerun; `run.json` (host, threads, durations) is the
//! only file allowed to differ.

pub mod figures;
pub mod html;
pub mod markdown;
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
    /// One entry per model, in experiment order.
    pub models: Vec<ModelResult>,
    /// Paired comparisons asked for in `[evaluation] compare`.
    pub comparisons: Vec<ComparisonResult>,
    /// Decision curves of the pooled out-of-fold predictions (repeat 0).
    pub dca: DcaSummary,
    /// Figure files written into `figures/`.
    pub figures: Vec<String>,
    /// Cells missing from a merge with `--allow-partial` (`null` for a complete report): the
    /// statistics then cover only the cases whose cells are present.
    pub partial: Option<Vec<String>>,
    /// How random streams were derived, so a reader can re-derive them.
    pub seed_derivation: String,
}

/// Cohort counts (TRIPOD+AI participant flow).
#[derive(Debug, Clone, Serialize)]
pub struct CohortSummary {
    /// Manifest path as written in the experiment.
    pub manifest: String,
    /// SHA-256 fingerprint of the case list and every file hash.
    pub fingerprint: String,
    /// Label name and positive value.
    pub label: String,
    /// Number of cases.
    pub n_cases: usize,
    /// Number of distinct patients.
    pub n_patients: usize,
    /// Number of positive cases.
    pub n_positive: usize,
    /// Number of negative cases.
    pub n_negative: usize,
    /// Cases and positives per site.
    pub sites: BTreeMap<String, SiteCounts>,
}

/// Counts for one site.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SiteCounts {
    /// Number of cases.
    pub n_cases: usize,
    /// Number of positive cases.
    pub n_positive: usize,
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
    /// AUC of the pooled out-of-fold predictions of repeat 0.
    pub auc: f64,
    /// DeLong variance of that AUC.
    pub delong_variance: f64,
    /// DeLong confidence interval of that AUC.
    pub auc_ci_delong: [f64; 2],
    /// Confidence level.
    pub ci_level: f64,
    /// Number of cases with a prediction.
    pub n_cases: usize,
    /// Number of positive cases among them.
    pub n_positive: usize,
    /// AUC of each fold's test part, repeat 0 (folds with one class are null).
    pub fold_auc: Vec<Option<f64>>,
    /// Pooled out-of-fold AUC of each repeat.
    pub repeat_auc: Vec<f64>,
    /// The published AUC for this model id, if the experiment lists one.
    pub published_auc: Option<f64>,
    /// ROC curve of the pooled out-of-fold predictions (repeat 0).
    pub roc: RocPoints,
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
    /// Predicted probability of the positive class.
    pub probability: f64,
    /// True label (1 positive, 0 negative).
    pub label: u8,
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

/// Renders `predictions.csv`, one row per case, model, repeat and fold.
pub fn render_predictions_csv(rows: &[PredictionRow]) -> String {
    let mut s = String::from("case_id,patient,site,model,repeat,fold,probability,label\n");
    for r in rows {
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            csv_field(&r.case_id),
            csv_field(&r.patient),
            csv_field(&r.site),
            csv_field(&r.model),
            r.repeat,
            r.fold,
            r.probability,
            r.label
        ));
    }
    s
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
