//! Binary mode of `radbench stats`: one label with two values and one or more score columns.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{DirectionArg, Format, StatsArgs, StatsError, TextTable, parse_dca, to_json};
use crate::eval::bootstrap::{AucDifference, Aucs, BootstrapSpec, NetBenefitDifference, bootstrap};
use crate::eval::calibration::{
    Binning, brier_score, calibration_intercept_slope, expected_calibration_error,
    reliability_bins, scaled_brier_score,
};
use crate::eval::dca::{net_benefit_curve, treat_all_curve};
use crate::eval::delong::delong_auc;
use crate::eval::delong::delong_paired_test;
use crate::eval::roc::Direction;
use crate::eval::threshold::{ThresholdMetrics, average_precision, threshold_metrics};

/// One score column's statistics.
#[derive(Debug, Serialize)]
pub(crate) struct ScoreSummary {
    pub auc: f64,
    pub delong_variance: f64,
    pub auc_ci_delong: [f64; 2],
    pub auc_ci_bootstrap: Option<[f64; 2]>,
    pub auc_ci_bootstrap_bca: Option<[f64; 2]>,
    pub average_precision: f64,
    pub brier: Option<f64>,
    pub scaled_brier: Option<f64>,
    pub calibration_intercept: Option<f64>,
    pub calibration_slope: Option<f64>,
    pub expected_calibration_error: Option<f64>,
    pub threshold_metrics: Option<ThresholdMetrics>,
}

/// One pairwise comparison.
#[derive(Debug, Serialize)]
pub(crate) struct Comparison {
    pub a: String,
    pub b: String,
    pub method: &'static str,
    pub auc_difference: f64,
    pub ci: [f64; 2],
    pub z: f64,
    pub p: f64,
}

/// Net-benefit difference between two models with bootstrap CIs.
#[derive(Debug, Serialize)]
pub(crate) struct NetBenefitComparison {
    pub a: String,
    pub b: String,
    pub difference: Vec<f64>,
    pub ci_lower: Vec<f64>,
    pub ci_upper: Vec<f64>,
}

/// Decision curves.
#[derive(Debug, Serialize)]
pub(crate) struct DcaSummary {
    pub thresholds: Vec<f64>,
    pub treat_all: Vec<f64>,
    pub treat_none: Vec<f64>,
    pub models: BTreeMap<String, Vec<f64>>,
    pub standardized_net_benefit: BTreeMap<String, Vec<f64>>,
    pub net_interventions_avoided_per_100: BTreeMap<String, Vec<f64>>,
    pub differences: Vec<NetBenefitComparison>,
}

/// The whole binary report.
#[derive(Debug, Serialize)]
pub(crate) struct BinaryReport {
    pub n: usize,
    pub n_positive: usize,
    pub n_negative: usize,
    pub label: String,
    pub positive: String,
    pub direction: &'static str,
    pub level: f64,
    pub bootstrap: Option<BootstrapSpec>,
    pub scores: BTreeMap<String, ScoreSummary>,
    pub comparisons: Vec<Comparison>,
    pub dca: Option<DcaSummary>,
    pub warnings: Vec<String>,
}

/// Checks class sizes and constant scores, then computes everything.
pub(super) fn render(
    args: &StatsArgs,
    table: &TextTable,
    label: &str,
    labels: &[String],
) -> Result<String, StatsError> {
    let mut values: Vec<&str> = labels.iter().map(String::as_str).collect();
    values.sort_unstable();
    values.dedup();
    let positive = match &args.positive {
        Some(p) if values.contains(&p.as_str()) => p.clone(),
        given => {
            return Err(StatsError::Positive {
                column: label.to_string(),
                values: values.join(", "),
                given: given
                    .as_ref()
                    .map_or(String::new(), |g| format!(" (got {g:?})")),
            });
        }
    };
    let y: Vec<bool> = labels.iter().map(|l| *l == positive).collect();
    for class in &values {
        let count = labels.iter().filter(|l| l.as_str() == *class).count();
        if count < 2 {
            return Err(StatsError::TooFewPerClass {
                column: label.to_string(),
                class: class.to_string(),
                count,
            });
        }
    }
    let mut columns = Vec::with_capacity(args.scores.len());
    for name in &args.scores {
        let raw = table.numbers(name)?;
        if raw.iter().all(|&v| v == raw[0]) {
            return Err(StatsError::ConstantScore {
                column: name.clone(),
                value: raw[0],
            });
        }
        columns.push(raw);
    }
    let report = analyse(args, label, &positive, &y, &columns)?;
    Ok(match args.format {
        Format::Json => to_json(&report),
        Format::Md => super::markdown::binary(&report),
    })
}

fn is_probability(scores: &[f64]) -> bool {
    scores.iter().all(|s| (0.0..=1.0).contains(s))
}

fn analyse(
    args: &StatsArgs,
    label: &str,
    positive: &str,
    y: &[bool],
    raw: &[Vec<f64>],
) -> Result<BinaryReport, StatsError> {
    let level = args.level;
    let direction = match args.direction {
        DirectionArg::Higher => Direction::CasesHigher,
        DirectionArg::Lower => Direction::CasesLower,
    };
    // Ranking statistics use oriented scores; probability statistics the raw ones, and only
    // when higher means positive.
    let oriented: Vec<Vec<f64>> = raw.iter().map(|s| direction.orient(s)).collect();
    let probability: Vec<bool> = raw
        .iter()
        .map(|s| direction == Direction::CasesHigher && is_probability(s))
        .collect();
    let names = &args.scores;
    let spec = (args.bootstrap > 0).then_some(BootstrapSpec {
        replicates: args.bootstrap,
        seed: args.seed,
        stratified: true,
        level,
    });
    let mut warnings = Vec::new();
    let mut scores = BTreeMap::new();

    let boot_aucs = match &spec {
        Some(spec) => {
            let refs: Vec<&[f64]> = oriented.iter().map(Vec::as_slice).collect();
            let stat = Aucs::new(&refs, y).map_err(StatsError::eval("bootstrap"))?;
            Some(bootstrap(&stat, y, spec).map_err(StatsError::eval("bootstrap"))?)
        }
        None => None,
    };
    for (k, name) in names.iter().enumerate() {
        let ctx = || format!("score column {name:?}");
        let d = delong_auc(&oriented[k], y, level).map_err(StatsError::eval(ctx()))?;
        if d.auc < 0.5 {
            warnings.push(format!(
                "{name}: AUC {:.4} is below 0.5 (the score ranks controls above cases); check --direction",
                d.auc
            ));
        }
        let p = probability[k];
        let calibration = if p {
            calibration_intercept_slope(&raw[k], y).ok()
        } else {
            None
        };
        let ece = if p {
            let bins = reliability_bins(&raw[k], y, 10, Binning::EqualWidth)
                .map_err(StatsError::eval(ctx()))?;
            Some(expected_calibration_error(&bins))
        } else {
            None
        };
        let threshold = match args.threshold {
            Some(t) => Some(
                threshold_metrics(&raw[k], y, t, direction, level, Default::default())
                    .map_err(StatsError::eval(ctx()))?,
            ),
            None => None,
        };
        scores.insert(
            name.clone(),
            ScoreSummary {
                auc: d.auc,
                delong_variance: d.variance,
                auc_ci_delong: d.ci,
                auc_ci_bootstrap: boot_aucs.as_ref().map(|b| b.percentile[k]),
                auc_ci_bootstrap_bca: boot_aucs.as_ref().map(|b| b.bca[k]),
                average_precision: average_precision(&oriented[k], y)
                    .map_err(StatsError::eval(ctx()))?,
                brier: if p {
                    Some(brier_score(&raw[k], y).map_err(StatsError::eval(ctx()))?)
                } else {
                    None
                },
                scaled_brier: if p {
                    scaled_brier_score(&raw[k], y).ok()
                } else {
                    None
                },
                calibration_intercept: calibration.map(|c| c.intercept),
                calibration_slope: calibration.map(|c| c.slope),
                expected_calibration_error: ece,
                threshold_metrics: threshold,
            },
        );
    }

    let mut comparisons = Vec::new();
    for i in 0..names.len() {
        for j in i + 1..names.len() {
            let ctx = format!("comparison {} vs {}", names[i], names[j]);
            let t = delong_paired_test(&oriented[i], &oriented[j], y, level)
                .map_err(StatsError::eval(ctx.clone()))?;
            comparisons.push(Comparison {
                a: names[i].clone(),
                b: names[j].clone(),
                method: "delong-paired",
                auc_difference: t.difference,
                ci: t.ci,
                z: t.z,
                p: t.p,
            });
            if let Some(spec) = &spec {
                let stat = AucDifference::new(&oriented[i], &oriented[j], y)
                    .map_err(StatsError::eval(ctx.clone()))?;
                let b = bootstrap(&stat, y, spec).map_err(StatsError::eval(ctx))?;
                let (z, p) = if b.estimate[0] == 0.0 {
                    (0.0, 1.0)
                } else {
                    b.z_test(0)
                };
                comparisons.push(Comparison {
                    a: names[i].clone(),
                    b: names[j].clone(),
                    method: "bootstrap-paired",
                    auc_difference: b.estimate[0],
                    ci: b.percentile[0],
                    z,
                    p,
                });
            }
        }
    }

    let dca = match &args.dca {
        Some(grid) => Some(decision_curves(
            &parse_dca(grid)?,
            names,
            raw,
            &probability,
            y,
            spec.as_ref(),
            &mut warnings,
        )?),
        None => None,
    };
    Ok(BinaryReport {
        n: y.len(),
        n_positive: y.iter().filter(|&&v| v).count(),
        n_negative: y.iter().filter(|&&v| !v).count(),
        label: label.to_string(),
        positive: positive.to_string(),
        direction: match direction {
            Direction::CasesHigher => "higher",
            Direction::CasesLower => "lower",
        },
        level,
        bootstrap: spec,
        scores,
        comparisons,
        dca,
        warnings,
    })
}

fn decision_curves(
    thresholds: &[f64],
    names: &[String],
    raw: &[Vec<f64>],
    probability: &[bool],
    y: &[bool],
    spec: Option<&BootstrapSpec>,
    warnings: &mut Vec<String>,
) -> Result<DcaSummary, StatsError> {
    let all = treat_all_curve(y, thresholds).map_err(StatsError::eval("--dca"))?;
    let mut summary = DcaSummary {
        thresholds: thresholds.to_vec(),
        treat_all: all.net_benefit,
        treat_none: vec![0.0; thresholds.len()],
        models: BTreeMap::new(),
        standardized_net_benefit: BTreeMap::new(),
        net_interventions_avoided_per_100: BTreeMap::new(),
        differences: Vec::new(),
    };
    let usable: Vec<usize> = (0..names.len()).filter(|&k| probability[k]).collect();
    for k in (0..names.len()).filter(|k| !probability[*k]) {
        warnings.push(format!(
            "{}: left out of the decision curves (not a probability in [0, 1] pointing to the positive class)",
            names[k]
        ));
    }
    for &k in &usable {
        let c = net_benefit_curve(&raw[k], y, thresholds, 0.0)
            .map_err(StatsError::eval(format!("--dca {}", names[k])))?;
        summary.models.insert(names[k].clone(), c.net_benefit);
        summary
            .standardized_net_benefit
            .insert(names[k].clone(), c.standardized_net_benefit);
        summary
            .net_interventions_avoided_per_100
            .insert(names[k].clone(), c.net_interventions_avoided_per_100);
    }
    if let Some(spec) = spec {
        for (a, &i) in usable.iter().enumerate() {
            for &j in &usable[a + 1..] {
                let ctx = format!("--dca {} vs {}", names[i], names[j]);
                let stat = NetBenefitDifference::new(&raw[i], &raw[j], y, thresholds)
                    .map_err(StatsError::eval(ctx.clone()))?;
                let b = bootstrap(&stat, y, spec).map_err(StatsError::eval(ctx))?;
                summary.differences.push(NetBenefitComparison {
                    a: names[i].clone(),
                    b: names[j].clone(),
                    ci_lower: b.percentile.iter().map(|c| c[0]).collect(),
                    ci_upper: b.percentile.iter().map(|c| c[1]).collect(),
                    difference: b.estimate,
                });
            }
        }
    }
    Ok(summary)
}
