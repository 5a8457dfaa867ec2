//! `mask = "..."` of a radiomics model: which masks its features are extracted from.
//!
//! ```toml
//! [[model]]
//! id = "radiomics-auto"
//! kind = "logistic"
//! mask = "predicted:unet"   # default "reference": the manifest's masks
//! ```
//!
//! With `predicted:<segmenter>` the model is the "fully automated" pipeline of the segmentation
//! studies (source papers 2 and 5): it is developed on the reference masks of its training
//! fold and applied to the masks that the same fold's segmenter predicts for the test cases,
//! so no test case's reference mask and no segmenter that saw a test case reach a prediction.

use serde::{Serialize, Serializer};
use std::fmt;

/// Where a model's radiomics come from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum MaskSource {
    /// The manifest's reference masks, for every case.
    #[default]
    Reference,
    /// Test cases: the masks predicted by the segmenter with this id in the same repeat and
    /// fold; training (and validation) cases: their reference masks.
    Predicted(String),
}

/// The prefix of a predicted-mask source.
const PREDICTED: &str = "predicted:";

impl MaskSource {
    /// Parses `"reference"` or `"predicted:<segmenter id>"`.
    pub fn parse(text: &str) -> Result<MaskSource, String> {
        if text == "reference" {
            return Ok(MaskSource::Reference);
        }
        match text.strip_prefix(PREDICTED) {
            Some(id) if !id.is_empty() => Ok(MaskSource::Predicted(id.to_string())),
            _ => Err(format!(
                "{text:?} is not a mask source: expected \"reference\" or \"predicted:<segmenter id>\""
            )),
        }
    }

    /// True for the manifest's masks (the default, left out of the canonical form).
    pub fn is_reference(&self) -> bool {
        *self == MaskSource::Reference
    }

    /// The segmenter whose masks the test cases use, if any.
    pub fn segmenter(&self) -> Option<&str> {
        match self {
            MaskSource::Reference => None,
            MaskSource::Predicted(id) => Some(id),
        }
    }
}

impl fmt::Display for MaskSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaskSource::Reference => f.write_str("reference"),
            MaskSource::Predicted(id) => write!(f, "{PREDICTED}{id}"),
        }
    }
}

impl Serialize for MaskSource {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Checks every model's mask source against the experiment: the segmenter exists, the model
/// reads radiomics only (a CNN or fusion model crops its pixels around the reference mask, which
/// a predicted mask would not change consistently), and there is no seed sweep (segmenters run
/// for the experiment's own seed only). The error gives the model's index and a message.
pub(crate) fn validate(
    models: &[super::ModelEntry],
    segmenters: &[super::ModelEntry],
    seeds: &[u64],
) -> Result<(), (usize, String)> {
    for (m, entry) in models.iter().enumerate() {
        let Some(seg) = entry.mask.segmenter() else {
            continue;
        };
        let fail =
            |message: String| Err((m, format!("model {:?}: key `mask`: {message}", entry.id)));
        if !segmenters.iter().any(|s| s.id == seg) {
            let known: Vec<&str> = segmenters.iter().map(|s| s.id.as_str()).collect();
            return fail(format!(
                "no segmenter {seg:?} in the experiment (segmenters: {})",
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            ));
        }
        let needs_images = crate::models::build(entry).is_ok_and(|b| b.needs_images());
        if needs_images {
            return fail(format!(
                "a predicted mask feeds radiomics models only; kind {:?} reads images",
                entry.kind
            ));
        }
        if !seeds.is_empty() {
            return fail(
                "a predicted mask cannot be combined with a seed sweep (`experiment.seeds`): \
                 segmenters run for the experiment's seed only"
                    .into(),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_both_sources() {
        assert_eq!(MaskSource::parse("reference"), Ok(MaskSource::Reference));
        let p = MaskSource::parse("predicted:unet").unwrap();
        assert_eq!(p.segmenter(), Some("unet"));
        assert_eq!(p.to_string(), "predicted:unet");
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"predicted:unet\"");
        assert!(MaskSource::default().is_reference());
        for bad in ["predicted:", "manual", "predicted"] {
            assert!(MaskSource::parse(bad).unwrap_err().contains(bad), "{bad}");
        }
    }
}
