//! Grey-level dependence matrix features (14), as pyradiomics' `RadiomicsGLDM` (IBSI's
//! neighbouring grey level dependence matrix, NGLDM).
//!
//! Principal items: [`Gldm`] (the `gldm` [`FeatureFamily`]), [`gldm_matrix`] and
//! [`gldm_features`].
//!
//! Reference: pyradiomics `radiomics/gldm.py` and `cmatrices.c` (`calculate_gldm`); IBSI
//! reference manual §3.11. A neighbour (pyradiomics offsets at `distances`, both directions)
//! inside the region depends on the centre when their grey levels differ by at most `gldm_a`;
//! the column value is the dependence count plus one.

use super::glszm::ZoneMatrix;
use super::texture::{
    LevelVolume, drop_empty_columns, emphasis, force_2d_axis, full_names, neighbour_offsets,
    unique_distances,
};
use super::{FeatureError, FeatureFamily, FeatureSettings};
use crate::data::image::{Image, Mask};

/// The pyradiomics `gldm` class.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gldm;

impl FeatureFamily for Gldm {
    fn class_name(&self) -> &'static str {
        "gldm"
    }

    fn compute(
        &self,
        image: &Image,
        mask: &Mask,
        settings: &FeatureSettings,
    ) -> Result<Vec<(String, f64)>, FeatureError> {
        let volume = LevelVolume::new(image, mask, settings)?;
        let matrix = gldm_matrix(&volume, settings)?;
        Ok(full_names("gldm", gldm_features(&matrix)))
    }

    fn feature_names(&self) -> &'static [&'static str] {
        &GLDM_FEATURES
    }

    fn valueless_features(&self) -> &'static [&'static str] {
        &["DependencePercentage", "GrayLevelNonUniformityNormalized"]
    }
}

/// The region's dependence matrix (columns: dependence count + 1; empty columns removed).
pub fn gldm_matrix(
    volume: &LevelVolume,
    settings: &FeatureSettings,
) -> Result<ZoneMatrix, FeatureError> {
    let offsets = neighbour_offsets(
        volume.size_kji(),
        &unique_distances(settings),
        force_2d_axis(settings)?,
        true,
    )?;
    let rank = volume.level_index();
    let columns = offsets.len() + 1;
    let rows = volume.gray_levels.len();
    let mut counts = vec![0.0; rows * columns];
    let alpha = i64::from(settings.gldm_a);
    for (index, &level) in volume.levels.iter().enumerate() {
        if level == 0 {
            continue;
        }
        let position = volume.position(index);
        let dependent = offsets
            .iter()
            .filter_map(|&offset| volume.neighbour(position, offset))
            .filter(|&other| {
                let neighbour = volume.levels[other];
                neighbour != 0 && (i64::from(level) - i64::from(neighbour)).abs() <= alpha
            })
            .count();
        counts[rank[level as usize] * columns + dependent] += 1.0;
    }
    let sizes: Vec<f64> = (1..=columns).map(|c| c as f64).collect();
    let (counts, sizes) = drop_empty_columns(&counts, rows, &sizes);
    Ok(ZoneMatrix {
        gray_levels: volume.gray_levels.clone(),
        sizes,
        counts,
    })
}

/// The GLDM feature names, in pyradiomics' output order (deprecated ones left out).
pub const GLDM_FEATURES: [&str; 14] = [
    "DependenceEntropy",
    "DependenceNonUniformity",
    "DependenceNonUniformityNormalized",
    "DependenceVariance",
    "GrayLevelNonUniformity",
    "GrayLevelVariance",
    "HighGrayLevelEmphasis",
    "LargeDependenceEmphasis",
    "LargeDependenceHighGrayLevelEmphasis",
    "LargeDependenceLowGrayLevelEmphasis",
    "LowGrayLevelEmphasis",
    "SmallDependenceEmphasis",
    "SmallDependenceHighGrayLevelEmphasis",
    "SmallDependenceLowGrayLevelEmphasis",
];

/// The 14 GLDM features in [`GLDM_FEATURES`] order.
pub fn gldm_features(matrix: &ZoneMatrix) -> Vec<(&'static str, f64)> {
    let i_values: Vec<f64> = matrix.gray_levels.iter().map(|&g| f64::from(g)).collect();
    let voxels: f64 = matrix.counts.iter().sum();
    let voxels = if voxels == 0.0 { 1.0 } else { voxels };
    let e = emphasis(&matrix.counts, &i_values, &matrix.sizes, voxels);
    let values = [
        e.entropy,
        e.size_nonuniformity,
        e.size_nonuniformity_normalized,
        e.size_variance,
        e.gray_nonuniformity,
        e.gray_variance,
        e.high_gray,
        e.large,
        e.large_high_gray,
        e.large_low_gray,
        e.low_gray,
        e.small,
        e.small_high_gray,
        e.small_low_gray,
    ];
    GLDM_FEATURES.iter().copied().zip(values).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::image::Grid;

    #[test]
    fn dependences_by_hand() {
        // Row 1 1 2 (3 × 1 × 1): voxel 0 has one dependent neighbour, voxel 1 one, voxel 2 none.
        let grid = Grid::new([3, 1, 1], [1.0; 3]);
        let image = Image {
            grid: grid.clone(),
            voxels: vec![1.0, 1.0, 2.0],
        };
        let mask = Mask {
            grid,
            voxels: vec![1; 3],
        };
        let settings = FeatureSettings {
            bin_width: 1.0,
            ..FeatureSettings::default()
        };
        let volume = LevelVolume::new(&image, &mask, &settings).unwrap();
        let m = gldm_matrix(&volume, &settings).unwrap();
        assert_eq!(m.sizes, vec![1.0, 2.0]);
        assert_eq!(m.counts, vec![0.0, 2.0, 1.0, 0.0]);
        let alpha = FeatureSettings {
            gldm_a: 1,
            ..settings
        };
        let m = gldm_matrix(&volume, &alpha).unwrap();
        // With α = 1, voxel 1 depends on both neighbours, voxel 2 on voxel 1.
        assert_eq!(m.sizes, vec![2.0, 3.0]);
        assert_eq!(m.counts, vec![1.0, 1.0, 1.0, 0.0]);
    }
}
