//! Resampling of image and mask to a new voxel spacing, as pyradiomics' `resampleImage` does.
//!
//! Principal item: [`resample`]. Reference: pyradiomics `imageoperations.resampleImage` (grid
//! aligned to the mask's origin, cropped to the region plus `padDistance`), ITK
//! `ResampleImageFilter` with the chosen interpolator for the image and nearest neighbour for
//! the mask.

use super::{FeatureError, FeatureSettings};
use crate::data::image::{Image, Mask};

/// Resamples `image` and `mask` to `spacing` (mm along i, j, k; 0 keeps an axis' spacing).
pub fn resample(
    _image: &Image,
    _mask: &Mask,
    spacing: [f64; 3],
    _settings: &FeatureSettings,
) -> Result<(Image, Mask), FeatureError> {
    Err(FeatureError::Unsupported {
        what: format!("resampledPixelSpacing {spacing:?} (resampling is not implemented yet)"),
    })
}
