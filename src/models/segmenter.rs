//! `kind = "segmenter"`: a U-Net trained inside each training fold on image + mask pairs that
//! predicts a mask per test case (see [`crate::models::cnn::segment`]).
//!
//! Unlike the classifiers of [`crate::models::MODEL_KINDS`], a segmenter yields masks, not
//! class probabilities, so the experiment keeps it apart (`Experiment::segmenters`) and the
//! runner evaluates it per case: Dice, volumes in mL, quality control.
//!
//! ```toml
//! [[model]]
//! id = "unet"
//! kind = "segmenter"
//! channels = ["image"]      # "image" = the primary image; other names = manifest channels
//! empty_slice_stride = 4    # train on every slice with mask voxels and every 4th empty one
//! write_masks = true        # predicted masks (repeat 0) as NIfTI into the report folder
//! [model.unet]              # U-Net and training settings; omitted keys take the defaults
//! dims = 2                  # 3: a 3-D U-Net on whole volumes (sides divisible by 2^levels)
//! epochs = 6
//! ```

use super::SettingsError;
use super::cnn::segment::SegmenterSpec;
use crate::data::image::{Image, Mask};
use crate::models::CaseImages;
use serde::{Deserialize, Serialize};

/// The model kind name that marks a segmenter entry.
pub const SEGMENTER_KIND: &str = "segmenter";

/// Settings of `kind = "segmenter"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmenterSettings {
    /// Input channels, in order: `"image"` or the name of a manifest channel.
    #[serde(default = "default_channels")]
    pub channels: Vec<String>,
    /// Training uses every slice holding mask voxels and every n-th slice without any
    /// (1 = all slices); prediction always covers every slice.
    #[serde(default = "default_stride")]
    pub empty_slice_stride: usize,
    /// Write the predicted masks of repeat 0 as NIfTI into the report folder.
    #[serde(default)]
    pub write_masks: bool,
    /// The U-Net and its training.
    #[serde(default)]
    pub unet: SegmenterSpec,
}

fn default_channels() -> Vec<String> {
    vec!["image".into()]
}

fn default_stride() -> usize {
    1
}

/// Parses and checks a segmenter's settings (the `[[model]]` table without `id` and `kind`).
pub fn parse_settings(settings: &toml::Table) -> Result<SegmenterSettings, SettingsError> {
    let s: SegmenterSettings = toml::Value::Table(settings.clone())
        .try_into()
        .map_err(|e| SettingsError::from_serde(&e))?;
    if s.channels.is_empty() {
        return Err(SettingsError::for_key("channels", "`channels` is empty"));
    }
    if s.empty_slice_stride == 0 {
        return Err(SettingsError::for_key(
            "empty_slice_stride",
            "must be at least 1",
        ));
    }
    let u = &s.unet;
    if !(2..=3).contains(&u.dims) {
        return Err(SettingsError::for_key(
            "unet",
            format!(
                "dims = {}: 2 (U-Net on axial slices) or 3 (3-D U-Net on whole volumes)",
                u.dims
            ),
        ));
    }
    if u.dims == 3 && s.empty_slice_stride != 1 {
        return Err(SettingsError::for_key(
            "empty_slice_stride",
            "the 3-D U-Net (`unet.dims = 3`) trains on whole volumes; empty_slice_stride applies to slices only",
        ));
    }
    if u.batch_size < 2 || u.epochs == 0 || !(u.lr.is_finite() && u.lr > 0.0) {
        return Err(SettingsError::for_key(
            "unet",
            "epochs ≥ 1, batch_size ≥ 2 and lr > 0 are required",
        ));
    }
    if !(0.0..1.0).contains(&u.threshold) || !(0.0..=1.0).contains(&u.qc_min_dice) {
        return Err(SettingsError::for_key(
            "unet",
            "threshold must lie in [0, 1) and qc_min_dice in [0, 1]",
        ));
    }
    Ok(s)
}

/// The input images of a case in the order of `channels`; the error names the missing one.
pub fn channel_images<'a>(
    case: &'a CaseImages,
    channels: &[String],
) -> Result<Vec<&'a Image>, String> {
    channels
        .iter()
        .map(|name| {
            if name == "image" {
                Ok(&case.image)
            } else {
                case.channels.get(name).ok_or_else(|| {
                    format!("case {}: no channel {name:?} in the manifest", case.case_id)
                })
            }
        })
        .collect()
}

/// Whether slice `k` of `mask` is used for training: it holds mask voxels, or it is every
/// `stride`-th slice.
pub fn keep_slice(mask: &Mask, k: usize, stride: usize) -> bool {
    let plane = mask.grid.dims[0] * mask.grid.dims[1];
    k.is_multiple_of(stride)
        || mask.voxels[k * plane..(k + 1) * plane]
            .iter()
            .any(|&v| v != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bad_settings() {
        let s = parse_settings(&toml::Table::new()).unwrap();
        assert_eq!(s.channels, vec!["image".to_string()]);
        assert_eq!(s.unet, SegmenterSpec::default());
        let t: toml::Table = toml::from_str("[unet]\nepochs = 3").unwrap();
        assert_eq!(parse_settings(&t).unwrap().unet.epochs, 3);
        let t: toml::Table = toml::from_str("[unet]\nepoch = 3").unwrap();
        let e = parse_settings(&t).unwrap_err();
        assert!(e.to_string().contains("epoch"), "{e}");
        let t: toml::Table = toml::from_str("empty_slice_stride = 0").unwrap();
        assert_eq!(
            parse_settings(&t).unwrap_err().key(),
            Some("empty_slice_stride")
        );
        let t: toml::Table = toml::from_str("chanels = []").unwrap();
        assert_eq!(parse_settings(&t).unwrap_err().key(), Some("chanels"));
        let t: toml::Table = toml::from_str("[unet]\ndims = 3").unwrap();
        assert_eq!(parse_settings(&t).unwrap().unet.dims, 3);
        let t: toml::Table = toml::from_str("[unet]\ndims = 4").unwrap();
        let e = parse_settings(&t).unwrap_err();
        assert!(e.to_string().contains("dims = 4"), "{e}");
        let t: toml::Table = toml::from_str("empty_slice_stride = 4\n[unet]\ndims = 3").unwrap();
        assert_eq!(
            parse_settings(&t).unwrap_err().key(),
            Some("empty_slice_stride")
        );
    }

    #[test]
    fn keeps_mask_slices_and_every_nth_empty_one() {
        let grid = crate::data::image::Grid {
            dims: [1, 1, 6],
            spacing: [1.0; 3],
            origin: [0.0; 3],
            direction: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        };
        let mask = Mask {
            grid,
            voxels: vec![0, 0, 0, 1, 0, 0],
        };
        let kept: Vec<usize> = (0..6).filter(|&k| keep_slice(&mask, k, 2)).collect();
        assert_eq!(kept, vec![0, 2, 3, 4]);
    }
}
