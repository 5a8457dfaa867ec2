//! Markdown rendering of the `radbench stats` reports (the same numbers as the JSON).

use std::fmt::Write;

use super::binary::BinaryReport;
use super::multiclass::MulticlassReport;
use super::survival::SurvivalReport;

fn f(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.4}")
    } else if x.is_nan() {
        "–".into()
    } else {
        "not reached".into()
    }
}

fn p(x: f64) -> String {
    if x < 1e-4 {
        format!("{x:.1e}")
    } else {
        format!("{x:.4}")
    }
}

fn ci(c: [f64; 2]) -> String {
    format!("{} – {}", f(c[0]), f(c[1]))
}

fn opt(x: Option<f64>) -> String {
    x.map_or("–".into(), f)
}

/// Binary report as tables.
pub(crate) fn binary(r: &BinaryReport) -> String {
    let pct = r.level * 100.0;
    let mut s = String::new();
    let _ = writeln!(s, "# radbench stats\n");
    let _ = writeln!(
        s,
        "n = {} ({} positive = {:?} in column {:?}, {} negative); higher score = {}.\n",
        r.n,
        r.n_positive,
        r.positive,
        r.label,
        r.n_negative,
        if r.direction == "higher" {
            "positive"
        } else {
            "negative"
        }
    );
    let _ = writeln!(
        s,
        "| score | AUC | {pct}% CI (DeLong) | {pct}% CI (bootstrap) | AP | Brier |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for (name, x) in &r.scores {
        let boot = x.auc_ci_bootstrap.map_or("–".into(), ci);
        let _ = writeln!(
            s,
            "| {name} | {} | {} | {boot} | {} | {} |",
            f(x.auc),
            ci(x.auc_ci_delong),
            f(x.average_precision),
            opt(x.brier)
        );
    }
    if !r.comparisons.is_empty() {
        let _ = writeln!(
            s,
            "\n| a | b | method | AUC difference | {pct}% CI | z | p |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|---|");
        for c in &r.comparisons {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {:.3} | {} |",
                c.a,
                c.b,
                c.method,
                f(c.auc_difference),
                ci(c.ci),
                c.z,
                p(c.p)
            );
        }
    }
    if let Some(d) = &r.dca {
        let names: Vec<&String> = d.models.keys().collect();
        let _ = write!(s, "\nNet benefit\n\n| threshold | treat all |");
        for n in &names {
            let _ = write!(s, " {n} |");
        }
        let _ = write!(s, "\n|---|---|{}\n", "---|".repeat(names.len()));
        for (k, t) in d.thresholds.iter().enumerate() {
            let _ = write!(s, "| {t} | {} |", f(d.treat_all[k]));
            for n in &names {
                let _ = write!(s, " {} |", f(d.models[*n][k]));
            }
            s.push('\n');
        }
    }
    for w in &r.warnings {
        let _ = writeln!(s, "\n> warning: {w}");
    }
    s
}

/// Multi-class report as tables.
pub(crate) fn multiclass(r: &MulticlassReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# radbench stats (multi-class)\n\nn = {}, label {:?}; {}\n",
        r.n, r.label, r.method
    );
    let _ = writeln!(
        s,
        "| class | column | n | AUC (one-vs-rest) | {}% CI (DeLong) |",
        r.level * 100.0
    );
    let _ = writeln!(s, "|---|---|---|---|---|");
    for c in &r.classes {
        let x = &r.per_class[c];
        let _ = writeln!(
            s,
            "| {c} | {} | {} | {} | {} |",
            x.column,
            x.n,
            f(x.auc),
            ci(x.auc_ci_delong)
        );
    }
    let _ = writeln!(
        s,
        "\nmacro AUC {}, weighted AUC {}, Hand–Till M {}, accuracy {} ({})",
        f(r.macro_auc),
        f(r.weighted_auc),
        f(r.hand_till_m),
        f(r.accuracy),
        ci(r.accuracy_ci)
    );
    let _ = write!(s, "\n| true \\ predicted |");
    for c in &r.classes {
        let _ = write!(s, " {c} |");
    }
    let _ = write!(s, "\n|---|{}\n", "---|".repeat(r.classes.len()));
    for (c, row) in r.classes.iter().zip(&r.confusion_matrix) {
        let _ = write!(s, "| {c} |");
        for v in row {
            let _ = write!(s, " {v} |");
        }
        s.push('\n');
    }
    s
}

/// Survival report as tables.
pub(crate) fn survival(r: &SurvivalReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# radbench stats survival\n\nn = {}, events = {}; groups: {}\n",
        r.n, r.events, r.grouping
    );
    let _ = writeln!(
        s,
        "| group | n | events | median | {}% CI |",
        r.level * 100.0
    );
    let _ = writeln!(s, "|---|---|---|---|---|");
    for (g, x) in &r.groups {
        let _ = writeln!(
            s,
            "| {g} | {} | {} | {} | {} |",
            x.n,
            x.events,
            f(x.median),
            ci(x.median_ci)
        );
    }
    if let Some(lr) = &r.logrank {
        let _ = writeln!(
            s,
            "\nlog-rank χ² = {:.4}, df = {}, p = {}",
            lr.chi2,
            lr.df,
            p(lr.p)
        );
    }
    s
}
