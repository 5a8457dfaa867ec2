//! `[survival]`: a survival analysis of the cohort's `time` / `event` (manifest fields) by
//! two groups, high vs low volume of the segmented structure.
//!
//! ```toml
//! [survival]
//! group_by = "predicted-volume:unet"  # or "reference-volume" (the manifest masks)
//! time_unit = "months"
//! ```
//!
//! The threshold between the groups is the median volume of each training fold, so a test
//! case's group never depends on the test fold itself.

use serde::{Deserialize, Serialize};

/// `[survival]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSurvival {
    /// `predicted-volume:<segmenter id>` or `reference-volume`.
    pub group_by: toml::Spanned<String>,
    /// Unit of the manifest's `time` values, shown in tables and figures (default months).
    #[serde(default = "default_unit")]
    pub time_unit: String,
}

fn default_unit() -> String {
    "months".into()
}

/// What splits the cohort into a low- and a high-volume group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SurvivalGrouping {
    /// The volume of the mask a segmenter predicted (the fold where the case was tested).
    PredictedVolume(String),
    /// The volume of the reference mask in the manifest.
    ReferenceVolume,
}

impl SurvivalGrouping {
    /// Parses `predicted-volume:<id>` or `reference-volume`.
    pub fn parse(s: &str) -> Result<SurvivalGrouping, String> {
        if s == "reference-volume" {
            return Ok(SurvivalGrouping::ReferenceVolume);
        }
        match s.strip_prefix("predicted-volume:") {
            Some(id) if !id.is_empty() => Ok(SurvivalGrouping::PredictedVolume(id.to_string())),
            _ => Err(format!(
                "{s:?} is neither `reference-volume` nor `predicted-volume:<segmenter id>`"
            )),
        }
    }
}

/// The validated `[survival]` block.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SurvivalSpec {
    /// What defines the groups.
    pub group_by: SurvivalGrouping,
    /// Unit of the times.
    pub time_unit: String,
}

/// Checks `[survival]` against the experiment's segmenters; an error carries the byte offset
/// of the faulty value and the message.
pub fn validate(
    raw: Option<&RawSurvival>,
    segmenters: &[super::ModelEntry],
) -> Result<Option<SurvivalSpec>, (usize, String)> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let at = raw.group_by.span().start;
    let group_by = SurvivalGrouping::parse(raw.group_by.get_ref())
        .map_err(|m| (at, format!("key `survival.group_by`: {m}")))?;
    if let SurvivalGrouping::PredictedVolume(id) = &group_by
        && !segmenters.iter().any(|s| &s.id == id)
    {
        return Err((
            at,
            format!("key `survival.group_by`: no `kind = \"segmenter\"` model with id {id:?}"),
        ));
    }
    Ok(Some(SurvivalSpec {
        group_by,
        time_unit: raw.time_unit.clone(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_parses_both_forms() {
        assert_eq!(
            SurvivalGrouping::parse("predicted-volume:unet"),
            Ok(SurvivalGrouping::PredictedVolume("unet".into()))
        );
        assert_eq!(
            SurvivalGrouping::parse("reference-volume"),
            Ok(SurvivalGrouping::ReferenceVolume)
        );
        assert!(SurvivalGrouping::parse("predicted-volume:").is_err());
        assert!(SurvivalGrouping::parse("volume").is_err());
    }
}
