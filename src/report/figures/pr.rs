//! Precision–recall curves of the binary models, with the prevalence as the no-skill line.

use super::{Line, line_chart_svg};
use crate::report::{Report, ReportError};

/// One precision–recall curve per binary model, starting at recall 0 with the precision of the
/// highest-scored cases, and a horizontal line at the prevalence.
pub fn pr_svg(r: &Report) -> Result<String, ReportError> {
    let mut curves: Vec<(String, Vec<f64>, Vec<f64>)> = Vec::new();
    for m in &r.models {
        let Some(curve) = m.binary.as_ref().and_then(|b| b.pr_curve.as_ref()) else {
            continue;
        };
        let ap = m.binary.as_ref().map_or(f64::NAN, |b| b.average_precision);
        let mut recall = vec![0.0];
        let mut precision = vec![curve.precision.first().copied().unwrap_or(1.0)];
        recall.extend(&curve.recall);
        precision.extend(&curve.precision);
        curves.push((format!("{} (AP {ap:.3})", m.id), recall, precision));
    }
    let positives = r.cohort.per_class.get(1).copied().unwrap_or(0) as f64;
    let prevalence = positives / (r.cohort.n_cases.max(1) as f64);
    let x = [0.0, 1.0];
    let y = [prevalence, prevalence];
    let mut lines = vec![Line {
        label: "no skill (prevalence)",
        x: &x,
        y: &y,
        reference: true,
    }];
    lines.extend(curves.iter().map(|(label, recall, precision)| Line {
        label,
        x: recall,
        y: precision,
        reference: false,
    }));
    line_chart_svg(
        "Precision–recall (pooled out-of-fold)",
        "recall (sensitivity)",
        "precision (PPV)",
        (0.0, 1.0),
        (0.0, 1.0),
        &lines,
        false,
    )
}
