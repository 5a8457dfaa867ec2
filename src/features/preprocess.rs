//! Pre-processing before feature computation, in pyradiomics' order: normalisation,
//! resampling, mask checks, re-segmentation, cropping to the region.
//!
//! Principal items: [`prepare`] (all steps → [`PreparedCase`]), [`BoundingBox`],
//! [`normalise`], [`resegment`], [`check_mask`], [`crop_image`] / [`crop_mask`].
//!
//! Reference: pyradiomics `featureextractor.execute` / `loadImage` and
//! `imageoperations.normalizeImage`, `checkMask`, `resegmentMask`, `cropToTumorMask`;
//! ITK `NormalizeImageFilter` (mean and N−1 standard deviation of the whole image).
//!
//! Like pyradiomics, shape features use the mask before re-segmentation (unless
//! `resegmentShape`), cropped to the bounding box of the re-segmented region.

use super::resample::{StoredType, resample};
use super::{FeatureError, FeatureSettings, ResegmentMode};
use crate::data::image::{Grid, Image, Mask};

/// Inclusive voxel bounds of a region along i, j, k.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoundingBox {
    /// Lowest index per axis.
    pub lower: [usize; 3],
    /// Highest index per axis (inclusive).
    pub upper: [usize; 3],
}

impl BoundingBox {
    /// Number of voxels along each axis.
    pub fn size(&self) -> [usize; 3] {
        [0, 1, 2].map(|a| self.upper[a] - self.lower[a] + 1)
    }
}

/// The bounding box of the voxels labelled `label`, or `None` when there is none.
pub fn bounding_box(mask: &Mask, label: u8) -> Option<BoundingBox> {
    let [nx, ny, _] = mask.grid.dims;
    let mut lower = [usize::MAX; 3];
    let mut upper = [0usize; 3];
    let mut found = false;
    for (index, _) in mask.voxels.iter().enumerate().filter(|(_, l)| **l == label) {
        let ijk = [index % nx, (index / nx) % ny, index / (nx * ny)];
        for axis in 0..3 {
            lower[axis] = lower[axis].min(ijk[axis]);
            upper[axis] = upper[axis].max(ijk[axis]);
        }
        found = true;
    }
    found.then_some(BoundingBox { lower, upper })
}

/// The sub-grid `[lower, upper]` (inclusive) of `grid`, with its origin moved to `lower`.
fn sub_grid(grid: &Grid, lower: [usize; 3], upper: [usize; 3]) -> Grid {
    let offset = [0, 1, 2].map(|a| lower[a] as f64 * grid.spacing[a]);
    let mut origin = grid.origin;
    for (row, value) in origin.iter_mut().enumerate() {
        *value += (0..3)
            .map(|c| grid.direction[row][c] * offset[c])
            .sum::<f64>();
    }
    Grid {
        dims: [0, 1, 2].map(|a| upper[a] - lower[a] + 1),
        spacing: grid.spacing,
        origin,
        direction: grid.direction,
    }
}

/// Bounds of `bbox` grown by `pad` voxels and clipped to `dims`.
fn padded(bbox: &BoundingBox, pad: usize, dims: [usize; 3]) -> ([usize; 3], [usize; 3]) {
    let lower = [0, 1, 2].map(|a| bbox.lower[a].saturating_sub(pad));
    let upper = [0, 1, 2].map(|a| (bbox.upper[a] + pad).min(dims[a] - 1));
    (lower, upper)
}

fn crop_values<T: Copy>(
    values: &[T],
    dims: [usize; 3],
    lower: [usize; 3],
    upper: [usize; 3],
) -> Vec<T> {
    let mut out = Vec::with_capacity((0..3).map(|a| upper[a] - lower[a] + 1).product());
    for k in lower[2]..=upper[2] {
        for j in lower[1]..=upper[1] {
            let row = dims[0] * (j + dims[1] * k);
            out.extend_from_slice(&values[row + lower[0]..=row + upper[0]]);
        }
    }
    out
}

/// The image cropped to `bbox` grown by `pad` voxels (pyradiomics `cropToTumorMask`).
pub fn crop_image(image: &Image, bbox: &BoundingBox, pad: usize) -> Image {
    let (lower, upper) = padded(bbox, pad, image.grid.dims);
    Image {
        grid: sub_grid(&image.grid, lower, upper),
        voxels: crop_values(&image.voxels, image.grid.dims, lower, upper),
    }
}

/// The mask cropped to `bbox` grown by `pad` voxels (pyradiomics `cropToTumorMask`).
pub fn crop_mask(mask: &Mask, bbox: &BoundingBox, pad: usize) -> Mask {
    let (lower, upper) = padded(bbox, pad, mask.grid.dims);
    Mask {
        grid: sub_grid(&mask.grid, lower, upper),
        voxels: crop_values(&mask.voxels, mask.grid.dims, lower, upper),
    }
}

/// pyradiomics `checkMask` on a mask already known to match the image: the label is present,
/// the region is more than one voxel, spans at least `minimumROIDimensions` axes and has more
/// than `minimumROISize` voxels. Returns the region's bounding box.
pub fn check_mask(mask: &Mask, settings: &FeatureSettings) -> Result<BoundingBox, FeatureError> {
    let label = settings.label;
    let bbox = bounding_box(mask, label).ok_or(FeatureError::EmptyMask { label })?;
    let dimensions = bbox.size().iter().filter(|&&s| s > 1).count();
    if dimensions == 0 {
        return Err(FeatureError::RoiRejected {
            reason: "the mask has a single voxel; features need at least two".into(),
        });
    }
    if dimensions < settings.minimum_roi_dimensions {
        return Err(FeatureError::RoiRejected {
            reason: format!(
                "the region spans {dimensions} dimension(s), minimumROIDimensions is {}",
                settings.minimum_roi_dimensions
            ),
        });
    }
    if let Some(minimum) = settings.minimum_roi_size {
        let count = mask.count(label);
        if count <= minimum {
            return Err(FeatureError::RoiRejected {
                reason: format!("the region has {count} voxels, minimumROISize is {minimum}"),
            });
        }
    }
    Ok(bbox)
}

/// pyradiomics `normalizeImage`: `(x − mean) / sd` over the whole image (ITK: sd with N−1),
/// optionally clipped to ± `removeOutliers`, then times `normalizeScale`.
pub fn normalise(image: &Image, settings: &FeatureSettings) -> Result<Image, FeatureError> {
    let n = image.voxels.len() as f64;
    // ITK's StatisticsImageFilter: mean = Σx / n, variance = (Σx² − (Σx)²/n) / (n − 1).
    let (sum, sum_of_squares) = compensated_sums(&image.voxels);
    let mean = sum / n;
    let variance = (sum_of_squares - sum * sum / n) / (n - 1.0);
    let sigma = variance.sqrt();
    if !(sigma.is_finite() && sigma > 0.0) {
        return Err(FeatureError::InvalidSetting {
            key: "normalize".into(),
            reason: format!("the image has standard deviation {sigma}; it cannot be normalised"),
        });
    }
    // ITK's ShiftScaleImageFilter: (x + shift) · scale with shift = −mean, scale = 1/σ.
    let shift = -mean;
    let scale = 1.0 / sigma;
    let voxels = image
        .voxels
        .iter()
        .map(|&x| {
            let mut z = (x + shift) * scale;
            if let Some(limit) = settings.remove_outliers {
                z = z.clamp(-limit, limit);
            }
            z * settings.normalize_scale
        })
        .collect();
    Ok(Image {
        grid: image.grid.clone(),
        voxels,
    })
}

/// Neumaier-compensated Σx and Σx² (ITK accumulates both with compensated summation).
fn compensated_sums(values: &[f64]) -> (f64, f64) {
    let mut sum = (0.0, 0.0);
    let mut squares = (0.0, 0.0);
    let add = |(s, c): (f64, f64), x: f64| {
        let t = s + x;
        let c = if s.abs() >= x.abs() {
            c + ((s - t) + x)
        } else {
            c + ((x - t) + s)
        };
        (t, c)
    };
    for &x in values {
        sum = add(sum, x);
        squares = add(squares, x * x);
    }
    (sum.0 + sum.1, squares.0 + squares.1)
}

/// pyradiomics `resegmentMask`: keeps the region's voxels inside the `resegmentRange`
/// thresholds (closed range; one threshold is a lower bound). Errors when a voxel or fewer
/// remain.
pub fn resegment(
    image: &Image,
    mask: &Mask,
    settings: &FeatureSettings,
) -> Result<Mask, FeatureError> {
    let label = settings.label;
    let Some(range) = &settings.resegment_range else {
        return Ok(mask.clone());
    };
    if range.is_empty() || range.len() > 2 || range.iter().any(|t| !t.is_finite()) {
        return Err(FeatureError::InvalidSetting {
            key: "resegmentRange".into(),
            reason: format!("needs one or two finite thresholds, got {range:?}"),
        });
    }
    let mut sorted = range.clone();
    sorted.sort_by(f64::total_cmp);
    let region: Vec<f64> = image
        .voxels
        .iter()
        .zip(&mask.voxels)
        .filter(|(_, l)| **l == label)
        .map(|(v, _)| *v)
        .collect();
    if region.is_empty() {
        return Err(FeatureError::EmptyMask { label });
    }
    let thresholds: Vec<f64> = match settings.resegment_mode {
        ResegmentMode::Absolute => sorted,
        ResegmentMode::Relative => {
            let max = region.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            sorted.iter().map(|t| max * t).collect()
        }
        ResegmentMode::Sigma => {
            let n = region.len() as f64;
            let mean = region.iter().sum::<f64>() / n;
            let sd = (region.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
            sorted.iter().map(|t| mean + sd * t).collect()
        }
    };
    let lower = thresholds[0];
    let upper = thresholds.get(1).copied().unwrap_or(f64::INFINITY);
    let voxels: Vec<u8> = image
        .voxels
        .iter()
        .zip(&mask.voxels)
        .map(|(&v, &l)| {
            if l == label && v >= lower && v <= upper {
                label
            } else {
                0
            }
        })
        .collect();
    let retained = voxels.iter().filter(|&&l| l == label).count();
    if retained <= 1 {
        return Err(FeatureError::RoiRejected {
            reason: format!(
                "re-segmentation to [{lower}, {upper}] kept {retained} voxel(s) of label {label}"
            ),
        });
    }
    Ok(Mask {
        grid: mask.grid.clone(),
        voxels,
    })
}

/// A case ready for feature computation: image and masks cropped to the region.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedCase {
    /// The (normalised, resampled) image, cropped to the region's bounding box.
    pub image: Image,
    /// The mask for intensity and texture features (after re-segmentation).
    pub mask: Mask,
    /// The mask for shape features (before re-segmentation unless `resegmentShape`).
    pub shape_mask: Mask,
}

/// Runs pyradiomics' pre-processing on a checked image/mask pair (see
/// [`super::check_inputs`]).
pub fn prepare(
    image: &Image,
    mask: &Mask,
    settings: &FeatureSettings,
) -> Result<PreparedCase, FeatureError> {
    let normalised;
    let mut image = if settings.normalize {
        normalised = normalise(image, settings)?;
        &normalised
    } else {
        image
    };
    let resampled;
    let mut mask = mask;
    if let Some(spacing) = settings.resampled_pixel_spacing {
        // Normalisation leaves a floating-point image; otherwise SimpleITK keeps the file's type.
        let stored = if settings.normalize {
            StoredType::Float
        } else {
            settings.stored_type
        };
        resampled = if settings.ibsi {
            // IBSI grid conventions (centred grid, interpolated mask); see `ibsi_resample`.
            let ibsi = FeatureSettings {
                stored_type: stored,
                ..settings.clone()
            };
            super::ibsi_resample::resample_ibsi(image, mask, spacing, &ibsi)?
        } else {
            resample(image, mask, spacing, stored, settings)?
        };
        image = &resampled.0;
        mask = &resampled.1;
    }
    let mut bbox = check_mask(mask, settings)?;
    let mut intensity_mask = None;
    if settings.resegment_range.is_some() {
        let resegmented = resegment(image, mask, settings)?;
        bbox = check_mask(&resegmented, settings)?;
        intensity_mask = Some(resegmented);
    }
    if let Some(sigma) = settings.resegment_outliers {
        let range_mask = intensity_mask.as_ref().unwrap_or(mask);
        let filtered =
            super::ibsi_resample::filter_outliers(image, range_mask, sigma, settings.label)?;
        bbox = check_mask(&filtered, settings)?;
        intensity_mask = Some(filtered);
    }
    if settings.ibsi {
        // IBSI: morphology uses the whole (interpolated) region, so crop to it, not to the
        // re-segmented part.
        bbox = check_mask(mask, settings)?;
    }
    let intensity = intensity_mask.as_ref().unwrap_or(mask);
    let shape = if settings.resegment_shape {
        intensity
    } else {
        mask
    };
    Ok(PreparedCase {
        image: crop_image(image, &bbox, 0),
        mask: crop_mask(intensity, &bbox, 0),
        shape_mask: crop_mask(shape, &bbox, 0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask_with(dims: [usize; 3], on: &[[usize; 3]]) -> Mask {
        let grid = Grid::new(dims, [1.0, 2.0, 3.0]);
        let mut voxels = vec![0u8; grid.len()];
        for &[i, j, k] in on {
            voxels[grid.index(i, j, k)] = 1;
        }
        Mask { grid, voxels }
    }

    #[test]
    fn bounding_box_and_crop_move_the_origin() {
        let mask = mask_with([5, 4, 3], &[[1, 2, 0], [3, 2, 1]]);
        let bbox = bounding_box(&mask, 1).unwrap();
        assert_eq!(
            bbox,
            BoundingBox {
                lower: [1, 2, 0],
                upper: [3, 2, 1]
            }
        );
        let cropped = crop_mask(&mask, &bbox, 0);
        assert_eq!(cropped.grid.dims, [3, 1, 2]);
        assert_eq!(cropped.grid.origin, [1.0, 4.0, 0.0]);
        assert_eq!(cropped.voxels, vec![1, 0, 0, 0, 0, 1]);
        let padded = crop_mask(&mask, &bbox, 1);
        assert_eq!(padded.grid.dims, [5, 3, 3]);
        assert_eq!(padded.count(1), 2);
    }

    #[test]
    fn mask_checks_follow_pyradiomics() {
        let settings = FeatureSettings::default();
        let single = mask_with([3, 3, 3], &[[1, 1, 1]]);
        assert!(check_mask(&single, &settings).is_err());
        let line = mask_with([3, 3, 3], &[[0, 1, 1], [2, 1, 1]]);
        assert!(check_mask(&line, &settings).is_err()); // default needs 2 dimensions
        let one_d = FeatureSettings {
            minimum_roi_dimensions: 1,
            ..settings.clone()
        };
        assert!(check_mask(&line, &one_d).is_ok());
        let small = FeatureSettings {
            minimum_roi_size: Some(2),
            ..one_d
        };
        assert!(check_mask(&line, &small).is_err()); // 2 voxels is not more than 2
    }

    #[test]
    fn normalisation_uses_the_sample_sd() {
        let grid = Grid::new([4, 1, 1], [1.0; 3]);
        let image = Image {
            grid,
            voxels: vec![1.0, 2.0, 3.0, 4.0],
        };
        let settings = FeatureSettings {
            normalize: true,
            normalize_scale: 10.0,
            ..Default::default()
        };
        let out = normalise(&image, &settings).unwrap();
        // mean 2.5, sample sd sqrt(5/3).
        let sd = (5.0f64 / 3.0).sqrt();
        assert!((out.voxels[0] - (-1.5 / sd * 10.0)).abs() < 1e-12);
        let clipped = FeatureSettings {
            remove_outliers: Some(1.0),
            ..settings
        };
        assert_eq!(normalise(&image, &clipped).unwrap().voxels[0], -10.0);
    }

    #[test]
    fn resegmentation_modes() {
        let grid = Grid::new([5, 1, 1], [1.0; 3]);
        let image = Image {
            grid: grid.clone(),
            voxels: vec![0.0, 10.0, 20.0, 30.0, 100.0],
        };
        let mask = Mask {
            grid,
            voxels: vec![1; 5],
        };
        let absolute = FeatureSettings {
            resegment_range: Some(vec![30.0, 5.0]),
            ..Default::default()
        };
        assert_eq!(
            resegment(&image, &mask, &absolute).unwrap().voxels,
            vec![0, 1, 1, 1, 0]
        );
        let relative = FeatureSettings {
            resegment_range: Some(vec![0.2]),
            resegment_mode: ResegmentMode::Relative,
            ..Default::default()
        };
        assert_eq!(
            resegment(&image, &mask, &relative).unwrap().voxels,
            vec![0, 0, 1, 1, 1]
        );
        // mean 32, population sd √1256 ≈ 35.44: ±1 sd is [−3.44, 67.44].
        let sigma = FeatureSettings {
            resegment_range: Some(vec![-1.0, 1.0]),
            resegment_mode: ResegmentMode::Sigma,
            ..Default::default()
        };
        assert_eq!(
            resegment(&image, &mask, &sigma).unwrap().voxels,
            vec![1, 1, 1, 1, 0]
        );
        let none_left = FeatureSettings {
            resegment_range: Some(vec![1000.0]),
            ..Default::default()
        };
        assert!(resegment(&image, &mask, &none_left).is_err());
    }
}
