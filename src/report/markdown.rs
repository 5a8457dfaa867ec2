//! `report.md`: the paper-style tables a reviewer reads first.

use super::Report;
use super::tables::{Table, tables};
use std::fmt::Write;

fn render_table(s: &mut String, t: &Table) {
    // Writing to a String cannot fail.
    let _ = writeln!(s, "## {}\n\n{}\n", t.title, t.caption);
    let _ = writeln!(s, "| {} |", t.header.join(" | "));
    let aligns: Vec<&str> = t
        .numeric
        .iter()
        .map(|&n| if n { "---:" } else { "---" })
        .collect();
    let _ = writeln!(s, "|{}|", aligns.join("|"));
    for row in &t.rows {
        let _ = writeln!(s, "| {} |", row.join(" | "));
    }
    s.push('\n');
}

/// Renders the report as Markdown.
pub fn render_markdown(r: &Report) -> String {
    let mut s = String::new();
    let name = r.experiment["name"].as_str().unwrap_or("experiment");
    let _ = writeln!(s, "# {name}\n");
    if let Some(d) = r.experiment["description"].as_str() {
        let _ = writeln!(s, "{d}\n");
    }
    let _ = writeln!(
        s,
        "radbench {} · report version `{}` · seed {}\n",
        r.radbench_version, r.version, r.experiment["seed"]
    );
    for t in tables(r) {
        render_table(&mut s, &t);
    }
    let f = &r.features;
    let _ = writeln!(
        s,
        "## Radiomics\n\n{} features from classes {} (bin width {}), named as pyradiomics names them.\n",
        f.names.len(),
        f.classes.join(", "),
        f.bin_width
    );
    if !r.figures.is_empty() {
        let _ = writeln!(s, "## Figures\n");
        for name in &r.figures {
            let _ = writeln!(s, "![{name}](figures/{name})");
        }
        s.push('\n');
    }
    let _ = writeln!(s, "## Provenance\n\n| item | value |\n|---|---|");
    for (label, value) in r.provenance.rows() {
        let _ = writeln!(s, "| {label} | {} |", value.replace('|', "\\|"));
    }
    s.push('\n');
    let _ = writeln!(s, "## Reproducibility\n\n{}", r.seed_derivation);
    s
}
