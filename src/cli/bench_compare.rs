//! `radbench bench-compare OLD NEW`: compare two saved criterion baselines and flag only the
//! changes that stand out of the machine's noise.
//!
//! Criterion stores each baseline as `<criterion-dir>/<bench path>/<baseline>/estimates.json`
//! (with `benchmark.json` naming the bench's full id). For every benchmark present in both
//! baselines this prints the old and new median time per iteration and the change, and
//! classifies it:
//!
//! * **regressed** / **improved** — the change exceeds the noise threshold *and* the two medians'
//!   95 % confidence intervals do not overlap;
//! * **within noise** — otherwise.
//!
//! The noise threshold is per machine: compare two baselines saved from the *same* build
//! (`cargo bench -- --save-baseline aa1`, again with `aa2`, then `radbench bench-compare aa1 aa2`);
//! the footer prints the largest change seen, which is the machine's noise. Pass it with
//! `--threshold` (default 5 %). Why both tests: a wide CI alone misses slow drifts on quiet
//! machines, a fixed threshold alone flags noise on busy ones.

use crate::Error;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Arguments of `radbench bench-compare`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchCompareArgs {
    /// The old baseline's name (as given to `--save-baseline`).
    pub old: String,
    /// The new baseline's name.
    pub new: String,
    /// Criterion's output folder.
    #[arg(long, default_value = "target/criterion")]
    pub criterion_dir: PathBuf,
    /// Relative change (in percent) below which nothing is flagged: the machine's measured noise.
    #[arg(long, default_value_t = 5.0)]
    pub threshold: f64,
    /// Exit with code 1 when any benchmark regressed.
    #[arg(long)]
    pub fail_on_regression: bool,
}

/// A median time per iteration with its confidence interval, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// Point estimate of the median.
    pub median: f64,
    /// Lower bound of its confidence interval.
    pub lower: f64,
    /// Upper bound of its confidence interval.
    pub upper: f64,
}

/// How one benchmark changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Slower beyond noise.
    Regressed,
    /// Faster beyond noise.
    Improved,
    /// Not distinguishable from noise.
    WithinNoise,
}

/// One benchmark present in both baselines.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// Criterion's full benchmark id (`delong/auc_ci/10000`).
    pub id: String,
    /// The old baseline's estimate.
    pub old: Estimate,
    /// The new baseline's estimate.
    pub new: Estimate,
    /// `new / old − 1`.
    pub change: f64,
    /// The classification.
    pub verdict: Verdict,
}

/// Classifies a change: beyond `threshold` (a fraction) and with disjoint CIs.
pub fn classify(old: Estimate, new: Estimate, threshold: f64) -> (f64, Verdict) {
    let change = new.median / old.median - 1.0;
    let disjoint = new.lower > old.upper || new.upper < old.lower;
    let verdict = if change.abs() <= threshold || !disjoint {
        Verdict::WithinNoise
    } else if change > 0.0 {
        Verdict::Regressed
    } else {
        Verdict::Improved
    };
    (change, verdict)
}

fn read_json(path: &Path) -> Result<Value, Error> {
    let bytes =
        std::fs::read(path).map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Usage(format!("{}: {e}", path.display())))
}

fn estimate(path: &Path) -> Result<Estimate, Error> {
    let json = read_json(path)?;
    let median = &json["median"];
    let number = |v: &Value, what: &str| {
        v.as_f64()
            .ok_or_else(|| Error::Usage(format!("{}: no number at median.{what}", path.display())))
    };
    Ok(Estimate {
        median: number(&median["point_estimate"], "point_estimate")?,
        lower: number(&median["confidence_interval"]["lower_bound"], "lower_bound")?,
        upper: number(&median["confidence_interval"]["upper_bound"], "upper_bound")?,
    })
}

/// Every benchmark saved under `baseline`, by full id (sorted, so output order is stable).
pub fn baseline_estimates(dir: &Path, baseline: &str) -> Result<BTreeMap<String, Estimate>, Error> {
    let mut found = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        let entries = std::fs::read_dir(&folder)
            .map_err(|e| Error::Usage(format!("{}: {e}", folder.display())))?;
        for entry in entries {
            let path = entry
                .map_err(|e| Error::Usage(format!("{}: {e}", folder.display())))?
                .path();
            if !path.is_dir() {
                continue;
            }
            let estimates = path.join("estimates.json");
            if path.file_name().and_then(|n| n.to_str()) == Some(baseline) && estimates.is_file() {
                let meta = read_json(&path.join("benchmark.json"))?;
                let id = meta["full_id"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| {
                        folder
                            .strip_prefix(dir)
                            .unwrap_or(&folder)
                            .display()
                            .to_string()
                    });
                found.insert(id, estimate(&estimates)?);
            } else {
                stack.push(path);
            }
        }
    }
    Ok(found)
}

/// Compares two baselines; benchmarks in only one of them are listed separately.
pub fn compare(
    old: &BTreeMap<String, Estimate>,
    new: &BTreeMap<String, Estimate>,
    threshold: f64,
) -> (Vec<Comparison>, Vec<String>) {
    let mut rows = Vec::new();
    let mut unmatched = Vec::new();
    for (id, &o) in old {
        match new.get(id) {
            Some(&n) => {
                let (change, verdict) = classify(o, n, threshold);
                rows.push(Comparison {
                    id: id.clone(),
                    old: o,
                    new: n,
                    change,
                    verdict,
                });
            }
            None => unmatched.push(format!("{id} (only in the old baseline)")),
        }
    }
    for id in new.keys().filter(|id| !old.contains_key(*id)) {
        unmatched.push(format!("{id} (only in the new baseline)"));
    }
    (rows, unmatched)
}

fn time(ns: f64) -> String {
    match ns {
        x if x >= 1e9 => format!("{:.3} s", x / 1e9),
        x if x >= 1e6 => format!("{:.3} ms", x / 1e6),
        x if x >= 1e3 => format!("{:.3} µs", x / 1e3),
        x => format!("{x:.1} ns"),
    }
}

/// The Markdown table, with a footer giving the largest change (the noise, in an A/A run).
pub fn render(rows: &[Comparison], unmatched: &[String], threshold: f64) -> String {
    let mut out = String::from("| benchmark | old median | new median | change | verdict |\n");
    out.push_str("|---|---:|---:|---:|---|\n");
    for r in rows {
        let verdict = match r.verdict {
            Verdict::Regressed => "**regressed**",
            Verdict::Improved => "**improved**",
            Verdict::WithinNoise => "within noise",
        };
        out.push_str(&format!(
            "| {} | {} | {} | {:+.1} % | {} |\n",
            r.id,
            time(r.old.median),
            time(r.new.median),
            100.0 * r.change,
            verdict
        ));
    }
    let largest = rows.iter().map(|r| r.change.abs()).fold(0.0, f64::max);
    let flagged = rows
        .iter()
        .filter(|r| r.verdict != Verdict::WithinNoise)
        .count();
    out.push_str(&format!(
        "\n{} benchmark(s) compared, {flagged} flagged beyond ±{:.1} % with disjoint 95 % CIs; \
         largest change {:.1} %.\n",
        rows.len(),
        100.0 * threshold,
        100.0 * largest
    ));
    for u in unmatched {
        out.push_str(&format!("- not compared: {u}\n"));
    }
    out
}

/// Runs `radbench bench-compare`.
pub fn run(args: &BenchCompareArgs) -> Result<(), Error> {
    if !(args.threshold >= 0.0 && args.threshold.is_finite()) {
        return Err(Error::Usage(format!(
            "--threshold must be a non-negative percentage, got {}",
            args.threshold
        )));
    }
    let old = baseline_estimates(&args.criterion_dir, &args.old)?;
    let new = baseline_estimates(&args.criterion_dir, &args.new)?;
    for (name, found) in [(&args.old, &old), (&args.new, &new)] {
        if found.is_empty() {
            return Err(Error::Usage(format!(
                "no benchmark saved under baseline `{name}` in {} (save one with `cargo bench -- \
                 --save-baseline {name}`)",
                args.criterion_dir.display()
            )));
        }
    }
    let threshold = args.threshold / 100.0;
    let (rows, unmatched) = compare(&old, &new, threshold);
    print!("{}", render(&rows, &unmatched, threshold));
    let regressed = rows
        .iter()
        .filter(|r| r.verdict == Verdict::Regressed)
        .count();
    if args.fail_on_regression && regressed > 0 {
        return Err(Error::BenchRegressed(regressed));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est(median: f64, half_width: f64) -> Estimate {
        Estimate {
            median,
            lower: median - half_width,
            upper: median + half_width,
        }
    }

    #[test]
    fn flags_only_changes_beyond_threshold_with_disjoint_intervals() {
        let base = est(100.0, 1.0);
        assert_eq!(classify(base, est(120.0, 1.0), 0.05).1, Verdict::Regressed);
        assert_eq!(classify(base, est(80.0, 1.0), 0.05).1, Verdict::Improved);
        // Large change but overlapping intervals: noise.
        assert_eq!(
            classify(base, est(120.0, 25.0), 0.05).1,
            Verdict::WithinNoise
        );
        // Disjoint intervals but under the machine's threshold: noise.
        assert_eq!(
            classify(base, est(103.0, 0.5), 0.05).1,
            Verdict::WithinNoise
        );
        assert_eq!(classify(base, base, 0.0).1, Verdict::WithinNoise);
    }

    fn write_baseline(root: &Path, path: &str, id: &str, baseline: &str, median: f64) {
        let dir = root.join(path).join(baseline);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("benchmark.json"),
            format!(r#"{{"group_id":"g","full_id":"{id}"}}"#),
        )
        .unwrap();
        std::fs::write(
            dir.join("estimates.json"),
            format!(
                r#"{{"median":{{"point_estimate":{median},"standard_error":1.0,
                "confidence_interval":{{"confidence_level":0.95,"lower_bound":{},"upper_bound":{}}}}}}}"#,
                median * 0.99,
                median * 1.01
            ),
        )
        .unwrap();
    }

    #[test]
    fn reads_criterion_folders_and_reports_a_slowdown() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write_baseline(
            root,
            "delong/auc_ci/10000",
            "delong/auc_ci/10000",
            "v1",
            1.0e6,
        );
        write_baseline(
            root,
            "delong/auc_ci/10000",
            "delong/auc_ci/10000",
            "v2",
            1.5e6,
        );
        write_baseline(root, "extraction/brain1", "extraction/brain1", "v1", 2.0e7);
        write_baseline(root, "extraction/brain1", "extraction/brain1", "v2", 2.01e7);
        write_baseline(root, "only_new", "only_new", "v2", 5.0);
        let old = baseline_estimates(root, "v1").unwrap();
        let new = baseline_estimates(root, "v2").unwrap();
        let (rows, unmatched) = compare(&old, &new, 0.05);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].id, "delong/auc_ci/10000");
        assert_eq!(rows[0].verdict, Verdict::Regressed);
        assert_eq!(rows[1].verdict, Verdict::WithinNoise);
        assert_eq!(
            unmatched,
            vec!["only_new (only in the new baseline)".to_string()]
        );
        let table = render(&rows, &unmatched, 0.05);
        assert!(
            table.contains(
                "| delong/auc_ci/10000 | 1.000 ms | 1.500 ms | +50.0 % | **regressed** |"
            )
        );
        assert!(table.contains("largest change 50.0 %"));
    }

    #[test]
    fn a_missing_baseline_is_a_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        write_baseline(tmp.path(), "a", "a", "v1", 1.0);
        let args = BenchCompareArgs {
            old: "v1".into(),
            new: "nope".into(),
            criterion_dir: tmp.path().to_path_buf(),
            threshold: 5.0,
            fail_on_regression: false,
        };
        let e = run(&args).unwrap_err().to_string();
        assert!(
            e.contains("no benchmark saved under baseline `nope`"),
            "{e}"
        );
    }
}
