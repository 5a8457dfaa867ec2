//! `report.html`: one self-contained page (tables + inline SVG figures), no external assets.

use super::Report;
use super::tables::tables;
use std::fmt::Write;

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Inline `code` spans of a caption as `<code>`, the rest escaped.
fn caption_html(s: &str) -> String {
    s.split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                format!("<code>{}</code>", escape(part))
            } else {
                escape(part)
            }
        })
        .collect()
}

const STYLE: &str = "body{font-family:sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#222}\
table{border-collapse:collapse;margin:0.5rem 0 1.5rem}th,td{border-bottom:1px solid #ddd;padding:0.3rem 0.7rem}\
th{text-align:left;background:#f5f5f5}td.n{text-align:right;font-variant-numeric:tabular-nums}\
.figs{display:flex;flex-wrap:wrap;gap:1rem}code{background:#f3f3f3;padding:0 0.2rem}";

/// Renders the report as HTML; `figures` are (file name, SVG text) pairs embedded inline.
pub fn render_html(r: &Report, figures: &[(String, String)]) -> String {
    let mut s = String::new();
    let name = r.experiment["name"].as_str().unwrap_or("experiment");
    // Writing to a String cannot fail.
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{} — radbench</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(name),
        escape(name)
    );
    if let Some(d) = r.experiment["description"].as_str() {
        let _ = writeln!(s, "<p>{}</p>", escape(d));
    }
    let _ = writeln!(
        s,
        "<p>radbench {} · report version <code>{}</code> · seed {}</p>",
        escape(&r.radbench_version),
        escape(&r.version),
        r.experiment["seed"]
    );
    for t in tables(r) {
        let _ = writeln!(
            s,
            "<h2>{}</h2>\n<p>{}</p>\n<table>\n<tr>",
            escape(&t.title),
            caption_html(&t.caption)
        );
        for h in &t.header {
            let _ = write!(s, "<th>{}</th>", escape(h));
        }
        s.push_str("</tr>\n");
        for row in &t.rows {
            s.push_str("<tr>");
            for (j, cell) in row.iter().enumerate() {
                let class = if t.numeric.get(j).copied().unwrap_or(false) {
                    " class=\"n\""
                } else {
                    ""
                };
                let _ = write!(s, "<td{class}>{}</td>", escape(cell));
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</table>\n");
    }
    if !figures.is_empty() {
        s.push_str("<h2>Figures</h2>\n<div class=\"figs\">\n");
        for (file, svg) in figures {
            let _ = writeln!(
                s,
                "<figure>{svg}<figcaption><code>figures/{}</code></figcaption></figure>",
                escape(file)
            );
        }
        s.push_str("</div>\n");
    }
    let f = &r.features;
    let _ = writeln!(
        s,
        "<h2>Radiomics</h2>\n<p>{} features from classes {} (bin width {}), named as pyradiomics names them.</p>",
        f.names.len(),
        escape(&f.classes.join(", ")),
        f.bin_width
    );
    s.push_str("<h2>Provenance</h2>\n<table>\n");
    for (label, value) in r.provenance.rows() {
        let _ = writeln!(
            s,
            "<tr><th>{}</th><td><code>{}</code></td></tr>",
            escape(label),
            escape(&value)
        );
    }
    s.push_str("</table>\n");
    let _ = writeln!(
        s,
        "<h2>Reproducibility</h2>\n<p>{}</p>\n</body>\n</html>",
        escape(&r.seed_derivation)
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_code_spans() {
        assert_eq!(escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
        assert_eq!(caption_html("x `a<b` y"), "x <code>a&lt;b</code> y");
    }
}
