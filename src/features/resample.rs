//! Moving between voxel grids: index ↔ physical point, nearest-neighbour mask resampling
//! (pyradiomics `correctMask`) and resampling of image and mask to a new spacing (pyradiomics
//! `resampledPixelSpacing`).
//!
//! Principal items: [`physical_point`], [`continuous_index`], [`check_roi_inside`],
//! [`mask_onto_grid`], [`resample`]. Reference: pyradiomics `imageoperations._checkROI`,
//! `_correctMask`, `resampleImage`; ITK `ResampleImageFilter` and
//! `NearestNeighborInterpolateImageFunction` (index = ⌊x + ½⌋, inside when −½ ≤ x < size − ½).

use super::preprocess::bounding_box;
use super::{FeatureError, FeatureSettings};
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

/// The mask resampled onto `grid` with nearest-neighbour interpolation (0 outside the mask).
pub fn mask_onto_grid(mask: &Mask, grid: &Grid) -> Mask {
    let mut voxels = Vec::with_capacity(grid.len());
    for k in 0..grid.dims[2] {
        for j in 0..grid.dims[1] {
            for i in 0..grid.dims[0] {
                let point = physical_point(grid, [i as f64, j as f64, k as f64]);
                let index = continuous_index(&mask.grid, point);
                let nearest = index.map(|x| (x + 0.5).floor());
                let inside =
                    (0..3).all(|a| nearest[a] >= 0.0 && nearest[a] < mask.grid.dims[a] as f64);
                voxels.push(if inside {
                    let [a, b, c] = nearest.map(|x| x as usize);
                    mask.voxels[mask.grid.index(a, b, c)]
                } else {
                    0
                });
            }
        }
    }
    Mask {
        grid: grid.clone(),
        voxels,
    }
}

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
