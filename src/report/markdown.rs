//! `report.md`: the paper-style tables a reviewer reads first.

use super::Report;
use std::fmt::Write;

/// Formats a number with `digits` decimals, or `—` when it is not finite.
fn fixed(x: f64, digits: usize) -> String {
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

/// Renders the report as Markdown.
pub fn render_markdown(r: &Report) -> String {
    let mut s = String::new();
    let name = r.experiment["name"].as_str().unwrap_or("experiment");
    let level = r.models.first().map(|m| m.ci_level).unwrap_or(0.95) * 100.0;
    // Writing to a String cannot fail.
    let _ = writeln!(s, "# {name}\n");
    if let Some(d) = r.experiment["description"].as_str() {
        let _ = writeln!(s, "{d}\n");
    }
    let _ = writeln!(
        s,
        "radbench {} · report version `{}` · seed {}\n",
        r.radbench_version, r.version, r.experiment["seed"]
    );

    let c = &r.cohort;
    let _ = writeln!(s, "## Cohort\n");
    let _ = writeln!(
        s,
        "Manifest `{}` (fingerprint `{}`), label `{}`: {} cases from {} patients, {} positive, {} negative.\n",
        c.manifest,
        &c.fingerprint[..c.fingerprint.len().min(16)],
        c.label,
        c.n_cases,
        c.n_patients,
        c.n_positive,
        c.n_negative
    );
    let _ = writeln!(s, "| site | cases | positive |\n|---|---:|---:|");
    for (site, n) in &c.sites {
        let _ = writeln!(s, "| {site} | {} | {} |", n.n_cases, n.n_positive);
    }

    let split = &r.experiment["split"];
    let _ = writeln!(
        s,
        "\n## Discrimination (out-of-fold, {} × {}-fold {}, grouped by patient)\n",
        split["repeats"], split["folds"], split["kind"].as_str().unwrap_or("")
    );
    let _ = writeln!(
        s,
        "| model | kind | AUC | {level:.0}% CI (DeLong) | n cases | n positive | published AUC |"
    );
    let _ = writeln!(s, "|---|---|---:|---|---:|---:|---:|");
    for m in &r.models {
        let published = m.published_auc.map(|p| fixed(p, 3)).unwrap_or_else(|| "—".into());
        let _ = writeln!(
            s,
            "| {} | {} | {} | {}–{} | {} | {} | {} |",
            m.id,
            m.kind,
            fixed(m.auc, 3),
            fixed(m.auc_ci_delong[0], 3),
            fixed(m.auc_ci_delong[1], 3),
            m.n_cases,
            m.n_positive,
            published
        );
    }
    let _ = writeln!(s, "\nAUC per fold (repeat 0):\n");
    for m in &r.models {
        let folds: Vec<String> = m
            .fold_auc
            .iter()
            .map(|a| a.map(|a| fixed(a, 3)).unwrap_or_else(|| "—".into()))
            .collect();
        let _ = writeln!(s, "- {}: {}", m.id, folds.join(", "));
    }

    if !r.comparisons.is_empty() {
        let _ = writeln!(s, "\n## Paired comparisons\n");
        let _ = writeln!(
            s,
            "| A | B | method | AUC A | AUC B | difference | {level:.0}% CI | z | p |"
        );
        let _ = writeln!(s, "|---|---|---|---:|---:|---:|---|---:|---:|");
        for c in &r.comparisons {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {}–{} | {} | {} |",
                c.a,
                c.b,
                c.method,
                fixed(c.auc_a, 3),
                fixed(c.auc_b, 3),
                fixed(c.auc_difference, 3),
                fixed(c.ci[0], 3),
                fixed(c.ci[1], 3),
                fixed(c.z, 2),
                p_value(c.p)
            );
        }
    }

    let f = &r.features;
    let _ = writeln!(
        s,
        "\n## Radiomics\n\n{} features from classes {} (bin width {}), names as pyradiomics.\n",
        f.names.len(),
        f.classes.join(", "),
        f.bin_width
    );
    let _ = writeln!(s, "## Reproducibility\n\n{}", r.seed_derivation);
    s
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
