//! Radiomics of extra manifest channels (`[features] channels`), inside the case's mask.
//!
//! A channel's columns are the class's usual names prefixed with the channel name
//! (`bmode_original_firstorder_Mean`), so models can pick them (`features = ["bmode_*"]`).

use super::RunnerError;
use crate::Error;
use crate::data::cohort::Cohort;
use crate::data::image::{Image, Mask};
use crate::data::manifest::CaseEntry;
use crate::features::{self, FeatureFamily, FeatureSettings};
use crate::spec::Experiment;

/// The families of each channel in `[features] channels`, in channel-name order.
pub(super) type ChannelFamilies = Vec<(String, Vec<&'static dyn FeatureFamily>)>;

/// Looks up the classes named for each channel.
pub(super) fn channel_families(exp: &Experiment) -> Result<ChannelFamilies, Error> {
    exp.channel_feature_classes
        .iter()
        .map(|(channel, classes)| {
            let families = classes
                .iter()
                .map(|c| features::family_by_name(c))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|source| RunnerError::Features {
                    case: format!("(settings, channel {channel})"),
                    source,
                })?;
            Ok((channel.clone(), families))
        })
        .collect()
}

/// The features of every channel of `channels` for one case, names prefixed `{channel}_`.
pub(super) fn extract_channels(
    cohort: &Cohort,
    case: &CaseEntry,
    image: &Image,
    mask: &Mask,
    settings: &FeatureSettings,
    channels: &ChannelFamilies,
) -> Result<Vec<(String, f64)>, Error> {
    let mut row = Vec::new();
    for (channel, families) in channels {
        let pixels = cohort
            .load_channel(case, channel, image)
            .map_err(|source| RunnerError::Case {
                case: case.id.clone(),
                source,
            })?;
        let values = features::extract(&pixels, mask, settings, families).map_err(|source| {
            RunnerError::Features {
                case: format!("{} (channel {channel})", case.id),
                source,
            }
        })?;
        row.extend(
            values
                .into_iter()
                .map(|(name, value)| (format!("{channel}_{name}"), value)),
        );
    }
    Ok(row)
}
