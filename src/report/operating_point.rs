//! Report section of `[operating_point]`: each model's binary reading of a multi-class label at
//! its training folds' Youden thresholds, beside the simulated reader, overall and per part.

use super::Report;
use super::tables::{Table, fixed};
use crate::eval::threshold::{Proportion, ThresholdMetrics};
use serde::Serialize;

/// One reader (model or simulated reader) on the test cases of repeat 0.
#[derive(Debug, Clone, Serialize)]
pub struct OperatingPointRow {
    /// Model id or reader name.
    pub who: String,
    /// `model` or `simulated reader`.
    pub kind: String,
    /// All test cases pooled.
    pub overall: ThresholdMetrics,
    /// Each part (fold or test site) separately, in `parts` order.
    pub per_part: Vec<ThresholdMetrics>,
}

/// The binary reading of the report.
#[derive(Debug, Clone, Serialize)]
pub struct OperatingPointResult {
    /// Name of the reading (`malignant vs benign`).
    pub name: String,
    /// Classes counted as positive.
    pub positive_classes: Vec<String>,
    /// The reader model, as stated: sensitivity and specificity it was drawn with.
    pub reader_model: Option<[f64; 2]>,
    /// Models in experiment order, then the reader.
    pub rows: Vec<OperatingPointRow>,
}

fn proportion(p: &Proportion) -> String {
    format!(
        "{} ({}–{})",
        fixed(p.value, 3),
        fixed(p.ci[0], 3),
        fixed(p.ci[1], 3)
    )
}

/// The operating-point table (none without `[operating_point]`).
pub fn tables(r: &Report) -> Vec<Table> {
    let Some(op) = &r.operating_point else {
        return Vec::new();
    };
    let mut rows = Vec::new();
    for row in &op.rows {
        let parts = std::iter::once(("all".to_string(), &row.overall)).chain(
            r.parts
                .iter()
                .cloned()
                .zip(&row.per_part)
                .filter(|_| row.per_part.len() > 1),
        );
        for (part, m) in parts {
            rows.push(vec![
                row.who.clone(),
                row.kind.clone(),
                part,
                m.counts.total().to_string(),
                proportion(&m.sensitivity),
                proportion(&m.specificity),
                proportion(&m.ppv),
                proportion(&m.npv),
                proportion(&m.accuracy),
            ]);
        }
    }
    let reader = op.reader_model.map_or_else(String::new, |[se, sp]| {
        format!(
            " The simulated reader calls each case from its true class with sensitivity {se} and specificity {sp}, drawn per case from the stream `[\"reader\", case id]`."
        )
    });
    vec![Table {
        title: format!("Operating point: {}", op.name),
        caption: format!(
            "Positive = {}. A model calls a case positive when the summed probability of these classes reaches the Youden threshold chosen on its training fold's own predictions. Wilson CIs.{reader}",
            op.positive_classes.join(", ")
        ),
        header: [
            "reader",
            "kind",
            "part",
            "cases",
            "sensitivity",
            "specificity",
            "PPV",
            "NPV",
            "accuracy",
        ]
        .map(String::from)
        .to_vec(),
        numeric: vec![false, false, false, true, true, true, true, true, true],
        rows,
    }]
}
