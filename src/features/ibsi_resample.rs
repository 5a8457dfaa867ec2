//! Resampling and re-segmentation as the IBSI reference manual defines them (§2.4
//! "Interpolation", §2.5 "Re-segmentation"), used in IBSI mode (`settings.ibsi`) instead of
//! pyradiomics' ITK-based [`super::resample::resample`].
//!
//! Principal items: [`resample_ibsi`], [`IbsiGrid`], [`filter_outliers`].
//!
//! The IBSI grid conventions differ from pyradiomics' in three ways that change every value:
//! the new grid is centred on the centre of the old one (not anchored at the mask's origin);
//! its size along an axis is ⌈n·s_old / s_new⌉; positions past the old grid take the nearest
//! voxel's intensity. The region is interpolated like an image (linear, from its 0/1 indicator)
//! and kept where the interpolated value is at least 0.5; intensities of integer-typed images
//! are rounded to the nearest integer afterwards. Tricubic interpolation is the cubic B-spline
//! of the image with its border replicated (as `scipy.ndimage.map_coordinates(order=3,
//! mode="nearest")` computes it, which the IBSI reference implementations use).

use super::preprocess::bounding_box;
use super::resample::{bspline_coefficients, linear_at};
use super::{FeatureError, FeatureSettings, Interpolator, StoredType};
use crate::data::image::{Grid, Image, Mask};

/// The IBSI interpolation grid along each axis: new voxel `i` sits at old continuous index
/// `centre_old + (i − centre_new) · step`, with `centre = (n − 1) / 2` and
/// `step = s_new / s_old`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IbsiGrid {
    /// Number of new voxels per axis, ⌈n_old · s_old / s_new⌉.
    pub dims: [usize; 3],
    /// New spacing in mm.
    pub spacing: [f64; 3],
    /// New voxel size in old voxels.
    step: [f64; 3],
    /// Grid centres (old, new) in their own index units.
    centre_old: [f64; 3],
    centre_new: [f64; 3],
}

impl IbsiGrid {
    /// The grid for `old` resampled to `spacing` (0 keeps an axis' spacing).
    pub fn new(old: &Grid, spacing: [f64; 3]) -> IbsiGrid {
        let spacing = [0, 1, 2].map(|a| {
            if spacing[a] == 0.0 {
                old.spacing[a]
            } else {
                spacing[a]
            }
        });
        let step = [0, 1, 2].map(|a| spacing[a] / old.spacing[a]);
        // ⌈n·s_old/s_new⌉, ignoring rounding noise of a ratio that should be an integer.
        let dims = [0, 1, 2].map(|a| {
            let extent = old.dims[a] as f64 / step[a];
            ((extent - 1e-9).ceil() as usize).max(1)
        });
        IbsiGrid {
            dims,
            spacing,
            step,
            centre_old: old.dims.map(|n| (n as f64 - 1.0) / 2.0),
            centre_new: dims.map(|n| (n as f64 - 1.0) / 2.0),
        }
    }

    /// Old continuous index of new index `i` along `axis`.
    pub fn old_index(&self, axis: usize, i: f64) -> f64 {
        self.centre_old[axis] + (i - self.centre_new[axis]) * self.step[axis]
    }

    /// New continuous index of old continuous index `x` along `axis`.
    fn new_index(&self, axis: usize, x: f64) -> f64 {
        self.centre_new[axis] + (x - self.centre_old[axis]) / self.step[axis]
    }
}

/// Samples replicated past the border before the B-spline prefilter: the mirror-boundary
/// filter then sees a constant border, as scipy's `mode="nearest"` arranges; 0.268¹² ≈ 1e-7 is
/// the pole's influence left at that distance.
const SPLINE_PAD: usize = 12;

/// Resamples `image` and `mask` (on the same grid) to `spacing` in mm (0 keeps an axis) on the
/// IBSI grid. Only the part of the new grid that can hold the region (its bounding box plus one
/// old voxel) is returned; values there equal those of a whole-image resampling.
pub fn resample_ibsi(
    image: &Image,
    mask: &Mask,
    spacing: [f64; 3],
    settings: &FeatureSettings,
) -> Result<(Image, Mask), FeatureError> {
    let label = settings.label;
    if spacing.iter().any(|s| !s.is_finite() || *s < 0.0) {
        return Err(FeatureError::InvalidSetting {
            key: "resampledPixelSpacing".into(),
            reason: format!("spacings must be finite and not negative, got {spacing:?}"),
        });
    }
    if mask.grid.dims != image.grid.dims {
        return Err(FeatureError::GeometryMismatch(format!(
            "IBSI resampling needs the mask on the image grid (mask {:?}, image {:?})",
            mask.grid.dims, image.grid.dims
        )));
    }
    let bbox = bounding_box(mask, label).ok_or(FeatureError::EmptyMask { label })?;
    let full = IbsiGrid::new(&image.grid, spacing);
    // New voxels whose position lies within one old voxel of the bounding box: elsewhere the
    // interpolated indicator is 0.
    let lower = [0, 1, 2].map(|a| {
        let x = full.new_index(a, bbox.lower[a] as f64 - 1.0).ceil();
        x.clamp(0.0, full.dims[a] as f64 - 1.0) as usize
    });
    let upper = [0, 1, 2].map(|a| {
        let x = full.new_index(a, bbox.upper[a] as f64 + 1.0).floor();
        x.clamp(0.0, full.dims[a] as f64 - 1.0) as usize
    });
    let dims = [0, 1, 2].map(|a| upper[a] - lower[a] + 1);
    let first = [0, 1, 2].map(|a| full.old_index(a, lower[a] as f64));
    let grid = Grid {
        dims,
        spacing: full.spacing,
        origin: super::resample::physical_point(&image.grid, first),
        direction: image.grid.direction,
    };
    let positions: Vec<[f64; 3]> = (0..dims[2])
        .flat_map(|k| (0..dims[1]).flat_map(move |j| (0..dims[0]).map(move |i| [i, j, k])))
        .map(|[i, j, k]| {
            [
                full.old_index(0, (lower[0] + i) as f64),
                full.old_index(1, (lower[1] + j) as f64),
                full.old_index(2, (lower[2] + k) as f64),
            ]
        })
        .collect();
    let source = image.grid.dims;
    let clamped = |x: [f64; 3]| [0, 1, 2].map(|a| x[a].clamp(0.0, source[a] as f64 - 1.0));
    let mut voxels: Vec<f64> = match settings.interpolator {
        Interpolator::Linear => positions
            .iter()
            .map(|&x| linear_at(&image.voxels, source, clamped(x)))
            .collect(),
        Interpolator::NearestNeighbor => positions
            .iter()
            .map(|&x| {
                let [i, j, k] = clamped(x).map(|v| v.round() as usize);
                image.voxels[image.grid.index(i, j, k)]
            })
            .collect(),
        Interpolator::BSpline => {
            let spline = PaddedSpline::new(image, &bbox);
            positions.iter().map(|&x| spline.at(x)).collect()
        }
    };
    if let StoredType::Integer { min, max } = settings.stored_type {
        for v in &mut voxels {
            *v = v.round().clamp(min, max);
        }
    }
    let indicator: Vec<f64> = mask
        .voxels
        .iter()
        .map(|&l| if l == label { 1.0 } else { 0.0 })
        .collect();
    let labels = positions
        .iter()
        .map(|&x| {
            if linear_at(&indicator, source, clamped(x)) >= 0.5 {
                label
            } else {
                0
            }
        })
        .collect();
    Ok((
        Image {
            grid: grid.clone(),
            voxels,
        },
        Mask {
            grid,
            voxels: labels,
        },
    ))
}

/// Cubic B-spline coefficients of the image around the region: the region's bounding box
/// grown by [`SPLINE_PAD`] + 4 voxels (clipped to the image), then padded by [`SPLINE_PAD`]
/// replicated border voxels on every side.
struct PaddedSpline {
    coefficients: Vec<f64>,
    dims: [usize; 3],
    /// Old index of padded index 0, per axis.
    offset: [f64; 3],
}

impl PaddedSpline {
    fn new(image: &Image, bbox: &super::preprocess::BoundingBox) -> PaddedSpline {
        let margin = SPLINE_PAD + 4;
        let source = image.grid.dims;
        let low = [0, 1, 2].map(|a| bbox.lower[a].saturating_sub(margin));
        let high = [0, 1, 2].map(|a| (bbox.upper[a] + margin).min(source[a] - 1));
        let dims = [0, 1, 2].map(|a| high[a] - low[a] + 1 + 2 * SPLINE_PAD);
        let mut values = Vec::with_capacity(dims.iter().product());
        let source_index = |a: usize, p: usize| {
            let x = (low[a] + p) as i64 - SPLINE_PAD as i64;
            x.clamp(low[a] as i64, high[a] as i64) as usize
        };
        for k in 0..dims[2] {
            for j in 0..dims[1] {
                for i in 0..dims[0] {
                    let index = image.grid.index(
                        source_index(0, i),
                        source_index(1, j),
                        source_index(2, k),
                    );
                    values.push(image.voxels[index]);
                }
            }
        }
        PaddedSpline {
            coefficients: bspline_coefficients(&values, dims),
            dims,
            offset: low.map(|l| l as f64 - SPLINE_PAD as f64),
        }
    }

    /// The spline at old continuous index `x` (within the padding of the image).
    fn at(&self, x: [f64; 3]) -> f64 {
        let mut first = [0usize; 3];
        let mut weights = [[0.0f64; 4]; 3];
        for a in 0..3 {
            let local = (x[a] - self.offset[a]).clamp(1.0, self.dims[a] as f64 - 2.0);
            let base = local.floor();
            let t = local - base;
            weights[a] = cubic_bspline_weights(t);
            // Taps base−1 ..= base+2, kept inside the padded buffer.
            first[a] = (base as usize - 1).min(self.dims[a].saturating_sub(4));
        }
        let mut value = 0.0;
        for (c, wc) in weights[2].iter().enumerate() {
            for (b, wb) in weights[1].iter().enumerate() {
                let row = self.dims[0] * ((first[1] + b) + self.dims[1] * (first[2] + c));
                for (a, wa) in weights[0].iter().enumerate() {
                    value += wa * wb * wc * self.coefficients[row + first[0] + a];
                }
            }
        }
        value
    }
}

/// Weights of the four cubic B-spline taps at offsets −1, 0, 1, 2 from ⌊x⌋, for `t = x − ⌊x⌋`.
fn cubic_bspline_weights(t: f64) -> [f64; 4] {
    let s = 1.0 - t;
    [
        s * s * s / 6.0,
        (4.0 - 6.0 * t * t + 3.0 * t * t * t) / 6.0,
        (4.0 - 6.0 * s * s + 3.0 * s * s * s) / 6.0,
        t * t * t / 6.0,
    ]
}

/// IBSI intensity outlier filtering (§2.5): keeps the region's voxels within mean ± `sigma`
/// population standard deviations of the region's intensities. Errors when a voxel or fewer
/// remain.
pub fn filter_outliers(
    image: &Image,
    mask: &Mask,
    sigma: f64,
    label: u8,
) -> Result<Mask, FeatureError> {
    if !(sigma.is_finite() && sigma > 0.0) {
        return Err(FeatureError::InvalidSetting {
            key: "resegmentOutliers".into(),
            reason: format!("must be a positive number of standard deviations, got {sigma}"),
        });
    }
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
    let n = region.len() as f64;
    let mean = region.iter().sum::<f64>() / n;
    let sd = (region.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
    let (lower, upper) = (mean - sigma * sd, mean + sigma * sd);
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
                "outlier filtering to [{lower}, {upper}] kept {retained} voxel(s) of label {label}"
            ),
        });
    }
    Ok(Mask {
        grid: mask.grid.clone(),
        voxels,
    })
}

#[cfg(test)]
#[path = "ibsi_resample_tests.rs"]
mod tests;
