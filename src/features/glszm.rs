//! Grey-level size zone matrix features (16), as pyradiomics' `RadiomicsGLSZM`.
//!
//! Principal items: [`Glszm`] (the `glszm` [`FeatureFamily`]), [`glszm_matrix`] and
//! [`glszm_features`].
//!
//! Reference: pyradiomics `radiomics/glszm.py` and `cmatrices.c` (`calculate_glszm`); IBSI
//! reference manual §3.8. Zones are connected with 26-connectivity in 3-D (8 in-plane with
//! `force2D`), the offsets of pyradiomics at distance 1.

use super::texture::{
    LevelVolume, drop_empty_columns, emphasis, force_2d_axis, full_names, neighbour_offsets,
};
use super::{FeatureError, FeatureFamily, FeatureSettings};
use crate::data::image::{Image, Mask};

/// The pyradiomics `glszm` class.
#[derive(Debug, Clone, Copy, Default)]
pub struct Glszm;

impl FeatureFamily for Glszm {
    fn class_name(&self) -> &'static str {
        "glszm"
    }

    fn compute(
        &self,
        image: &Image,
        mask: &Mask,
        settings: &FeatureSettings,
    ) -> Result<Vec<(String, f64)>, FeatureError> {
        let volume = LevelVolume::new(image, mask, settings)?;
        let matrix = glszm_matrix(&volume, settings)?;
        Ok(full_names("glszm", glszm_features(&matrix)))
    }

    fn feature_names(&self) -> &'static [&'static str] {
        &GLSZM_FEATURES
    }
}

/// A zone-count matrix: rows are grey levels, columns zone sizes.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneMatrix {
    /// Row values: the grey levels present in the region.
    pub gray_levels: Vec<u32>,
    /// Column values: the zone sizes (or dependence counts + 1) that occur, ascending.
    pub sizes: Vec<f64>,
    /// Row-major `gray_levels.len() × sizes.len()` counts.
    pub counts: Vec<f64>,
}

/// The region's size-zone matrix (empty size columns removed, as pyradiomics does).
pub fn glszm_matrix(
    volume: &LevelVolume,
    settings: &FeatureSettings,
) -> Result<ZoneMatrix, FeatureError> {
    let offsets = neighbour_offsets(volume.size_kji(), &[1], force_2d_axis(settings)?, true)?;
    let rank = volume.level_index();
    let mut visited = vec![false; volume.levels.len()];
    let mut zones: Vec<(usize, usize)> = Vec::new(); // (grey-level rank, size)
    let mut stack = Vec::new();
    for start in 0..volume.levels.len() {
        let level = volume.levels[start];
        if level == 0 || visited[start] {
            continue;
        }
        visited[start] = true;
        stack.push(start);
        let mut size = 0;
        while let Some(index) = stack.pop() {
            size += 1;
            let position = volume.position(index);
            for &offset in &offsets {
                if let Some(other) = volume.neighbour(position, offset)
                    && !visited[other]
                    && volume.levels[other] == level
                {
                    visited[other] = true;
                    stack.push(other);
                }
            }
        }
        zones.push((rank[level as usize], size));
    }
    let largest = zones.iter().map(|z| z.1).max().unwrap_or(1);
    let rows = volume.gray_levels.len();
    let mut counts = vec![0.0; rows * largest];
    for (row, size) in zones {
        counts[row * largest + size - 1] += 1.0;
    }
    let sizes: Vec<f64> = (1..=largest).map(|s| s as f64).collect();
    let (counts, sizes) = drop_empty_columns(&counts, rows, &sizes);
    Ok(ZoneMatrix {
        gray_levels: volume.gray_levels.clone(),
        sizes,
        counts,
    })
}

/// The GLSZM feature names, in pyradiomics' output order.
pub const GLSZM_FEATURES: [&str; 16] = [
    "GrayLevelNonUniformity",
    "GrayLevelNonUniformityNormalized",
    "GrayLevelVariance",
    "HighGrayLevelZoneEmphasis",
    "LargeAreaEmphasis",
    "LargeAreaHighGrayLevelEmphasis",
    "LargeAreaLowGrayLevelEmphasis",
    "LowGrayLevelZoneEmphasis",
    "SizeZoneNonUniformity",
    "SizeZoneNonUniformityNormalized",
    "SmallAreaEmphasis",
    "SmallAreaHighGrayLevelEmphasis",
    "SmallAreaLowGrayLevelEmphasis",
    "ZoneEntropy",
    "ZonePercentage",
    "ZoneVariance",
];

/// The 16 GLSZM features in [`GLSZM_FEATURES`] order.
pub fn glszm_features(matrix: &ZoneMatrix) -> Vec<(&'static str, f64)> {
    let i_values: Vec<f64> = matrix.gray_levels.iter().map(|&g| f64::from(g)).collect();
    let zones: f64 = matrix.counts.iter().sum();
    let zones = if zones == 0.0 { 1.0 } else { zones };
    let e = emphasis(&matrix.counts, &i_values, &matrix.sizes, zones);
    let voxels = if e.voxels == 0.0 { 1.0 } else { e.voxels };
    let values = [
        e.gray_nonuniformity,
        e.gray_nonuniformity_normalized,
        e.gray_variance,
        e.high_gray,
        e.large,
        e.large_high_gray,
        e.large_low_gray,
        e.low_gray,
        e.size_nonuniformity,
        e.size_nonuniformity_normalized,
        e.small,
        e.small_high_gray,
        e.small_low_gray,
        e.entropy,
        zones / voxels,
        e.size_variance,
    ];
    GLSZM_FEATURES.iter().copied().zip(values).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::image::Grid;

    #[test]
    fn zones_are_26_connected() {
        // 3 × 3 × 1: level 1 on the two diagonals' corners and centre (connected through the
        // centre diagonally), level 2 on the four edges (each touching the next diagonally).
        let grid = Grid::new([3, 3, 1], [1.0; 3]);
        let values = vec![1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 1.0];
        let image = Image {
            grid: grid.clone(),
            voxels: values,
        };
        let mask = Mask {
            grid,
            voxels: vec![1; 9],
        };
        let settings = FeatureSettings {
            bin_width: 1.0,
            ..FeatureSettings::default()
        };
        let volume = LevelVolume::new(&image, &mask, &settings).unwrap();
        let m = glszm_matrix(&volume, &settings).unwrap();
        assert_eq!(m.sizes, vec![4.0, 5.0]);
        assert_eq!(m.counts, vec![0.0, 1.0, 1.0, 0.0]);
        let f = glszm_features(&m);
        let get = |n: &str| f.iter().find(|(name, _)| *name == n).unwrap().1;
        assert!((get("ZonePercentage") - 2.0 / 9.0).abs() < 1e-15);
        assert!((get("LargeAreaEmphasis") - (16.0 + 25.0) / 2.0).abs() < 1e-12);
    }
}
