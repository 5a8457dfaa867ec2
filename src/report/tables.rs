//! The report's tables as plain rows of text, rendered by both `report.md` and `report.html`
//! so the two never disagree.

use super::Report;

/// A titled table of text cells.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Section title.
    pub title: String,
    /// Sentence shown above the table.
    pub caption: String,
    /// Column headers.
    pub header: Vec<String>,
    /// Right-align column j (numbers).
    pub numeric: Vec<bool>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
}

/// Formats a number with `digits` decimals, or `—` when it is not finite.
pub fn fixed(x: f64, digits: usize) -> String {
    if x.is_finite() {
        format!("{x:.digits$}")
    } else {
        "—".into()
    }
}

/// Formats a p-value: 4 decimals, or `< 0.0001`.
pub fn p_value(p: f64) -> String {
    if p < 1e-4 {
        "< 0.0001".into()
    } else {
        fixed(p, 4)
    }
}

/// A p-value as a relation: `= 0.0345` or `< 0.0001`.
pub fn p_relation(p: f64) -> String {
    if p < 1e-4 {
        "< 0.0001".into()
    } else {
        format!("= {}", fixed(p, 4))
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The report's tables, in reading order.
pub fn tables(r: &Report) -> Vec<Table> {
    let level = r.models.first().map(|m| m.ci_level).unwrap_or(0.95) * 100.0;
    let c = &r.cohort;
    let mut out = vec![Table {
        title: "Cohort".into(),
        caption: format!(
            "Manifest `{}` (fingerprint `{}`), label `{}`: {} cases from {} patients, {} positive, {} negative.",
            c.manifest,
            &c.fingerprint[..c.fingerprint.len().min(16)],
            c.label,
            c.n_cases,
            c.n_patients,
            c.n_positive,
            c.n_negative
        ),
        header: strings(&["site", "cases", "positive"]),
        numeric: vec![false, true, true],
        rows: c
            .sites
            .iter()
            .map(|(site, n)| {
                vec![
                    site.clone(),
                    n.n_cases.to_string(),
                    n.n_positive.to_string(),
                ]
            })
            .collect(),
    }];

    let split = &r.experiment["split"];
    out.push(Table {
        title: "Discrimination".into(),
        caption: format!(
            "Pooled out-of-fold predictions, {} × {}-fold {} grouped by patient; AUC with {level:.0}% DeLong CI.",
            split["repeats"],
            split["folds"],
            split["kind"].as_str().unwrap_or("")
        ),
        header: vec![
            "model".into(),
            "kind".into(),
            "AUC".into(),
            format!("{level:.0}% CI (DeLong)"),
            "AUC per fold".into(),
            "n cases".into(),
            "n positive".into(),
            "published AUC".into(),
        ],
        numeric: vec![false, false, true, false, false, true, true, true],
        rows: r
            .models
            .iter()
            .map(|m| {
                let folds: Vec<String> = m
                    .fold_auc
                    .iter()
                    .map(|a| a.map(|a| fixed(a, 2)).unwrap_or_else(|| "—".into()))
                    .collect();
                vec![
                    m.id.clone(),
                    m.kind.clone(),
                    fixed(m.auc, 3),
                    format!("{}–{}", fixed(m.auc_ci_delong[0], 3), fixed(m.auc_ci_delong[1], 3)),
                    folds.join(" "),
                    m.n_cases.to_string(),
                    m.n_positive.to_string(),
                    m.published_auc.map(|p| fixed(p, 3)).unwrap_or_else(|| "—".into()),
                ]
            })
            .collect(),
    });

    if !r.comparisons.is_empty() {
        out.push(Table {
            title: "Paired comparisons".into(),
            caption:
                "Same cases, same folds; DeLong test for correlated ROC curves (pROC `roc.test`)."
                    .into(),
            header: vec![
                "A".into(),
                "B".into(),
                "method".into(),
                "AUC A".into(),
                "AUC B".into(),
                "difference".into(),
                format!("{level:.0}% CI"),
                "z".into(),
                "p".into(),
            ],
            numeric: vec![false, false, false, true, true, true, false, true, true],
            rows: r
                .comparisons
                .iter()
                .map(|c| {
                    vec![
                        c.a.clone(),
                        c.b.clone(),
                        c.method.clone(),
                        fixed(c.auc_a, 3),
                        fixed(c.auc_b, 3),
                        fixed(c.auc_difference, 3),
                        format!("{}–{}", fixed(c.ci[0], 3), fixed(c.ci[1], 3)),
                        fixed(c.z, 2),
                        p_value(c.p),
                    ]
                })
                .collect(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_formatted_fixed() {
        assert_eq!(fixed(0.12345, 3), "0.123");
        assert_eq!(fixed(f64::NAN, 3), "—");
        assert_eq!(p_value(0.00001), "< 0.0001");
        assert_eq!(p_value(0.0345), "0.0345");
    }
}
