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

fn ci(c: [f64; 2]) -> String {
    format!("{}–{}", fixed(c[0], 3), fixed(c[1], 3))
}

fn proportion(p: &crate::eval::threshold::Proportion) -> String {
    format!("{} ({})", fixed(p.value, 3), ci(p.ci))
}

/// A short text for a cell's fit summary (`selected` features, CNN `best_epoch`).
fn describe_fit(summary: &serde_json::Value) -> String {
    if let Some(selected) = summary["selected"].as_array() {
        let names: Vec<&str> = selected
            .iter()
            .filter_map(|v| v.as_str())
            .map(|n| n.strip_prefix("original_").unwrap_or(n))
            .collect();
        return format!("{} features: {}", names.len(), names.join(", "));
    }
    if let (Some(best), Some(epochs)) =
        (summary["best_epoch"].as_u64(), summary["epochs"].as_array())
    {
        return format!("epoch {best} of {}", epochs.len());
    }
    String::new()
}

/// The report's tables, in reading order.
pub fn tables(r: &Report) -> Vec<Table> {
    let level = r.models.first().map(|m| m.ci_level).unwrap_or(0.95) * 100.0;
    let c = &r.cohort;
    let binary = c.classes.len() == 2;
    let mut site_header = vec!["site".to_string(), "cases".to_string()];
    site_header.extend(c.classes.iter().cloned());
    let class_counts: Vec<String> = c
        .classes
        .iter()
        .zip(&c.per_class)
        .map(|(name, n)| format!("{n} {name}"))
        .collect();
    let mut out = vec![Table {
        title: "Cohort".into(),
        caption: format!(
            "Manifest `{}` (fingerprint `{}`), label `{}`: {} cases from {} patients ({}).",
            c.manifest,
            &c.fingerprint[..c.fingerprint.len().min(16)],
            c.label,
            c.n_cases,
            c.n_patients,
            class_counts.join(", ")
        ),
        numeric: (0..site_header.len()).map(|j| j > 0).collect(),
        header: site_header,
        rows: c
            .sites
            .iter()
            .map(|(site, n)| {
                let mut row = vec![site.clone(), n.n_cases.to_string()];
                row.extend(n.per_class.iter().map(|k| k.to_string()));
                row
            })
            .collect(),
    }];

    let split = &r.experiment["split"];
    out.push(Table {
        title: "Discrimination".into(),
        caption: format!(
            "Pooled out-of-fold predictions, {} split grouped by patient, {} repeat(s); AUC per part in the order {}; {}.",
            split["kind"].as_str().unwrap_or(""),
            split["repeats"],
            r.parts.join(", "),
            if binary {
                format!("AUC with {level:.0}% DeLong CI")
            } else {
                "macro one-vs-rest AUC (per-class CIs below)".to_string()
            }
        ),
        header: vec![
            "model".into(),
            "kind".into(),
            "AUC".into(),
            format!("{level:.0}% CI (DeLong)"),
            "AUC per part".into(),
            "n cases".into(),
            "published AUC".into(),
        ],
        numeric: vec![false, false, true, false, false, true, true],
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
                    m.auc_ci_delong.map(ci).unwrap_or_else(|| "—".into()),
                    folds.join(" "),
                    m.n_cases.to_string(),
                    m.published_auc
                        .map(|p| fixed(p, 3))
                        .unwrap_or_else(|| "—".into()),
                ]
            })
            .collect(),
    });

    if binary {
        out.push(Table {
            title: "Operating point".into(),
            caption: format!(
                "Each fold's test cases called positive at the Youden threshold chosen on that fold's \
                 training predictions; {level:.0}% Wilson CIs."
            ),
            header: strings(&[
                "model",
                "sensitivity",
                "specificity",
                "PPV (precision)",
                "NPV",
                "balanced accuracy",
                "F1",
                "AP",
                "Brier",
                "calibration intercept",
                "calibration slope",
            ]),
            numeric: vec![false, false, false, false, false, true, true, true, true, true, true],
            rows: r
                .models
                .iter()
                .filter_map(|m| m.binary.as_ref().map(|b| (m, b)))
                .map(|(m, b)| {
                    let o = &b.operating_point;
                    let (intercept, slope) = b
                        .calibration
                        .map(|c| (fixed(c.intercept, 2), fixed(c.slope, 2)))
                        .unwrap_or_else(|| ("—".into(), "—".into()));
                    vec![
                        m.id.clone(),
                        proportion(&o.sensitivity),
                        proportion(&o.specificity),
                        proportion(&o.ppv),
                        proportion(&o.npv),
                        fixed(o.balanced_accuracy, 3),
                        fixed(o.f1, 3),
                        fixed(b.average_precision, 3),
                        fixed(b.brier, 3),
                        intercept,
                        slope,
                    ]
                })
                .collect(),
        });
    } else {
        let mut header = vec!["model".to_string()];
        header.extend(c.classes.iter().map(|k| format!("AUC {k} vs rest")));
        header.extend([
            "weighted AUC".to_string(),
            "Hand–Till M".into(),
            "accuracy".into(),
        ]);
        out.push(Table {
            title: "Per-class discrimination".into(),
            caption: format!(
                "One-vs-rest AUC of each class with {level:.0}% DeLong CI; accuracy of the argmax class with Wilson CI."
            ),
            numeric: (0..header.len()).map(|j| j > 0).collect(),
            header,
            rows: r
                .models
                .iter()
                .filter_map(|m| m.multiclass.as_ref().map(|d| (m, d)))
                .map(|(m, d)| {
                    let mut row = vec![m.id.clone()];
                    row.extend(
                        d.one_vs_rest
                            .per_class
                            .iter()
                            .map(|a| format!("{} ({})", fixed(a.auc, 3), ci(a.ci))),
                    );
                    row.push(fixed(d.one_vs_rest.weighted_auc, 3));
                    row.push(fixed(d.hand_till_m, 3));
                    row.push(proportion(&d.confusion.accuracy));
                    row
                })
                .collect(),
        });
        for m in &r.models {
            let Some(d) = &m.multiclass else { continue };
            let mut header = vec!["true \\ predicted".to_string()];
            header.extend(c.classes.iter().cloned());
            out.push(Table {
                title: format!("Confusion matrix: {}", m.id),
                caption: "Rows: true class; columns: predicted (argmax) class.".into(),
                numeric: (0..header.len()).map(|j| j > 0).collect(),
                header,
                rows: d
                    .confusion
                    .counts
                    .iter()
                    .zip(&c.classes)
                    .map(|(row, name)| {
                        let mut cells = vec![name.clone()];
                        cells.extend(row.iter().map(|n| n.to_string()));
                        cells
                    })
                    .collect(),
            });
        }
    }

    // What each fold's fit chose: selected features, CNN epochs.
    let mut fits = Vec::new();
    for m in &r.models {
        let cells: Vec<String> = m.cell_summaries.iter().map(describe_fit).collect();
        if cells.iter().any(|c| !c.is_empty()) {
            let mut row = vec![m.id.clone()];
            row.extend(cells);
            fits.push(row);
        }
    }
    if !fits.is_empty() {
        let mut header = vec!["model".to_string()];
        header.extend(r.parts.iter().cloned());
        out.push(Table {
            title: "Fitted in each part".into(),
            caption: "Chosen on the training data of each part (repeat 0): selected features, or the CNN's kept epoch.".into(),
            numeric: vec![false; header.len()],
            header,
            rows: fits,
        });
    }

    if let Some(p) = &r.published {
        let yes_no = |b: Option<bool>| match b {
            Some(true) => "yes".to_string(),
            Some(false) => "no".to_string(),
            None => "—".to_string(),
        };
        out.push(Table {
            title: "Published vs reproduced".into(),
            caption: format!(
                "Published: {}. Tolerance on |reproduced − published| AUC: {}.{}",
                p.source,
                p.tolerance,
                p.note.as_ref().map(|n| format!(" {n}")).unwrap_or_default()
            ),
            header: strings(&[
                "model",
                "published AUC",
                "published CI",
                "reproduced AUC",
                "reproduced CI",
                "difference",
                "published inside reproduced CI",
                "within tolerance",
            ]),
            numeric: vec![false, true, false, true, false, true, false, false],
            rows: p
                .rows
                .iter()
                .map(|row| {
                    vec![
                        row.model.clone(),
                        fixed(row.published_auc, 3),
                        row.published_ci.map(ci).unwrap_or_else(|| "—".into()),
                        row.reproduced_auc
                            .map(|a| fixed(a, 3))
                            .unwrap_or_else(|| "—".into()),
                        row.reproduced_ci.map(ci).unwrap_or_else(|| "—".into()),
                        row.difference
                            .map(|d| format!("{d:+.3}"))
                            .unwrap_or_else(|| "—".into()),
                        yes_no(row.published_inside_ci),
                        yes_no(row.within_tolerance),
                    ]
                })
                .collect(),
        });
    }

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
                        ci(c.ci),
                        fixed(c.z, 2),
                        p_value(c.p),
                    ]
                })
                .collect(),
        });
    }
    if let Some(sweep) = &r.seed_sweep {
        out.push(seed_sweep_table(sweep));
    }
    if let Some(t) = patch_level_table(r) {
        out.push(t);
    }
    out.extend(super::studies::tables(r));
    out.extend(super::operating_point::tables(r));
    out.extend(super::benchmark::tables(r));
    out
}

/// The spread of each model's metrics across the seeds of a seed sweep.
fn seed_sweep_table(sweep: &super::SeedSweep) -> Table {
    let seeds: Vec<String> = sweep.seeds.iter().map(u64::to_string).collect();
    Table {
        title: "Seed sweep".into(),
        caption: format!(
            "The whole experiment re-run with each of the seeds {} (its own split and model \
             streams); pooled out-of-fold metrics of repeat 0 across seeds. The tables above \
             are the single-seed result of `seed`. SD is the sample SD (n − 1).",
            seeds.join(", ")
        ),
        header: strings(&["model", "metric", "seeds", "mean", "SD", "min", "max"]),
        numeric: vec![false, false, true, true, true, true, true],
        rows: sweep
            .summary
            .iter()
            .map(|s| {
                vec![
                    s.model.clone(),
                    s.metric.replace('_', " "),
                    s.n.to_string(),
                    fixed(s.mean, 3),
                    fixed(s.sd, 3),
                    fixed(s.min, 3),
                    fixed(s.max, 3),
                ]
            })
            .collect(),
    }
}

/// Patch-level beside patient-level AUC, for the models that score patches (CNNs on slices).
fn patch_level_table(r: &Report) -> Option<Table> {
    let rows: Vec<Vec<String>> = r
        .models
        .iter()
        .filter_map(|m| {
            let p = m.patch_level.as_ref()?;
            Some(vec![
                m.id.clone(),
                p.n_patches.to_string(),
                fixed(p.auc, 3),
                p.auc_ci_delong.map(ci).unwrap_or_else(|| "—".into()),
                p.one_vs_rest_auc
                    .as_ref()
                    .map(|a| {
                        a.iter()
                            .map(|x| fixed(*x, 3))
                            .collect::<Vec<_>>()
                            .join(" / ")
                    })
                    .unwrap_or_else(|| "—".into()),
                m.n_cases.to_string(),
                fixed(m.auc, 3),
            ])
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    Some(Table {
        title: "Patch-level and patient-level AUC".into(),
        caption: "Every patch (slice) scored by the CNN carries its case's label; patient-level \
                  scores aggregate the patches. Patches of one case are correlated, so the \
                  patch-level DeLong interval (patches taken as independent) is too narrow."
            .into(),
        header: strings(&[
            "model",
            "patches",
            "patch AUC",
            "patch CI",
            "patch one-vs-rest AUCs",
            "patients",
            "patient AUC",
        ]),
        numeric: vec![false, true, true, false, false, true, true],
        rows,
    })
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
