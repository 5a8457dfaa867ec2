//! Moving between voxel grids: index ↔ physical point, nearest-neighbour mask resampling
//! (pyradiomics `correctMask`) and resampling of image and mask to a new spacing (pyradiomics
//! `resampledPixelSpacing`).
//!
//! Principal items: [`physical_point`], [`continuous_index`], [`check_roi_inside`],
//! [`mask_onto_grid`], [`resample`]. Reference: pyradiomics `imageoperations._checkROI`,
//! `_correctMask`, `resampleImage`; ITK `ResampleImageFilter` and
//! `NearestNeighborInterpolateImageFunction` (index = ⌊x + ½⌋, inside when −½ ≤ x < size − ½).

use super::preprocess::bounding_box;
use super::{FeatureError, FeatureSettings, Interpolator};
use crate::data::image::{Grid, Image, Mask};

/// World position (mm, LPS) of a continuous voxel index (i, j, k).
pub fn physical_point(grid: &Grid, index: [f64; 3]) -> [f64; 3] {
    let scaled = [0, 1, 2].map(|a| index[a] * grid.spacing[a]);
    [0, 1, 2].map(|r| {
        grid.origin[r]
            + (0..3)
                .map(|c| grid.direction[r][c] * scaled[c])
                .sum::<f64>()
    })
}

/// Continuous voxel index (i, j, k) of a world position (direction cosines are orthonormal, so
/// their inverse is their transpose).
pub fn continuous_index(grid: &Grid, point: [f64; 3]) -> [f64; 3] {
    let offset = [0, 1, 2].map(|r| point[r] - grid.origin[r]);
    [0, 1, 2].map(|c| {
        (0..3)
            .map(|r| grid.direction[r][c] * offset[r])
            .sum::<f64>()
            / grid.spacing[c]
    })
}

/// pyradiomics `_checkROI`: the region's bounding box (to the voxel edges) must lie inside the
/// image's extent, within 1e-3 voxel.
pub fn check_roi_inside(image_grid: &Grid, mask: &Mask, label: u8) -> Result<(), FeatureError> {
    let bbox = bounding_box(mask, label).ok_or(FeatureError::EmptyMask { label })?;
    let corners = [
        bbox.lower.map(|l| l as f64 - 0.5),
        bbox.upper.map(|u| u as f64 + 0.5),
    ];
    let tolerance = 1e-3;
    for corner in corners {
        let index = continuous_index(image_grid, physical_point(&mask.grid, corner));
        for (axis, (&x, &size)) in index.iter().zip(&image_grid.dims).enumerate() {
            if x < -0.5 - tolerance || x > size as f64 - 0.5 + tolerance {
                return Err(FeatureError::GeometryMismatch(format!(
                    "the region of label {label} extends outside the image (axis {axis}: index {x:.3}, image size {size})"
                )));
            }
        }
    }
    Ok(())
}

/// The mask resampled onto `grid` with nearest-neighbour interpolation (0 outside the mask), as
/// ITK's `ResampleImageFilter` computes it.
pub fn mask_onto_grid(mask: &Mask, grid: &Grid) -> Mask {
    let voxels = sample_indices(grid, &mask.grid)
        .iter()
        .map(|&x| {
            if !inside_buffer(x, mask.grid.dims) {
                return 0;
            }
            let [i, j, k] = x.map(|v| round_half_up(v).clamp(0, i64::MAX) as usize);
            mask.voxels[mask.grid.index(i, j, k)]
        })
        .collect();
    Mask {
        grid: grid.clone(),
        voxels,
    }
}

/// ITK's `Math::RoundHalfIntegerUp` as SimpleITK's x86-64 build computes it:
/// round-half-to-even of `2x + ½`, halved (so ties at .5 go up, after rounding of `2x + ½`).
fn round_half_up(x: f64) -> i64 {
    ((2.0 * x + 0.5).round_ties_even() as i64) >> 1
}

/// An ITK image geometry with its index ↔ point matrices, evaluated as ITK evaluates them:
/// `M = D · diag(spacing)`, point = origin + M · index, index = M⁻¹ · (point − origin).
struct ItkGeometry {
    origin: [f64; 3],
    to_point: [[f64; 3]; 3],
    to_index: [[f64; 3]; 3],
}

impl ItkGeometry {
    fn new(grid: &Grid) -> ItkGeometry {
        let to_point = [0, 1, 2].map(|r| [0, 1, 2].map(|c| grid.direction[r][c] * grid.spacing[c]));
        // Inverse of D · S for orthonormal D: S⁻¹ Dᵀ (exact for axis-aligned grids, as ITK's SVD
        // inverse is there).
        let to_index = [0, 1, 2].map(|r| [0, 1, 2].map(|c| grid.direction[c][r] / grid.spacing[r]));
        ItkGeometry {
            origin: grid.origin,
            to_point,
            to_index,
        }
    }

    /// `TransformIndexToPhysicalPoint` (integer index: origin first, then each term).
    fn index_to_point(&self, index: [f64; 3]) -> [f64; 3] {
        [0, 1, 2].map(|r| {
            let mut p = self.origin[r];
            for (m, x) in self.to_point[r].iter().zip(index) {
                p += m * x;
            }
            p
        })
    }

    /// `TransformContinuousIndexToPhysicalPoint` (sum first, origin last).
    fn continuous_index_to_point(&self, index: [f64; 3]) -> [f64; 3] {
        [0, 1, 2].map(|r| {
            let mut sum = 0.0;
            for (m, x) in self.to_point[r].iter().zip(index) {
                sum += m * x;
            }
            sum + self.origin[r]
        })
    }

    /// `TransformPhysicalPointToContinuousIndex`.
    fn point_to_index(&self, point: [f64; 3]) -> [f64; 3] {
        let v = [0, 1, 2].map(|k| point[k] - self.origin[k]);
        [0, 1, 2].map(|r| {
            let mut sum = 0.0;
            for (m, x) in self.to_index[r].iter().zip(v) {
                sum += m * x;
            }
            sum
        })
    }
}

/// The continuous input index of every output voxel, i fastest, as ITK's linear resampling path
/// computes it: per scan line, the indices of the line's first voxel and of one past its end,
/// then `start + (i / n) · (end − start)`.
fn sample_indices(output: &Grid, input: &Grid) -> Vec<[f64; 3]> {
    let out = ItkGeometry::new(output);
    let inp = ItkGeometry::new(input);
    let n = output.dims[0] as f64;
    let mut indices = Vec::with_capacity(output.len());
    for k in 0..output.dims[2] {
        for j in 0..output.dims[1] {
            let start = inp.point_to_index(out.index_to_point([0.0, j as f64, k as f64]));
            let end = inp.point_to_index(out.index_to_point([n, j as f64, k as f64]));
            let step = [0, 1, 2].map(|a| end[a] - start[a]);
            for i in 0..output.dims[0] {
                let alpha = i as f64 / n;
                indices.push([0, 1, 2].map(|a| start[a] + alpha * step[a]));
            }
        }
    }
    indices
}

/// ITK `IsInsideBuffer`: −½ ≤ x < size − ½ on every axis.
fn inside_buffer(index: [f64; 3], dims: [usize; 3]) -> bool {
    (0..3).all(|a| index[a] >= -0.5 && index[a] < dims[a] as f64 - 0.5)
}

/// How resampled intensities are stored, which decides SimpleITK's cast after interpolation.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum StoredType {
    /// Floating point: values are kept as interpolated.
    #[default]
    Float,
    /// An integer type with this range: values are clamped to it and truncated toward zero (ITK's
    /// `static_cast`), as SimpleITK does when the output keeps the input's integer type.
    Integer {
        /// Smallest representable value.
        min: f64,
        /// Largest representable value.
        max: f64,
    },
}

impl StoredType {
    /// The stored type of a sample type named as radbench's readers name them (`int16`,
    /// `uint8`, `float`, ...); unknown names are floating point.
    pub fn from_name(name: &str) -> StoredType {
        let range = |min: f64, max: f64| StoredType::Integer { min, max };
        match name {
            "int8" => range(-128.0, 127.0),
            "uint8" => range(0.0, 255.0),
            "int16" => range(-32768.0, 32767.0),
            "uint16" => range(0.0, 65535.0),
            "int32" => range(-2147483648.0, 2147483647.0),
            "uint32" => range(0.0, 4294967295.0),
            "int64" => range(-9.223372036854776e18, 9.223372036854776e18),
            "uint64" => range(0.0, 1.8446744073709552e19),
            _ => StoredType::Float,
        }
    }

    fn cast(self, value: f64) -> f64 {
        match self {
            StoredType::Float => value,
            StoredType::Integer { min, max } => {
                if value <= min {
                    min
                } else if value >= max {
                    max
                } else {
                    value.trunc()
                }
            }
        }
    }
}

/// Cubic B-spline coefficients of a whole image (ITK `BSplineDecompositionImageFilter`, mirror
/// boundaries, pole √3 − 2, initial causal coefficient with tolerance 1e-10), i fastest.
pub(super) fn bspline_coefficients(values: &[f64], dims: [usize; 3]) -> Vec<f64> {
    let mut coefficients = values.to_vec();
    let pole = 3f64.sqrt() - 2.0;
    let horizon = (1e-10f64.ln() / pole.abs().ln()).ceil() as usize;
    let strides = [1, dims[0], dims[0] * dims[1]];
    let mut scratch = Vec::new();
    for axis in 0..3 {
        let length = dims[axis];
        if length == 1 {
            continue; // mirror boundaries need two samples; ITK leaves such lines as they are
        }
        let others: Vec<usize> = (0..3).filter(|&a| a != axis).collect();
        for b in 0..dims[others[1]] {
            for a in 0..dims[others[0]] {
                let first = a * strides[others[0]] + b * strides[others[1]];
                scratch.clear();
                scratch.extend((0..length).map(|n| coefficients[first + n * strides[axis]]));
                line_to_coefficients(&mut scratch, pole, horizon);
                for (n, &c) in scratch.iter().enumerate() {
                    coefficients[first + n * strides[axis]] = c;
                }
            }
        }
    }
    coefficients
}

/// ITK `DataToCoefficients1D` for one pole.
fn line_to_coefficients(c: &mut [f64], z: f64, horizon: usize) {
    let n = c.len();
    let gain = (1.0 - z) * (1.0 - 1.0 / z);
    for value in c.iter_mut() {
        *value *= gain;
    }
    // Initial causal coefficient (mirror boundaries; Unser 1999, box 2).
    if horizon < n {
        let mut sum = c[0];
        let mut zn = z;
        for value in c.iter().take(horizon).skip(1) {
            sum += zn * value;
            zn *= z;
        }
        c[0] = sum;
    } else {
        let iz = 1.0 / z;
        let mut zn = z;
        let mut z2n = z.powf((n - 1) as f64);
        let mut sum = c[0] + z2n * c[n - 1];
        // z^(2n−2) · z^(n−1) … as ITK: z2n ← z2n · (z2n / z).
        z2n = z2n * (z2n * iz);
        for value in c.iter().take(n - 1).skip(1) {
            sum += (zn + z2n) * value;
            zn *= z;
            z2n *= iz;
        }
        c[0] = sum / (1.0 - zn * zn);
    }
    for k in 1..n {
        c[k] += z * c[k - 1];
    }
    c[n - 1] = (z / (z * z - 1.0)) * (z * c[n - 2] + c[n - 1]);
    for k in (0..n - 1).rev() {
        c[k] = z * (c[k + 1] - c[k]);
    }
}

/// ITK `BSplineInterpolateImageFunction` (order 3) at a continuous index inside the buffer.
fn bspline_at(coefficients: &[f64], dims: [usize; 3], x: [f64; 3]) -> f64 {
    let mut indices = [[0usize; 4]; 3];
    let mut weights = [[0.0f64; 4]; 3];
    for d in 0..3 {
        // ITK floors the index after a cast to single precision.
        let first = (x[d] as f32).floor() as i64 - 1;
        let w = x[d] - (first + 1) as f64;
        let w3 = (1.0 / 6.0) * w * w * w;
        let w0 = (1.0 / 6.0) + 0.5 * w * (w - 1.0) - w3;
        let w2 = w + w0 - 2.0 * w3;
        let w1 = 1.0 - w0 - w2 - w3;
        weights[d] = [w0, w1, w2, w3];
        let end = dims[d] as i64 - 1;
        for (k, slot) in indices[d].iter_mut().enumerate() {
            let mut index = first + k as i64;
            if dims[d] == 1 {
                index = 0;
            } else {
                if index < 0 {
                    index = -index;
                }
                if index >= end {
                    index = end - (index - end);
                }
            }
            *slot = index.clamp(0, end) as usize;
        }
    }
    let mut value = 0.0;
    for c in 0..4 {
        for b in 0..4 {
            for a in 0..4 {
                let w = weights[0][a] * weights[1][b] * weights[2][c];
                let index = indices[0][a] + dims[0] * (indices[1][b] + dims[1] * indices[2][c]);
                value += w * coefficients[index];
            }
        }
    }
    value
}

/// ITK `LinearInterpolateImageFunction` at a continuous index inside the buffer (neighbours
/// past the last voxel repeat it).
pub(super) fn linear_at(values: &[f64], dims: [usize; 3], x: [f64; 3]) -> f64 {
    let mut base = [0usize; 3];
    let mut next = [0usize; 3];
    let mut t = [0.0f64; 3];
    for d in 0..3 {
        let floor = x[d].floor().max(0.0);
        base[d] = (floor as usize).min(dims[d] - 1);
        next[d] = (base[d] + 1).min(dims[d] - 1);
        t[d] = (x[d] - floor).max(0.0);
    }
    let at = |i: usize, j: usize, k: usize| values[i + dims[0] * (j + dims[1] * k)];
    let lerp = |a: f64, b: f64, t: f64| a + (b - a) * t;
    let plane = |k: usize| {
        let low = lerp(at(base[0], base[1], k), at(next[0], base[1], k), t[0]);
        let high = lerp(at(base[0], next[1], k), at(next[0], next[1], k), t[0]);
        lerp(low, high, t[1])
    };
    lerp(plane(base[2]), plane(next[2]), t[2])
}

/// numpy `allclose(a, b)`: |a − b| ≤ 1e-8 + 1e-5 |b| everywhere.
fn all_close(a: [f64; 3], b: [f64; 3]) -> bool {
    (0..3).all(|i| (a[i] - b[i]).abs() <= 1e-8 + 1e-5 * b[i].abs())
}

/// Resamples `image` and `mask` to `spacing` (mm along i, j, k; 0 keeps an axis' spacing), as
/// pyradiomics' `resampleImage`: the new grid starts at the mask's origin shifted by half the
/// spacing change, covers the region's bounding box plus `padDistance` new voxels (within the
/// old extent), keeps the spacing of axes along which the region is one voxel thick; the image
/// is interpolated with `settings.interpolator` and cast back to `stored` type, the mask with
/// nearest neighbour. When the new spacing equals the image's, the mask is only put on the image
/// grid and both are cropped to the region plus `padDistance`.
pub fn resample(
    image: &Image,
    mask: &Mask,
    spacing: [f64; 3],
    stored: StoredType,
    settings: &FeatureSettings,
) -> Result<(Image, Mask), FeatureError> {
    let label = settings.label;
    if spacing.iter().any(|s| !s.is_finite() || *s < 0.0) {
        return Err(FeatureError::InvalidSetting {
            key: "resampledPixelSpacing".into(),
            reason: format!("spacings must be finite and not negative, got {spacing:?}"),
        });
    }
    check_roi_inside(&image.grid, mask, label)?;
    let bbox = bounding_box(mask, label).ok_or(FeatureError::EmptyMask { label })?;
    let size = bbox.size();
    let mask_spacing = mask.grid.spacing;
    let new_spacing: [f64; 3] = [0, 1, 2].map(|a| {
        let requested = if spacing[a] == 0.0 {
            mask_spacing[a]
        } else {
            spacing[a]
        };
        if size[a] != 1 {
            requested
        } else {
            mask_spacing[a]
        }
    });
    let pad = settings.pad_distance as f64;
    if all_close(image.grid.spacing, new_spacing) {
        let on_grid = mask_onto_grid(mask, &image.grid);
        let bbox = bounding_box(&on_grid, label).ok_or(FeatureError::EmptyMask { label })?;
        let pad = settings.pad_distance;
        return Ok((
            super::preprocess::crop_image(image, &bbox, pad),
            super::preprocess::crop_mask(&on_grid, &bbox, pad),
        ));
    }
    // pyradiomics' grid arithmetic, operation for operation (numpy float64).
    let ratio = [0, 1, 2].map(|a| mask_spacing[a] / new_spacing[a]);
    let lower = [0, 1, 2].map(|a| {
        ((bbox.lower[a] as f64 - 0.5) * ratio[a] - pad)
            .floor()
            .max(0.0)
    });
    let upper = [0, 1, 2].map(|a| {
        let u = ((bbox.lower[a] + size[a]) as f64 - 0.5) * ratio[a] + pad;
        let max_upper = (mask.grid.dims[a] as f64 * ratio[a]).ceil() - 1.0;
        u.ceil().min(max_upper)
    });
    let dims = [0, 1, 2].map(|a| (upper[a] - lower[a] + 1.0) as usize);
    let origin_index = [0, 1, 2].map(|a| {
        let shift = 0.5 * (new_spacing[a] - mask_spacing[a]) / mask_spacing[a];
        shift + lower[a] / ratio[a]
    });
    let origin = ItkGeometry::new(&mask.grid).continuous_index_to_point(origin_index);
    let grid = Grid {
        dims,
        spacing: new_spacing,
        origin,
        direction: mask.grid.direction,
    };
    let indices = sample_indices(&grid, &image.grid);
    let source_dims = image.grid.dims;
    let coefficients = match settings.interpolator {
        Interpolator::BSpline => Some(bspline_coefficients(&image.voxels, source_dims)),
        _ => None,
    };
    let voxels = indices
        .iter()
        .map(|&x| {
            if !inside_buffer(x, source_dims) {
                return 0.0;
            }
            let value = match (&coefficients, settings.interpolator) {
                (Some(c), _) => bspline_at(c, source_dims, x),
                (None, Interpolator::Linear) => linear_at(&image.voxels, source_dims, x),
                (None, _) => {
                    let [i, j, k] = x.map(|v| round_half_up(v).clamp(0, i64::MAX) as usize);
                    image.voxels[image.grid.index(i, j, k)]
                }
            };
            stored.cast(value)
        })
        .collect();
    let mask_indices = if mask.grid == image.grid {
        indices
    } else {
        sample_indices(&grid, &mask.grid)
    };
    let labels = mask_indices
        .iter()
        .map(|&x| {
            if !inside_buffer(x, mask.grid.dims) {
                return 0;
            }
            let [i, j, k] = x.map(|v| round_half_up(v).clamp(0, i64::MAX) as usize);
            mask.voxels[mask.grid.index(i, j, k)]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_and_point_round_trip_with_flipped_axis() {
        let mut grid = Grid::new([4, 4, 4], [0.5, 0.5, 2.0]);
        grid.direction[1][1] = -1.0;
        grid.origin = [10.0, 20.0, -5.0];
        let p = physical_point(&grid, [1.0, 2.0, 3.0]);
        assert_eq!(p, [10.5, 19.0, 1.0]);
        assert_eq!(continuous_index(&grid, p), [1.0, 2.0, 3.0]);
    }

    #[test]
    fn one_slice_mask_lands_on_its_slice() {
        let image_grid = Grid::new([3, 3, 4], [1.0, 1.0, 2.0]);
        let mut slice_grid = Grid::new([3, 3, 1], [1.0, 1.0, 2.0]);
        slice_grid.origin = [0.0, 0.0, 4.0]; // slice k = 2
        let mut slice = Mask {
            grid: slice_grid,
            voxels: vec![0; 9],
        };
        slice.voxels[4] = 1;
        check_roi_inside(&image_grid, &slice, 1).unwrap();
        let full = mask_onto_grid(&slice, &image_grid);
        assert_eq!(full.count(1), 1);
        assert_eq!(full.voxels[image_grid.index(1, 1, 2)], 1);
        slice.grid.origin = [0.0, 0.0, 9.0];
        assert!(check_roi_inside(&image_grid, &slice, 1).is_err());
    }
}
