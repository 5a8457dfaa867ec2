//! Report sections of the segmentation and survival studies: per-segmenter quality (Dice,
//! volumes, quality control) and Kaplan–Meier survival by high vs low volume, with their
//! tables (shared by `report.md` and `report.html`).

use super::Report;
use super::tables::{Table, fixed, p_value};
use crate::eval::survival::{KaplanMeier, LogRank, MedianSurvival};
use crate::eval::threshold::Proportion;
use serde::Serialize;

/// One test case of a segmenter (repeat 0).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentedCase {
    /// Case id.
    pub case: String,
    /// The part (fold) in which the case was tested.
    pub fold: usize,
    /// Dice of the predicted with the reference mask.
    pub dice: f64,
    /// Predicted volume (mL).
    pub predicted_ml: f64,
    /// Reference volume (mL).
    pub reference_ml: f64,
    /// Dice below the quality threshold, or an empty prediction.
    pub qc_fail: bool,
}

/// Out-of-fold quality of one segmenter: every case predicted by the U-Net trained on the
/// other parts (repeat 0).
#[derive(Debug, Clone, Serialize)]
pub struct SegmentationResult {
    /// Segmenter id.
    pub id: String,
    /// Mean Dice over the test cases.
    pub dice_mean: f64,
    /// Standard deviation of the Dice.
    pub dice_sd: f64,
    /// Median Dice.
    pub dice_median: f64,
    /// Dice below which a case fails quality control.
    pub qc_min_dice: f64,
    /// Cases failing quality control, with a Wilson CI of the rate.
    pub qc_failure: Proportion,
    /// Mean predicted volume (mL).
    pub mean_predicted_ml: f64,
    /// Mean reference volume (mL).
    pub mean_reference_ml: f64,
    /// Bland–Altman: mean of predicted − reference (mL).
    pub volume_bias_ml: f64,
    /// Bland–Altman 95 % limits of agreement (bias ± 1.96 SD of the differences, mL).
    pub volume_limits_ml: [f64; 2],
    /// Pearson correlation of predicted with reference volume.
    pub volume_correlation: f64,
    /// Median predicted volume of each part's training cases (mL), the survival threshold.
    pub fold_train_median_ml: Vec<f64>,
    /// Epochs trained in each part (repeat 0).
    pub fold_epochs: Vec<usize>,
    /// Every test case, in cohort order.
    pub cases: Vec<SegmentedCase>,
}

/// Name of the group at or below its part's median volume.
pub const LOW: &str = "low volume";
/// Name of the group above its part's median volume.
pub const HIGH: &str = "high volume";

/// One survival group.
#[derive(Debug, Clone, Serialize)]
pub struct SurvivalGroup {
    /// `low volume` or `high volume`.
    pub name: String,
    /// Number of cases.
    pub n: usize,
    /// Number of events.
    pub events: usize,
    /// Median survival with its CI.
    pub median: MedianSurvival,
    /// The Kaplan–Meier curve.
    pub km: KaplanMeier,
}

/// Kaplan–Meier survival of the test cases split into low and high volume.
#[derive(Debug, Clone, Serialize)]
pub struct SurvivalResult {
    /// What defined the groups (`predicted-volume:<id>` or `reference-volume`).
    pub group_by: String,
    /// Unit of the times.
    pub time_unit: String,
    /// The volume threshold of each part (mL): the median of its training cases.
    pub fold_thresholds_ml: Vec<f64>,
    /// Low-volume group first, then high-volume (a group without cases is left out).
    pub groups: Vec<SurvivalGroup>,
    /// Log-rank test of high vs low; `null` when one group is empty.
    pub logrank: Option<LogRank>,
    /// Confidence level of the curves and medians.
    pub ci_level: f64,
}

/// Number at risk at time `t` (observed time ≥ t) from a Kaplan–Meier table.
pub fn at_risk_at(km: &KaplanMeier, t: f64) -> usize {
    km.times
        .iter()
        .zip(km.events.iter().zip(&km.censored))
        .filter(|(time, _)| **time >= t)
        .map(|(_, (e, c))| e + c)
        .sum()
}

fn median_text(m: &MedianSurvival) -> String {
    format!(
        "{} ({}–{})",
        fixed(m.median, 1),
        fixed(m.ci[0], 1),
        fixed(m.ci[1], 1)
    )
}

/// The study tables of a report (none when it has no segmenter or survival analysis).
pub fn tables(r: &Report) -> Vec<Table> {
    let mut out = Vec::new();
    if let Some(segs) = &r.segmentation {
        out.push(Table {
            title: "Segmentation".into(),
            caption: "Out-of-fold masks (repeat 0): each case segmented by the U-Net trained on the other parts. QC fails a case whose Dice is below the threshold or whose prediction is empty; Wilson CI. Volumes in mL from the voxel spacing.".into(),
            header: [
                "segmenter", "cases", "Dice mean (SD)", "Dice median", "QC threshold",
                "QC failure rate (CI)", "mean volume predicted", "mean volume reference",
                "bias (limits of agreement)", "r",
            ]
            .map(String::from)
            .to_vec(),
            numeric: vec![false, true, true, true, true, true, true, true, true, true],
            rows: segs
                .iter()
                .map(|s| {
                    vec![
                        s.id.clone(),
                        s.cases.len().to_string(),
                        format!("{} ({})", fixed(s.dice_mean, 3), fixed(s.dice_sd, 3)),
                        fixed(s.dice_median, 3),
                        fixed(s.qc_min_dice, 2),
                        format!(
                            "{} ({}–{})",
                            fixed(s.qc_failure.value, 3),
                            fixed(s.qc_failure.ci[0], 3),
                            fixed(s.qc_failure.ci[1], 3)
                        ),
                        fixed(s.mean_predicted_ml, 1),
                        fixed(s.mean_reference_ml, 1),
                        format!(
                            "{} ({} to {})",
                            fixed(s.volume_bias_ml, 1),
                            fixed(s.volume_limits_ml[0], 1),
                            fixed(s.volume_limits_ml[1], 1)
                        ),
                        fixed(s.volume_correlation, 3),
                    ]
                })
                .collect(),
        });
    }
    if let Some(sv) = &r.survival {
        let thresholds: Vec<String> = sv.fold_thresholds_ml.iter().map(|t| fixed(*t, 1)).collect();
        out.push(Table {
            title: "Survival by volume".into(),
            caption: format!(
                "Kaplan–Meier by `{}`: high volume = above the median of the part's training cases ({} mL per part). Median survival in {} with {:.0} % CI (log(−log) Greenwood); {}.",
                sv.group_by,
                thresholds.join(", "),
                sv.time_unit,
                sv.ci_level * 100.0,
                match &sv.logrank {
                    Some(lr) => format!("log-rank χ² = {}, p = {}", fixed(lr.chi2, 2), p_value(lr.p)),
                    None => "no log-rank test: one group is empty".into(),
                }
            ),
            header: ["group", "cases", "events", "median survival (CI)", "observed / expected events"]
                .map(String::from)
                .to_vec(),
            numeric: vec![false, true, true, true, true],
            rows: sv
                .groups
                .iter()
                .enumerate()
                .map(|(g, grp)| {
                    vec![
                        grp.name.clone(),
                        grp.n.to_string(),
                        grp.events.to_string(),
                        median_text(&grp.median),
                        sv.logrank.as_ref().map_or_else(
                            || "—".into(),
                            |lr| format!("{} / {}", fixed(lr.observed[g], 0), fixed(lr.expected[g], 1)),
                        ),
                    ]
                })
                .collect(),
        });
    }
    if let Some(p) = &r.published_segmentation {
        out.push(Table {
            title: "Published vs reproduced (segmentation and survival)".into(),
            caption: "The paper's segmentation and survival figures beside the reproduced ones."
                .into(),
            header: ["quantity", "published", "reproduced"]
                .map(String::from)
                .to_vec(),
            numeric: vec![false, true, true],
            rows: p
                .iter()
                .map(|row| {
                    vec![
                        row.quantity.clone(),
                        fixed(row.published, row.digits),
                        row.reproduced
                            .map_or_else(|| "—".into(), |v| fixed(v, row.digits)),
                    ]
                })
                .collect(),
        });
    }
    out.extend(super::auto_mask::tables(r));
    out
}

/// One published segmentation or survival figure and its reproduction.
#[derive(Debug, Clone, Serialize)]
pub struct PublishedStudyRow {
    /// What is compared (`Dice (unet)`, `median survival, high volume`, ...).
    pub quantity: String,
    /// The paper's value.
    pub published: f64,
    /// The reproduced value, when the report has it.
    pub reproduced: Option<f64>,
    /// Decimals shown.
    #[serde(skip)]
    pub digits: usize,
}

/// The `[published.segmentation]` values beside the reproduced ones.
pub fn compare_published_segmentation(
    p: &crate::spec::published::PublishedSegmentation,
    segmentation: Option<&[SegmentationResult]>,
    survival: Option<&SurvivalResult>,
) -> Vec<PublishedStudyRow> {
    let seg = segmentation.and_then(|s| s.iter().find(|s| s.id == p.segmenter));
    let group = |name: &str| {
        survival
            .and_then(|s| s.groups.iter().find(|g| g.name == name))
            .map(|g| g.median.median)
    };
    let candidates = [
        (
            format!("mean Dice ({})", p.segmenter),
            p.dice,
            seg.map(|s| s.dice_mean),
            3,
        ),
        (
            format!("QC failure rate ({})", p.segmenter),
            p.qc_failure_rate,
            seg.map(|s| s.qc_failure.value),
            3,
        ),
        (
            format!("mean volume, mL ({})", p.segmenter),
            p.mean_volume_ml,
            seg.map(|s| s.mean_predicted_ml),
            1,
        ),
        (
            "median survival, low volume".into(),
            p.median_survival_low,
            group(LOW),
            1,
        ),
        (
            "median survival, high volume".into(),
            p.median_survival_high,
            group(HIGH),
            1,
        ),
        (
            "log-rank p".into(),
            p.logrank_p,
            survival.and_then(|s| s.logrank.as_ref()).map(|l| l.p),
            4,
        ),
    ];
    candidates
        .into_iter()
        .filter_map(|(quantity, published, reproduced, digits)| {
            published.map(|published| PublishedStudyRow {
                quantity,
                published,
                reproduced: reproduced.filter(|v| v.is_finite()),
                digits,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_risk_counts_observed_times_at_or_after() {
        let km = crate::eval::survival::kaplan_meier(
            &[1.0, 2.0, 2.0, 3.0, 4.0],
            &[true, true, false, true, false],
            0.95,
        )
        .unwrap();
        assert_eq!(at_risk_at(&km, 0.0), 5);
        assert_eq!(at_risk_at(&km, 2.0), 4);
        assert_eq!(at_risk_at(&km, 2.5), 2);
        assert_eq!(at_risk_at(&km, 5.0), 0);
    }
}
