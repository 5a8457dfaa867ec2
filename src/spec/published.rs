//! Additions to `[published]` for the studies whose headline numbers are not AUCs.

use serde::{Deserialize, Serialize};

/// `[published.segmentation]`: a segmentation-and-survival paper's numbers (source paper 2).
/// Every value is optional; each given one is shown beside its reproduction.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PublishedSegmentation {
    /// The segmenter id the numbers refer to.
    pub segmenter: String,
    /// Mean Dice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dice: Option<f64>,
    /// Fraction of cases failing quality control (1 − visually accepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qc_failure_rate: Option<f64>,
    /// Mean predicted volume (mL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_volume_ml: Option<f64>,
    /// Median survival of the low-volume group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_survival_low: Option<f64>,
    /// Median survival of the high-volume group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_survival_high: Option<f64>,
    /// Log-rank p-value of high vs low volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logrank_p: Option<f64>,
}
