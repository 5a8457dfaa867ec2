//! Multi-class mode of `radbench stats`: a label with more than two values and one
//! probability column per class.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Format, StatsArgs, StatsError, TextTable, to_json};
use crate::eval::multiclass::{confusion_matrix, hand_till, one_vs_rest};
use crate::eval::threshold::ProportionInterval;

/// One class's one-vs-rest AUC.
#[derive(Debug, Serialize)]
pub(crate) struct ClassAuc {
    pub column: String,
    pub n: usize,
    pub auc: f64,
    pub delong_variance: f64,
    pub auc_ci_delong: [f64; 2],
}

/// The multi-class report.
#[derive(Debug, Serialize)]
pub(crate) struct MulticlassReport {
    pub n: usize,
    pub label: String,
    pub classes: Vec<String>,
    pub level: f64,
    pub method: &'static str,
    pub per_class: BTreeMap<String, ClassAuc>,
    pub macro_auc: f64,
    pub weighted_auc: f64,
    pub hand_till_m: f64,
    pub accuracy: f64,
    pub accuracy_ci: [f64; 2],
    /// Rows: true class, columns: predicted (arg-max) class, both in `classes` order.
    pub confusion_matrix: Vec<Vec<usize>>,
}

pub(super) fn render(
    args: &StatsArgs,
    table: &TextTable,
    label: &str,
    labels: &[String],
) -> Result<String, StatsError> {
    let bad = |message: String| StatsError::BadOption {
        option: "--classes",
        message,
    };
    // Class of each score column: --classes, else the column names must be the label values.
    let classes: Vec<String> = if args.classes.is_empty() {
        args.scores.clone()
    } else {
        args.classes.clone()
    };
    if classes.len() != args.scores.len() {
        return Err(bad(format!(
            "{} classes for {} score columns",
            classes.len(),
            args.scores.len()
        )));
    }
    let mut seen: Vec<&str> = labels.iter().map(String::as_str).collect();
    seen.sort_unstable();
    seen.dedup();
    for value in &seen {
        if !classes.iter().any(|c| c == value) {
            return Err(bad(format!(
                "label value {value:?} of column {label:?} has no score column; map the columns {} to the values {} with --classes",
                args.scores.join(","),
                seen.join(",")
            )));
        }
    }
    let class_index: Vec<usize> = labels
        .iter()
        .map(|l| classes.iter().position(|c| c == l).unwrap_or(usize::MAX))
        .collect();
    for (k, class) in classes.iter().enumerate() {
        let count = class_index.iter().filter(|&&c| c == k).count();
        if count < 2 {
            return Err(StatsError::TooFewPerClass {
                column: label.to_string(),
                class: class.clone(),
                count,
            });
        }
    }
    let columns: Vec<Vec<f64>> = args
        .scores
        .iter()
        .map(|s| table.numbers(s))
        .collect::<Result<_, _>>()?;
    let refs: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
    let ovr = one_vs_rest(&refs, &class_index, args.level)
        .map_err(StatsError::eval("one-vs-rest AUC"))?;
    let ht = hand_till(&refs, &class_index).map_err(StatsError::eval("Hand–Till M"))?;
    let cm = confusion_matrix(&refs, &class_index, args.level, ProportionInterval::Wilson)
        .map_err(StatsError::eval("confusion matrix"))?;
    let per_class = classes
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let d = &ovr.per_class[k];
            (
                c.clone(),
                ClassAuc {
                    column: args.scores[k].clone(),
                    n: d.n_cases,
                    auc: d.auc,
                    delong_variance: d.variance,
                    auc_ci_delong: d.ci,
                },
            )
        })
        .collect();
    let report = MulticlassReport {
        n: labels.len(),
        label: label.to_string(),
        classes,
        level: args.level,
        method: "one-vs-rest (macro = unweighted mean; weighted = prevalence-weighted); hand_till_m = Hand & Till 2001 (one-vs-one)",
        per_class,
        macro_auc: ovr.macro_auc,
        weighted_auc: ovr.weighted_auc,
        hand_till_m: ht.m,
        accuracy: cm.accuracy.value,
        accuracy_ci: cm.accuracy.ci,
        confusion_matrix: cm.counts,
    };
    Ok(match args.format {
        Format::Json => to_json(&report),
        Format::Md => super::markdown::multiclass(&report),
    })
}
