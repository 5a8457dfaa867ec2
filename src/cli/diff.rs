//! `radbench diff REPORT_A REPORT_B`: every metric of `report.json` that changed, as Markdown.
//!
//! Both reports are flattened into `path → value` leaves (`models[0].auc`,
//! `models[0].binary.operating_point.sensitivity.value`, ...); numbers are compared exactly
//! (a reproducible report has no noise), anything else as text. Added and removed leaves are
//! changes too.

use crate::Error;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Arguments of `radbench diff`.
#[derive(Debug, Clone, clap::Args)]
pub struct DiffArgs {
    /// First report: its folder or its `report.json`.
    pub a: PathBuf,
    /// Second report: its folder or its `report.json`.
    pub b: PathBuf,
    /// Exit with code 1 when anything changed.
    #[arg(long)]
    pub fail_on_change: bool,
}

fn load(path: &Path) -> Result<Value, Error> {
    let file = if path.is_dir() {
        path.join("report.json")
    } else {
        path.to_path_buf()
    };
    let bytes =
        std::fs::read(&file).map_err(|e| Error::Usage(format!("{}: {e}", file.display())))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Usage(format!("{}: {e}", file.display())))
}

/// Flattens JSON into leaves keyed by their path.
pub fn flatten(value: &Value, prefix: &str, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(v, &path, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(v, &format!("{prefix}[{i}]"), out);
            }
        }
        leaf => {
            out.insert(prefix.to_string(), leaf.clone());
        }
    }
}

/// One changed leaf.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Leaf path.
    pub path: String,
    /// Value in A (None: absent).
    pub a: Option<Value>,
    /// Value in B (None: absent).
    pub b: Option<Value>,
}

/// Every leaf that differs between two reports, in path order.
pub fn changes(a: &Value, b: &Value) -> Vec<Change> {
    let (mut fa, mut fb) = (BTreeMap::new(), BTreeMap::new());
    flatten(a, "", &mut fa);
    flatten(b, "", &mut fb);
    let mut paths: Vec<&String> = fa.keys().chain(fb.keys()).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter(|p| fa.get(*p) != fb.get(*p))
        .map(|p| Change {
            path: p.clone(),
            a: fa.get(p).cloned(),
            b: fb.get(p).cloned(),
        })
        .collect()
}

fn show(v: &Option<Value>) -> String {
    match v {
        None => "(absent)".into(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

/// Renders the changes as a Markdown table.
pub fn render(changes: &[Change]) -> String {
    if changes.is_empty() {
        return "No metric changed.\n".into();
    }
    let mut s = format!(
        "{} value(s) changed.\n\n| metric | A | B | change |\n|---|---:|---:|---:|\n",
        changes.len()
    );
    for c in changes {
        let delta = match (&c.a, &c.b) {
            (Some(Value::Number(x)), Some(Value::Number(y))) => match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => format!("{:+.6}", y - x),
                _ => String::new(),
            },
            _ => String::new(),
        };
        s.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            c.path,
            show(&c.a),
            show(&c.b),
            delta
        ));
    }
    s
}

/// Runs `radbench diff`.
pub fn run(args: &DiffArgs) -> Result<(), Error> {
    let found = changes(&load(&args.a)?, &load(&args.b)?);
    print!("{}", render(&found));
    if args.fail_on_change && !found.is_empty() {
        return Err(Error::ReportsDiffer(found.len()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_changed_added_and_removed_leaves() {
        let a = json!({"models": [{"id": "m", "auc": 0.8}], "x": 1});
        let b = json!({"models": [{"id": "m", "auc": 0.75}], "y": 2});
        let c = changes(&a, &b);
        let paths: Vec<&str> = c.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["models[0].auc", "x", "y"]);
        let md = render(&c);
        assert!(
            md.contains("| `models[0].auc` | 0.8 | 0.75 | -0.050000 |"),
            "{md}"
        );
        assert!(changes(&a, &a).is_empty());
    }
}
