//! `radbench stats survival`: Kaplan–Meier medians with CIs per group, and the log-rank test.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Format, StatsError, SurvivalArgs, TextTable, to_json};
use crate::eval::bootstrap::quantile_type7;
use crate::eval::survival::{kaplan_meier, logrank_test};

/// One group's Kaplan–Meier summary.
#[derive(Debug, Serialize)]
pub(crate) struct GroupSummary {
    pub n: usize,
    pub events: usize,
    /// Median survival; null when the curve never reaches 0.5.
    pub median: f64,
    /// CI of the median (null bound: not reached).
    pub median_ci: [f64; 2],
}

/// Log-rank result.
#[derive(Debug, Serialize)]
pub(crate) struct LogRankSummary {
    pub chi2: f64,
    pub df: usize,
    pub p: f64,
}

/// The survival report.
#[derive(Debug, Serialize)]
pub(crate) struct SurvivalReport {
    pub n: usize,
    pub events: usize,
    pub level: f64,
    pub grouping: String,
    pub groups: BTreeMap<String, GroupSummary>,
    pub logrank: Option<LogRankSummary>,
}

fn parse_event(column: &str, row: usize, value: &str) -> Result<bool, StatsError> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "1.0" | "true" | "yes" | "event" | "dead" => Ok(true),
        "0" | "0.0" | "false" | "no" | "censored" | "censor" | "alive" => Ok(false),
        _ => Err(StatsError::NotANumber {
            column: column.to_string(),
            row,
            value: value.to_string(),
        }),
    }
}

pub(super) fn render(args: &SurvivalArgs) -> Result<String, StatsError> {
    if !(args.level > 0.0 && args.level < 1.0) {
        return Err(StatsError::BadOption {
            option: "--level",
            message: format!("{} is not in (0, 1)", args.level),
        });
    }
    let table = TextTable::read(&args.input)?;
    let times = table.numbers(&args.time)?;
    if let Some(r) = times.iter().position(|&t| t < 0.0) {
        return Err(StatsError::NegativeTime {
            column: args.time.clone(),
            row: r + 1,
            value: times[r],
        });
    }
    let events: Vec<bool> = table
        .text(&args.event)?
        .iter()
        .enumerate()
        .map(|(r, v)| parse_event(&args.event, r + 1, v))
        .collect::<Result<_, _>>()?;
    let (names, grouping): (Vec<String>, String) = match (&args.group, &args.split_at) {
        (None, None) => (vec!["all".to_string(); times.len()], "none".to_string()),
        (None, Some(_)) => {
            return Err(StatsError::BadOption {
                option: "--split-at",
                message: "needs --group COLUMN".into(),
            });
        }
        (Some(g), None) => (table.text(g)?, format!("column {g}")),
        (Some(g), Some(at)) => {
            let values = table.numbers(g)?;
            let cut = if at == "median" {
                let mut sorted = values.clone();
                sorted.sort_unstable_by(f64::total_cmp);
                quantile_type7(&sorted, 0.5)
            } else {
                at.parse().map_err(|_| StatsError::BadOption {
                    option: "--split-at",
                    message: format!("{at:?} is neither \"median\" nor a number"),
                })?
            };
            let label = |v: f64| {
                if v > cut {
                    format!("{g} > {cut}")
                } else {
                    format!("{g} <= {cut}")
                }
            };
            (
                values.iter().map(|&v| label(v)).collect(),
                format!("column {g} split at {cut}"),
            )
        }
    };
    let mut levels: Vec<String> = names.clone();
    levels.sort_unstable();
    levels.dedup();
    let group_index: Vec<usize> = names
        .iter()
        .map(|n| levels.binary_search(n).unwrap_or_default())
        .collect();
    let mut groups = BTreeMap::new();
    for (k, level_name) in levels.iter().enumerate() {
        let (t, e): (Vec<f64>, Vec<bool>) = (0..times.len())
            .filter(|&i| group_index[i] == k)
            .map(|i| (times[i], events[i]))
            .unzip();
        let km = kaplan_meier(&t, &e, args.level)
            .map_err(StatsError::eval(format!("group {level_name:?}")))?;
        let median = km.median();
        groups.insert(
            level_name.clone(),
            GroupSummary {
                n: t.len(),
                events: e.iter().filter(|&&x| x).count(),
                median: median.median,
                median_ci: median.ci,
            },
        );
    }
    let logrank = if levels.len() >= 2 {
        let lr = logrank_test(&times, &events, &group_index)
            .map_err(StatsError::eval("log-rank test"))?;
        Some(LogRankSummary {
            chi2: lr.chi2,
            df: lr.df,
            p: lr.p,
        })
    } else {
        None
    };
    let report = SurvivalReport {
        n: times.len(),
        events: events.iter().filter(|&&x| x).count(),
        level: args.level,
        grouping,
        groups,
        logrank,
    };
    Ok(match args.format {
        Format::Json => to_json(&report),
        Format::Md => super::markdown::survival(&report),
    })
}
