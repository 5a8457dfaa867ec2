//! Grey-level run length matrix features (16), as pyradiomics' `RadiomicsGLRLM`.
//!
//! Principal items: [`Glrlm`] (the `glrlm` [`FeatureFamily`]), [`glrlm_matrices`] and
//! [`glrlm_features`].
//!
//! Reference: pyradiomics `radiomics/glrlm.py` and `cmatrices.c` (`calculate_glrlm`); IBSI
//! reference manual §3.7. Runs follow the 13 (3-D) or 4 (2-D) mono-directional offsets through
//! the region's bounding box; a direction in which no line holds two region voxels is dropped, as
//! are directions without runs; features are averaged over directions ignoring NaN, unless
//! `weightingNorm` merges the matrices first.

use super::texture::{
    LevelVolume, drop_empty_columns, emphasis, force_2d_axis, full_names, nan_mean,
    neighbour_offsets,
};
use super::{FeatureError, FeatureFamily, FeatureSettings, WeightingNorm};
use crate::data::image::{Image, Mask};

/// The pyradiomics `glrlm` class.
#[derive(Debug, Clone, Copy, Default)]
pub struct Glrlm;

impl FeatureFamily for Glrlm {
    fn class_name(&self) -> &'static str {
        "glrlm"
    }

    fn compute(
        &self,
        image: &Image,
        mask: &Mask,
        settings: &FeatureSettings,
    ) -> Result<Vec<(String, f64)>, FeatureError> {
        let volume = LevelVolume::new(image, mask, settings)?;
        let matrices = glrlm_matrices(&volume, settings)?;
        Ok(full_names("glrlm", glrlm_features(&matrices)))
    }

    fn feature_names(&self) -> &'static [&'static str] {
        &GLRLM_FEATURES
    }
}

/// Run-length count matrices of a region.
#[derive(Debug, Clone, PartialEq)]
pub struct GlrlmMatrices {
    /// The grey levels present in the region (row values).
    pub gray_levels: Vec<u32>,
    /// Run lengths 1..=max(bounding-box size) (column values).
    pub max_run: usize,
    /// One row-major `gray_levels.len() × max_run` count matrix per kept direction (a single
    /// weighted sum with `weightingNorm`).
    pub matrices: Vec<Vec<f64>>,
    /// The (k, j, i) offset of each matrix; empty when merged.
    pub offsets: Vec<[i64; 3]>,
}

/// Run counts along one offset.
fn runs_along(volume: &LevelVolume, offset: [i64; 3], rank: &[usize], max_run: usize) -> Vec<f64> {
    let n = volume.gray_levels.len();
    let mut counts = vec![0.0; n * max_run];
    let back = [-offset[0], -offset[1], -offset[2]];
    let mut any_line_with_two = false;
    for start in 0..volume.levels.len() {
        let position = volume.position(start);
        // A line starts where stepping back leaves the bounding box.
        if volume.neighbour(position, back).is_some() {
            continue;
        }
        let mut current = Some(start);
        let mut run: Option<(u32, usize)> = None;
        let mut elements = 0;
        let mut record =
            |level: u32, length: usize| counts[rank[level as usize] * max_run + length - 1] += 1.0;
        while let Some(index) = current {
            let level = volume.levels[index];
            if level != 0 {
                elements += 1;
                run = match run {
                    Some((g, length)) if g == level => Some((g, length + 1)),
                    Some((g, length)) => {
                        record(g, length);
                        Some((level, 1))
                    }
                    None => Some((level, 1)),
                };
            } else if let Some((g, length)) = run.take() {
                record(g, length);
            }
            current = volume.neighbour(volume.position(index), offset);
        }
        if let Some((g, length)) = run {
            record(g, length);
        }
        any_line_with_two |= elements > 1;
    }
    if !any_line_with_two {
        // pyradiomics: the region is flat along this direction; its runs are discarded.
        counts.iter_mut().for_each(|c| *c = 0.0);
    }
    counts
}

/// Weight of one direction under `weightingNorm` (pyradiomics `glrlm._calculateMatrix`).
fn weight(norm: WeightingNorm, offset: [i64; 3], spacing_kji: [f64; 3]) -> f64 {
    let scaled = [0, 1, 2].map(|a| offset[a].abs() as f64 * spacing_kji[a]);
    match norm {
        WeightingNorm::Infinity => scaled.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        WeightingNorm::Euclidean => scaled.iter().map(|s| s * s).sum::<f64>().sqrt(),
        WeightingNorm::Manhattan => scaled.iter().sum(),
        WeightingNorm::NoWeighting => 1.0,
    }
}

/// The region's run-length matrices as pyradiomics builds them.
pub fn glrlm_matrices(
    volume: &LevelVolume,
    settings: &FeatureSettings,
) -> Result<GlrlmMatrices, FeatureError> {
    // GLRLM always uses distance 1, whatever `distances` says.
    let offsets = neighbour_offsets(volume.size_kji(), &[1], force_2d_axis(settings)?, false)?;
    let max_run = volume.dims.iter().copied().max().unwrap_or(1);
    let rank = volume.level_index();
    let mut matrices: Vec<Vec<f64>> = offsets
        .iter()
        .map(|&o| runs_along(volume, o, &rank, max_run))
        .collect();
    let mut kept = offsets.clone();
    if let Some(norm) = settings.weighting_norm {
        let spacing_kji = [volume.spacing[2], volume.spacing[1], volume.spacing[0]];
        let mut merged = vec![0.0; matrices[0].len()];
        for (matrix, &offset) in matrices.iter().zip(&offsets) {
            let w = weight(norm, offset, spacing_kji);
            for (m, v) in merged.iter_mut().zip(matrix) {
                *m += v * w;
            }
        }
        matrices = vec![merged];
        kept.clear();
    } else if matrices.len() > 1 {
        let keep: Vec<bool> = matrices
            .iter()
            .map(|m| m.iter().sum::<f64>() != 0.0)
            .collect();
        let mut flags = keep.iter();
        matrices.retain(|_| *flags.next().unwrap_or(&true));
        let mut flags = keep.iter();
        kept.retain(|_| *flags.next().unwrap_or(&true));
    }
    Ok(GlrlmMatrices {
        gray_levels: volume.gray_levels.clone(),
        max_run,
        matrices,
        offsets: kept,
    })
}

/// The GLRLM feature names, in pyradiomics' output order.
pub const GLRLM_FEATURES: [&str; 16] = [
    "GrayLevelNonUniformity",
    "GrayLevelNonUniformityNormalized",
    "GrayLevelVariance",
    "HighGrayLevelRunEmphasis",
    "LongRunEmphasis",
    "LongRunHighGrayLevelEmphasis",
    "LongRunLowGrayLevelEmphasis",
    "LowGrayLevelRunEmphasis",
    "RunEntropy",
    "RunLengthNonUniformity",
    "RunLengthNonUniformityNormalized",
    "RunPercentage",
    "RunVariance",
    "ShortRunEmphasis",
    "ShortRunHighGrayLevelEmphasis",
    "ShortRunLowGrayLevelEmphasis",
];

/// The 16 GLRLM features, averaged over directions, in [`GLRLM_FEATURES`] order.
pub fn glrlm_features(matrices: &GlrlmMatrices) -> Vec<(&'static str, f64)> {
    let i_values: Vec<f64> = matrices.gray_levels.iter().map(|&g| f64::from(g)).collect();
    let j_values: Vec<f64> = (1..=matrices.max_run).map(|j| j as f64).collect();
    let per: Vec<[f64; 16]> = matrices
        .matrices
        .iter()
        .map(|matrix| {
            let (matrix, j_values) = drop_empty_columns(matrix, i_values.len(), &j_values);
            let runs: f64 = matrix.iter().sum();
            // pyradiomics: a direction without runs has N = NaN, so every feature is NaN.
            let runs = if runs == 0.0 { f64::NAN } else { runs };
            let e = emphasis(&matrix, &i_values, &j_values, runs);
            [
                e.gray_nonuniformity,
                e.gray_nonuniformity_normalized,
                e.gray_variance,
                e.high_gray,
                e.large,
                e.large_high_gray,
                e.large_low_gray,
                e.low_gray,
                e.entropy,
                e.size_nonuniformity,
                e.size_nonuniformity_normalized,
                runs / e.voxels,
                e.size_variance,
                e.small,
                e.small_high_gray,
                e.small_low_gray,
            ]
        })
        .collect();
    GLRLM_FEATURES
        .iter()
        .enumerate()
        .map(|(index, &name)| {
            (
                name,
                nan_mean(&per.iter().map(|f| f[index]).collect::<Vec<_>>()),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::image::Grid;

    #[test]
    fn runs_in_one_row_by_hand() {
        // One row 1 1 2 in a 3 × 2 slice whose second row is outside the region.
        let grid = Grid::new([3, 2, 1], [1.0; 3]);
        let image = Image {
            grid: grid.clone(),
            voxels: vec![1.0, 1.0, 2.0, 0.0, 0.0, 0.0],
        };
        let mask = Mask {
            grid,
            voxels: vec![1, 1, 1, 0, 0, 0],
        };
        let settings = FeatureSettings {
            bin_width: 1.0,
            ..FeatureSettings::default()
        };
        let volume = LevelVolume::new(&image, &mask, &settings).unwrap();
        // Bounding box 3 × 1 × 1: offsets along i only → one direction (0, 0, 1).
        let m = glrlm_matrices(&volume, &settings).unwrap();
        assert_eq!(m.offsets, vec![[0, 0, 1]]);
        assert_eq!(m.max_run, 3);
        // Level 1: one run of 2; level 2: one run of 1.
        assert_eq!(m.matrices[0], vec![0.0, 1.0, 0.0, 1.0, 0.0, 0.0]);
        let f = glrlm_features(&m);
        let get = |n: &str| f.iter().find(|(name, _)| *name == n).unwrap().1;
        assert!((get("ShortRunEmphasis") - (0.25 + 1.0) / 2.0).abs() < 1e-15);
        assert!((get("RunPercentage") - 2.0 / 3.0).abs() < 1e-15);
        assert!((get("LongRunEmphasis") - 2.5).abs() < 1e-15);
    }

    #[test]
    fn a_direction_crossing_single_voxels_only_is_dropped() {
        // A 2 × 2 slice whose region is the diagonal (0,0), (1,1): only the (0, 1, 1) direction
        // meets two region voxels on one line; the other three are dropped.
        let grid = Grid::new([2, 2, 1], [1.0; 3]);
        let image = Image {
            grid: grid.clone(),
            voxels: vec![1.0, 2.0, 3.0, 1.0],
        };
        let mask = Mask {
            grid,
            voxels: vec![1, 0, 0, 1],
        };
        let settings = FeatureSettings {
            bin_width: 1.0,
            ..FeatureSettings::default()
        };
        let volume = LevelVolume::new(&image, &mask, &settings).unwrap();
        let m = glrlm_matrices(&volume, &settings).unwrap();
        assert_eq!(m.offsets, vec![[0, 1, 1]]);
        // One run of level 1, length 2.
        assert_eq!(m.matrices[0], vec![0.0, 1.0]);
    }
}
