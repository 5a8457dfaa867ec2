//! The test-split summary of a predefined split, in the shape of a benchmark table.
//!
//! Principal items: [`TestSummary`] (built by [`summarise_test`]) and [`tables`]. With an
//! official train/val/test split (MedMNIST, say) the paper reports one number per method on the
//! test cases; this section gives, per model: test AUC with DeLong and stratified-bootstrap
//! (percentile) intervals, accuracy, balanced accuracy, sensitivity and specificity at the
//! Youden threshold chosen on the validation cases; the accuracy of always calling the majority
//! class; Holm-adjusted p-values of the paired comparisons; and each published AUC/ACC row with
//! whether it lies inside radbench's intervals. References: Holm (1979), Scand. J. Statist. 6,
//! 65–70; pROC's `ci.auc(method = "bootstrap")` for the interval.

use super::tables::{Table, fixed, p_value};
use super::{ComparisonResult, ModelResult, Report};
use crate::eval::EvalError;
use crate::eval::bootstrap::{Aucs, BootstrapSpec, bootstrap};
use crate::spec::raw::RawPublished;
use serde::Serialize;

/// Bootstrap replicates of the test AUC intervals (pROC's default).
pub const BOOTSTRAP_REPLICATES: usize = 2000;

/// Everything the test-split section shows.
#[derive(Debug, Clone, Serialize)]
pub struct TestSummary {
    /// Number of test cases.
    pub n_test: usize,
    /// Test cases of the positive class.
    pub n_positive: usize,
    /// Accuracy of always calling the majority test class.
    pub majority_accuracy: f64,
    /// Bootstrap settings of the AUC intervals.
    pub bootstrap: BootstrapSpec,
    /// One row per model, in experiment order.
    pub models: Vec<TestModelRow>,
    /// Holm-adjusted p-value of each paired comparison, in `comparisons` order.
    pub holm_p: Vec<f64>,
    /// One row per published method.
    pub published: Vec<PublishedTestRow>,
}

/// One model on the test cases.
#[derive(Debug, Clone, Serialize)]
pub struct TestModelRow {
    /// Model id.
    pub id: String,
    /// Test AUC.
    pub auc: f64,
    /// DeLong interval.
    pub auc_ci_delong: Option<[f64; 2]>,
    /// Stratified bootstrap percentile interval.
    pub auc_ci_bootstrap: [f64; 2],
    /// Accuracy at the validation Youden threshold.
    pub accuracy: f64,
    /// Balanced accuracy at that threshold.
    pub balanced_accuracy: f64,
    /// Sensitivity at that threshold.
    pub sensitivity: f64,
    /// Specificity at that threshold.
    pub specificity: f64,
    /// The threshold chosen on the validation cases.
    pub threshold: Option<f64>,
}

/// One published method beside radbench's model of the same id (if any).
#[derive(Debug, Clone, Serialize)]
pub struct PublishedTestRow {
    /// Method (model id).
    pub method: String,
    /// Published AUC.
    pub published_auc: Option<f64>,
    /// Published accuracy.
    pub published_acc: Option<f64>,
    /// radbench's test AUC of the model with this id.
    pub auc: Option<f64>,
    /// radbench's accuracy of that model.
    pub accuracy: Option<f64>,
    /// Whether the published AUC lies inside the DeLong interval.
    pub inside_delong_ci: Option<bool>,
    /// Whether the published AUC lies inside the bootstrap interval.
    pub inside_bootstrap_ci: Option<bool>,
}

/// Holm's step-down adjustment of `p` (returned in input order; monotone, capped at 1).
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]).then(a.cmp(&b)));
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0_f64;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

/// Builds the test summary from the pooled test `scores` of each model (experiment order),
/// their labels, the evaluated models, the paired comparisons and the published table.
pub fn summarise_test(
    scores: &[Vec<f64>],
    positive: &[bool],
    models: &[ModelResult],
    comparisons: &[ComparisonResult],
    published: Option<&RawPublished>,
    seed: u64,
    level: f64,
) -> Result<TestSummary, EvalError> {
    let refs: Vec<&[f64]> = scores.iter().map(Vec::as_slice).collect();
    let spec = BootstrapSpec {
        replicates: BOOTSTRAP_REPLICATES,
        seed,
        stratified: true,
        level,
    };
    let boot = bootstrap(&Aucs::new(&refs, positive)?, positive, &spec)?;
    let rows: Vec<TestModelRow> = models
        .iter()
        .enumerate()
        .map(|(m, model)| {
            let op = model.binary.as_ref().map(|b| &b.operating_point);
            let threshold = model
                .binary
                .as_ref()
                .and_then(|b| b.fold_thresholds.first().copied().flatten());
            TestModelRow {
                id: model.id.clone(),
                auc: model.auc,
                auc_ci_delong: model.auc_ci_delong,
                auc_ci_bootstrap: boot.percentile[m],
                accuracy: op.map_or(f64::NAN, |o| o.accuracy.value),
                balanced_accuracy: op.map_or(f64::NAN, |o| o.balanced_accuracy),
                sensitivity: op.map_or(f64::NAN, |o| o.sensitivity.value),
                specificity: op.map_or(f64::NAN, |o| o.specificity.value),
                threshold,
            }
        })
        .collect();
    let n_positive = positive.iter().filter(|&&p| p).count();
    let n = positive.len();
    let mut methods: Vec<(&RawPublished, &String)> = Vec::new();
    if let Some(p) = published {
        methods.extend(p.auc.keys().map(|k| (p, k)));
        methods.extend(
            p.acc
                .keys()
                .filter(|k| !p.auc.contains_key(*k))
                .map(|k| (p, k)),
        );
    }
    let published_rows = methods
        .into_iter()
        .map(|(p, method)| {
            let published_auc = p.auc.get(method).copied();
            let row = rows.iter().find(|r| &r.id == method);
            let inside =
                |ci: Option<[f64; 2]>| published_auc.zip(ci).map(|(a, c)| c[0] <= a && a <= c[1]);
            PublishedTestRow {
                method: method.clone(),
                published_auc,
                published_acc: p.acc.get(method).copied(),
                auc: row.map(|r| r.auc),
                accuracy: row.map(|r| r.accuracy),
                inside_delong_ci: inside(row.and_then(|r| r.auc_ci_delong)),
                inside_bootstrap_ci: inside(row.map(|r| r.auc_ci_bootstrap)),
            }
        })
        .collect();
    let p: Vec<f64> = comparisons.iter().map(|c| c.p).collect();
    Ok(TestSummary {
        n_test: n,
        n_positive,
        majority_accuracy: if n == 0 {
            f64::NAN
        } else {
            n_positive.max(n - n_positive) as f64 / n as f64
        },
        bootstrap: spec,
        models: rows,
        holm_p: holm(&p),
        published: published_rows,
    })
}

/// The tables of the test summary (none when the report has none).
pub fn tables(r: &Report) -> Vec<Table> {
    let Some(t) = &r.test_summary else {
        return Vec::new();
    };
    let level = t.bootstrap.level * 100.0;
    let ci = |c: [f64; 2]| format!("{}–{}", fixed(c[0], 3), fixed(c[1], 3));
    let opt = |x: Option<f64>| x.map_or_else(|| "—".to_string(), |v| fixed(v, 3));
    let yes_no = |b: Option<bool>| match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "—",
    };
    let mut out = vec![Table {
        title: "Test split".into(),
        caption: format!(
            "Fitted on train, threshold (Youden) chosen on val, {} test cases ({} positive) \
             predicted once. AUC with {level:.0}% DeLong and stratified bootstrap ({} \
             replicates, percentile) intervals; accuracy, balanced accuracy, sensitivity and \
             specificity at the val threshold. Always calling the majority class: accuracy {}.",
            t.n_test,
            t.n_positive,
            t.bootstrap.replicates,
            fixed(t.majority_accuracy, 3)
        ),
        header: vec![
            "model".into(),
            "AUC".into(),
            "DeLong CI".into(),
            "bootstrap CI".into(),
            "ACC".into(),
            "balanced ACC".into(),
            "sensitivity".into(),
            "specificity".into(),
            "val threshold".into(),
        ],
        numeric: vec![false, true, false, false, true, true, true, true, true],
        rows: t
            .models
            .iter()
            .map(|m| {
                vec![
                    m.id.clone(),
                    fixed(m.auc, 3),
                    m.auc_ci_delong.map_or_else(|| "—".into(), ci),
                    ci(m.auc_ci_bootstrap),
                    fixed(m.accuracy, 3),
                    fixed(m.balanced_accuracy, 3),
                    fixed(m.sensitivity, 3),
                    fixed(m.specificity, 3),
                    opt(m.threshold),
                ]
            })
            .collect(),
    }];
    if !t.published.is_empty() {
        out.push(Table {
            title: "Published benchmark vs radbench (test split)".into(),
            caption: "Each published method beside radbench's model of the same id (— where \
                      radbench has none); whether the published AUC lies inside radbench's \
                      intervals."
                .into(),
            header: vec![
                "method".into(),
                "published AUC".into(),
                "published ACC".into(),
                "radbench AUC".into(),
                "radbench ACC".into(),
                "inside DeLong CI".into(),
                "inside bootstrap CI".into(),
            ],
            numeric: vec![false, true, true, true, true, false, false],
            rows: t
                .published
                .iter()
                .map(|p| {
                    vec![
                        p.method.clone(),
                        opt(p.published_auc),
                        opt(p.published_acc),
                        opt(p.auc),
                        opt(p.accuracy),
                        yes_no(p.inside_delong_ci).into(),
                        yes_no(p.inside_bootstrap_ci).into(),
                    ]
                })
                .collect(),
        });
    }
    if !r.comparisons.is_empty() {
        out.push(Table {
            title: "Paired comparisons, Holm-adjusted".into(),
            caption: format!(
                "Paired DeLong p-values of the {} comparisons, adjusted for multiplicity by Holm's \
                 step-down method.",
                r.comparisons.len()
            ),
            header: vec!["A".into(), "B".into(), "p".into(), "Holm p".into()],
            numeric: vec![false, false, true, true],
            rows: r
                .comparisons
                .iter()
                .zip(&t.holm_p)
                .map(|(c, &h)| vec![c.a.clone(), c.b.clone(), p_value(c.p), p_value(h)])
                .collect(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holm_matches_the_step_down_rule() {
        // Sorted p 0.01, 0.02, 0.04 → 3·0.01, max(0.03, 2·0.02), max(0.04, 1·0.04).
        let adjusted = holm(&[0.04, 0.01, 0.02]);
        let expected = [0.04, 0.03, 0.04];
        for (a, e) in adjusted.iter().zip(expected) {
            assert!((a - e).abs() < 1e-12, "{adjusted:?}");
        }
        assert_eq!(holm(&[0.6, 0.5]), vec![1.0, 1.0]);
        assert!(holm(&[]).is_empty());
    }
}
