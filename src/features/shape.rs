//! Shape features of the region, named and computed as pyradiomics' `RadiomicsShape` (3-D,
//! 14 features) and `RadiomicsShape2D` (2-D, 9 features).
//!
//! Principal items: [`Shape`] (`shape`) and [`Shape2d`] (`shape2D`), both [`FeatureFamily`].
//!
//! Reference: pyradiomics `radiomics/shape.py`, `shape2D.py` and `src/cshape.c`; IBSI reference
//! manual §3.1 (morphology). The surface is the marching-cubes mesh of the mask padded by one
//! voxel ([`super::marching_cubes`]); axis lengths come from the eigenvalues of the covariance
//! of the voxel-centre coordinates (divided by N, or N − 1 in IBSI mode); voxel volume is the
//! voxel count times the voxel size.

use super::linalg::symmetric_eigenvalues;
use super::marching_cubes::{mesh_coefficients, mesh_coefficients_2d};
use super::preprocess::bounding_box;
use super::{FeatureError, FeatureFamily, FeatureSettings};
use crate::data::image::{Image, Mask};

/// The pyradiomics `shape` class (3-D).
#[derive(Debug, Clone, Copy, Default)]
pub struct Shape;

/// The pyradiomics `shape2D` class (a 2-D region, or one slice with `force2D`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Shape2d;

/// The 3-D shape feature names, in pyradiomics' output order (deprecated ones left out).
pub const SHAPE_FEATURES: [&str; 14] = [
    "Elongation",
    "Flatness",
    "LeastAxisLength",
    "MajorAxisLength",
    "Maximum2DDiameterColumn",
    "Maximum2DDiameterRow",
    "Maximum2DDiameterSlice",
    "Maximum3DDiameter",
    "MeshVolume",
    "MinorAxisLength",
    "Sphericity",
    "SurfaceArea",
    "SurfaceVolumeRatio",
    "VoxelVolume",
];

/// Deprecated 3-D shape features pyradiomics computes only when named.
pub const SHAPE_DEPRECATED: [&str; 3] = ["Compactness1", "Compactness2", "SphericalDisproportion"];

/// The 2-D shape feature names, in pyradiomics' output order.
pub const SHAPE2D_FEATURES: [&str; 9] = [
    "Elongation",
    "MajorAxisLength",
    "MaximumDiameter",
    "MeshSurface",
    "MinorAxisLength",
    "Perimeter",
    "PerimeterSurfaceRatio",
    "PixelSurface",
    "Sphericity",
];

/// The region cropped to its bounding box and padded by one outside voxel on every side.
struct PaddedRegion {
    /// Inside flags, i fastest.
    inside: Vec<bool>,
    /// Padded size along i, j, k.
    dims: [usize; 3],
    /// Each region voxel's padded index in (k, j, i) order.
    voxels: Vec<[usize; 3]>,
}

fn padded_region(mask: &Mask, label: u8) -> Result<PaddedRegion, FeatureError> {
    let bbox = bounding_box(mask, label).ok_or(FeatureError::EmptyMask { label })?;
    let size = bbox.size();
    let dims = size.map(|s| s + 2);
    let mut inside = vec![false; dims.iter().product()];
    let mut voxels = Vec::new();
    let [nx, ny, _] = mask.grid.dims;
    for k in 0..size[2] {
        for j in 0..size[1] {
            for i in 0..size[0] {
                let source =
                    (bbox.lower[0] + i) + nx * ((bbox.lower[1] + j) + ny * (bbox.lower[2] + k));
                if mask.voxels[source] == label {
                    inside[(i + 1) + dims[0] * ((j + 1) + dims[1] * (k + 1))] = true;
                    voxels.push([k + 1, j + 1, i + 1]);
                }
            }
        }
    }
    Ok(PaddedRegion {
        inside,
        dims,
        voxels,
    })
}

/// Eigenvalues (ascending) of the covariance of voxel-centre coordinates (`axes` of each, in
/// mm), divided by N (pyradiomics) or N − 1 (IBSI). Values in (−1e−10, 0) are set to 0 as
/// pyradiomics does.
fn axis_eigenvalues<const D: usize>(points: &[[f64; D]], ibsi: bool) -> Vec<f64> {
    let n = points.len() as f64;
    let mut mean = [0.0; D];
    for p in points {
        for d in 0..D {
            mean[d] += p[d];
        }
    }
    mean.iter_mut().for_each(|m| *m /= n);
    let scale = n.sqrt();
    let mut covariance = vec![0.0; D * D];
    for p in points {
        let centred: [f64; D] = std::array::from_fn(|d| (p[d] - mean[d]) / scale);
        for a in 0..D {
            for b in 0..D {
                covariance[a * D + b] += centred[a] * centred[b];
            }
        }
    }
    if ibsi && points.len() > 1 {
        covariance.iter_mut().for_each(|c| *c *= n / (n - 1.0));
    }
    let mut eigenvalues = symmetric_eigenvalues(covariance, D).unwrap_or_else(|| vec![f64::NAN; D]);
    for e in &mut eigenvalues {
        if *e < 0.0 && *e > -1e-10 {
            *e = 0.0;
        }
    }
    eigenvalues
}

/// 4 √λ, NaN for a negative eigenvalue (pyradiomics).
fn axis_length(eigenvalue: f64) -> f64 {
    if eigenvalue < 0.0 {
        f64::NAN
    } else {
        4.0 * eigenvalue.sqrt()
    }
}

/// √(small / large), NaN when either is negative.
fn axis_ratio(small: f64, large: f64) -> f64 {
    if small < 0.0 || large < 0.0 {
        f64::NAN
    } else {
        (small / large).sqrt()
    }
}

impl FeatureFamily for Shape {
    fn class_name(&self) -> &'static str {
        "shape"
    }

    fn compute_all(
        &self,
        image: &Image,
        mask: &Mask,
        settings: &FeatureSettings,
    ) -> Result<Vec<(String, f64)>, FeatureError> {
        let PaddedRegion {
            inside,
            dims,
            voxels,
        } = padded_region(mask, settings.label)?;
        let spacing = image.grid.spacing;
        let mesh = mesh_coefficients(&inside, dims, spacing);
        let spacing_kji = [spacing[2], spacing[1], spacing[0]];
        let points: Vec<[f64; 3]> = voxels
            .iter()
            .map(|v| [0, 1, 2].map(|d| v[d] as f64 * spacing_kji[d]))
            .collect();
        let eig = axis_eigenvalues(&points, settings.ibsi);
        let (area, volume) = (mesh.surface_area, mesh.volume);
        let values = [
            axis_ratio(eig[1], eig[2]),
            axis_ratio(eig[0], eig[2]),
            axis_length(eig[0]),
            axis_length(eig[2]),
            mesh.diameters[1],
            mesh.diameters[2],
            mesh.diameters[0],
            mesh.diameters[3],
            volume,
            axis_length(eig[1]),
            (36.0 * std::f64::consts::PI * volume * volume).powf(1.0 / 3.0) / area,
            area,
            area / volume,
            voxels.len() as f64 * (spacing_kji[0] * spacing_kji[2] * spacing_kji[1]),
            // Deprecated, computed when named: Compactness1, Compactness2, SphericalDisproportion.
            volume / (area.powf(3.0 / 2.0) * std::f64::consts::PI.sqrt()),
            (36.0 * std::f64::consts::PI) * volume.powf(2.0) / area.powf(3.0),
            area / (36.0 * std::f64::consts::PI * volume * volume).powf(1.0 / 3.0),
        ];
        Ok(SHAPE_FEATURES
            .iter()
            .chain(SHAPE_DEPRECATED.iter())
            .zip(values)
            .map(|(name, value)| (format!("original_shape_{name}"), value))
            .collect())
    }

    fn compute(
        &self,
        image: &Image,
        mask: &Mask,
        settings: &FeatureSettings,
    ) -> Result<Vec<(String, f64)>, FeatureError> {
        let mut all = self.compute_all(image, mask, settings)?;
        all.truncate(SHAPE_FEATURES.len());
        Ok(all)
    }

    fn uses_morphological_mask(&self) -> bool {
        true
    }

    fn feature_names(&self) -> &'static [&'static str] {
        &SHAPE_FEATURES
    }

    fn deprecated_features(&self) -> &'static [&'static str] {
        &SHAPE_DEPRECATED
    }
}

impl FeatureFamily for Shape2d {
    fn class_name(&self) -> &'static str {
        "shape2D"
    }

    fn compute_all(
        &self,
        image: &Image,
        mask: &Mask,
        settings: &FeatureSettings,
    ) -> Result<Vec<(String, f64)>, FeatureError> {
        if !settings.force_2d {
            return Err(FeatureError::InvalidSetting {
                key: "force2D".into(),
                reason: "shape2D needs force2D: true (as in pyradiomics)".into(),
            });
        }
        let PaddedRegion { dims, voxels, .. } = padded_region(mask, settings.label)?;
        // The 2-D plane: the two numpy axes other than force2Ddimension (k = 0, j = 1, i = 2).
        let normal = settings.force_2d_dimension;
        if normal > 2 {
            return Err(FeatureError::InvalidSetting {
                key: "force2Ddimension".into(),
                reason: format!("must be 0, 1 or 2, got {normal}"),
            });
        }
        let dims_kji = [dims[2], dims[1], dims[0]];
        if dims_kji[normal] != 3 {
            return Err(FeatureError::NotSingleSlice {
                axis: normal,
                extent: dims_kji[normal] - 2,
            });
        }
        let axes: Vec<usize> = (0..3).filter(|&a| a != normal).collect();
        let spacing_kji = [
            image.grid.spacing[2],
            image.grid.spacing[1],
            image.grid.spacing[0],
        ];
        let spacing = [spacing_kji[axes[0]], spacing_kji[axes[1]]];
        let (rows, columns) = (dims_kji[axes[0]], dims_kji[axes[1]]);
        // The middle plane of the padded region, rows along axes[0] and columns along axes[1];
        // the padding along the normal is dropped and the in-plane padding kept.
        let mut plane = vec![false; rows * columns];
        for v in &voxels {
            plane[v[axes[0]] * columns + v[axes[1]]] = true;
        }
        let mesh = mesh_coefficients_2d(&plane, rows, columns, spacing);
        let points: Vec<[f64; 2]> = voxels
            .iter()
            .map(|v| {
                [
                    v[axes[0]] as f64 * spacing[0],
                    v[axes[1]] as f64 * spacing[1],
                ]
            })
            .collect();
        let eig = axis_eigenvalues(&points, settings.ibsi);
        let (perimeter, surface) = (mesh.perimeter, mesh.surface);
        let values = [
            axis_ratio(eig[0], eig[1]),
            axis_length(eig[1]),
            mesh.diameter,
            surface,
            axis_length(eig[0]),
            perimeter,
            perimeter / surface,
            voxels.len() as f64 * (spacing[1] * spacing[0]),
            2.0 * (std::f64::consts::PI * surface).sqrt() / perimeter,
        ];
        let sphericity = values[8];
        Ok(SHAPE2D_FEATURES
            .iter()
            .zip(values)
            // Deprecated, computed when named.
            .chain(std::iter::once((
                &"SphericalDisproportion",
                1.0 / sphericity,
            )))
            .map(|(name, value)| (format!("original_shape2D_{name}"), value))
            .collect())
    }

    fn compute(
        &self,
        image: &Image,
        mask: &Mask,
        settings: &FeatureSettings,
    ) -> Result<Vec<(String, f64)>, FeatureError> {
        let mut all = self.compute_all(image, mask, settings)?;
        all.truncate(SHAPE2D_FEATURES.len());
        Ok(all)
    }

    fn uses_morphological_mask(&self) -> bool {
        true
    }

    fn feature_names(&self) -> &'static [&'static str] {
        &SHAPE2D_FEATURES
    }

    fn deprecated_features(&self) -> &'static [&'static str] {
        &["SphericalDisproportion"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::image::Grid;

    fn get(features: &[(String, f64)], name: &str) -> f64 {
        features.iter().find(|(n, _)| n.ends_with(name)).unwrap().1
    }

    #[test]
    fn box_region_volume_axes_and_diameters() {
        // A 4 × 2 × 1 block of voxels, spacing 1 × 2 × 3 mm.
        let grid = Grid::new([6, 4, 3], [1.0, 2.0, 3.0]);
        let mut voxels = vec![0u8; grid.len()];
        for i in 1..5 {
            for j in 1..3 {
                voxels[grid.index(i, j, 1)] = 1;
            }
        }
        let image = Image {
            grid: grid.clone(),
            voxels: vec![0.0; grid.len()],
        };
        let mask = Mask { grid, voxels };
        let f = Shape
            .compute(&image, &mask, &FeatureSettings::default())
            .unwrap();
        assert_eq!(f.len(), 14);
        assert_eq!(get(&f, "VoxelVolume"), 8.0 * 6.0);
        // i coordinates 1..4 mm: population variance 1.25 → major axis 4·√1.25; j: 2 mm apart →
        // variance 1 → minor 4; k constant → least 0.
        assert!((get(&f, "MajorAxisLength") - 4.0 * 1.25f64.sqrt()).abs() < 1e-12);
        assert!((get(&f, "MinorAxisLength") - 4.0).abs() < 1e-12);
        assert_eq!(get(&f, "LeastAxisLength"), 0.0);
        assert!(get(&f, "MeshVolume") > 0.0 && get(&f, "MeshVolume") < 48.0);
        let ibsi = FeatureSettings {
            ibsi: true,
            ..FeatureSettings::default()
        };
        let g = Shape.compute(&image, &mask, &ibsi).unwrap();
        assert!((get(&g, "MinorAxisLength") - 4.0 * (8.0f64 / 7.0).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn shape2d_needs_a_single_slice() {
        let grid = Grid::new([3, 3, 2], [1.0; 3]);
        let mut voxels = vec![0u8; grid.len()];
        voxels[grid.index(1, 1, 0)] = 1;
        voxels[grid.index(2, 1, 0)] = 1;
        let image = Image {
            grid: grid.clone(),
            voxels: vec![0.0; grid.len()],
        };
        let mut mask = Mask {
            grid: grid.clone(),
            voxels,
        };
        let settings = FeatureSettings {
            force_2d: true,
            ..FeatureSettings::default()
        };
        let f = Shape2d.compute(&image, &mask, &settings).unwrap();
        assert_eq!(get(&f, "PixelSurface"), 2.0);
        // Two diamonds joined: area 0.5 + 0.5 + the square between them (0.5) … = 1.5.
        assert!((get(&f, "MeshSurface") - 1.5).abs() < 1e-12);
        mask.voxels[grid.index(1, 1, 1)] = 1;
        assert!(Shape2d.compute(&image, &mask, &settings).is_err());
    }
}
