//! What the texture classes share: the discretised region ([`LevelVolume`]), pyradiomics'
//! neighbour offsets ([`neighbour_offsets`]) and small numeric helpers.
//!
//! Reference: pyradiomics `radiomics/src/cmatrices.c` (`get_angle_count`, `build_angles`, the
//! bounding-box walk of every matrix) and `base._applyBinning`. Offsets are in numpy axis order
//! (k, j, i), as pyradiomics reports its angles.

use super::discretise::discretise;
use super::preprocess::bounding_box;
use super::{FeatureError, FeatureSettings};
use crate::data::image::{Image, Mask};

/// numpy's `spacing(1)`: the epsilon pyradiomics adds inside logarithms and denominators.
pub const EPS: f64 = f64::EPSILON;

/// The region's grey levels on its bounding box, i fastest.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelVolume {
    /// Voxels along i, j, k (the region's bounding box).
    pub dims: [usize; 3],
    /// Voxel size in mm along i, j, k.
    pub spacing: [f64; 3],
    /// Grey level per voxel: 1..=`max_level` inside the region, 0 outside.
    pub levels: Vec<u32>,
    /// The largest grey level (pyradiomics `Ng`).
    pub max_level: u32,
    /// The grey levels present in the region, ascending (pyradiomics `grayLevels`).
    pub gray_levels: Vec<u32>,
    /// Number of voxels in the region.
    pub voxel_count: usize,
}

impl LevelVolume {
    /// Crops to the region labelled `settings.label` and discretises it.
    pub fn new(
        image: &Image,
        mask: &Mask,
        settings: &FeatureSettings,
    ) -> Result<LevelVolume, FeatureError> {
        let label = settings.label;
        let bbox = bounding_box(mask, label).ok_or(FeatureError::EmptyMask { label })?;
        let dims = bbox.size();
        let [nx, ny, _] = image.grid.dims;
        let mut inside = Vec::with_capacity(dims.iter().product());
        let mut values = Vec::new();
        for k in bbox.lower[2]..=bbox.upper[2] {
            for j in bbox.lower[1]..=bbox.upper[1] {
                for i in bbox.lower[0]..=bbox.upper[0] {
                    let index = i + nx * (j + ny * k);
                    let selected = mask.voxels[index] == label;
                    inside.push(selected);
                    if selected {
                        let value = image.voxels[index];
                        if !value.is_finite() {
                            return Err(FeatureError::NonFiniteIntensity { index, value });
                        }
                        values.push(value);
                    }
                }
            }
        }
        let discretised = discretise(&values, settings)?.levels;
        let mut next = discretised.iter();
        let levels: Vec<u32> = inside
            .iter()
            .map(|&selected| {
                if selected {
                    next.next().copied().unwrap_or(0)
                } else {
                    0
                }
            })
            .collect();
        let mut gray_levels = discretised.clone();
        gray_levels.sort_unstable();
        gray_levels.dedup();
        Ok(LevelVolume {
            dims,
            spacing: image.grid.spacing,
            max_level: gray_levels.last().copied().unwrap_or(0),
            gray_levels,
            voxel_count: values.len(),
            levels,
        })
    }

    /// Linear index step of a (k, j, i) offset.
    pub fn stride(&self, offset: [i64; 3]) -> i64 {
        let [nx, ny, _] = self.dims.map(|d| d as i64);
        offset[0] * nx * ny + offset[1] * nx + offset[2]
    }

    /// The (i, j, k) position of a linear index.
    pub fn position(&self, index: usize) -> [usize; 3] {
        let [nx, ny, _] = self.dims;
        [index % nx, (index / nx) % ny, index / (nx * ny)]
    }

    /// The linear index of `position + offset` (offset in k, j, i order), or `None` outside the
    /// bounding box.
    pub fn neighbour(&self, position: [usize; 3], offset: [i64; 3]) -> Option<usize> {
        let mut target = [0usize; 3];
        for axis in 0..3 {
            // Offset component for axis i is offset[2], for k offset[0].
            let moved = position[axis] as i64 + offset[2 - axis];
            if moved < 0 || moved >= self.dims[axis] as i64 {
                return None;
            }
            target[axis] = moved as usize;
        }
        Some(target[0] + self.dims[0] * (target[1] + self.dims[1] * target[2]))
    }

    /// Index of each grey level in `gray_levels` (levels absent from the region map to
    /// `usize::MAX`), indexed by level.
    pub fn level_index(&self) -> Vec<usize> {
        let mut index = vec![usize::MAX; self.max_level as usize + 1];
        for (position, &level) in self.gray_levels.iter().enumerate() {
            index[level as usize] = position;
        }
        index
    }

    /// The size in numpy order (k, j, i), as pyradiomics' C code sees the cropped array.
    pub fn size_kji(&self) -> [usize; 3] {
        [self.dims[2], self.dims[1], self.dims[0]]
    }
}

/// pyradiomics' neighbour offsets (`build_angles`), in its order, for an array of size
/// `size_kji`: every (k, j, i) offset whose largest component is one of `distances`, that fits
/// in the array and, with `force_2d_axis`, does not move along that axis. Mono-directional
/// (`bidirectional == false`) keeps the first half, one of each ± pair (13 in 3-D at distance 1).
pub fn neighbour_offsets(
    size_kji: [usize; 3],
    distances: &[usize],
    force_2d_axis: Option<usize>,
    bidirectional: bool,
) -> Result<Vec<[i64; 3]>, FeatureError> {
    if distances.is_empty() || distances.contains(&0) {
        return Err(FeatureError::InvalidSetting {
            key: "distances".into(),
            reason: format!("needs distances of at least 1, got {distances:?}"),
        });
    }
    let max_distance = *distances.iter().max().unwrap_or(&1) as i64;
    let count = 2 * max_distance + 1;
    let mut offsets = Vec::new();
    // Generation order of cmatrices.c: the last axis varies fastest, each axis from +d to −d.
    for a in 0..count {
        for b in 0..count {
            for c in 0..count {
                let offset = [max_distance - a, max_distance - b, max_distance - c];
                let valid = (0..3).all(|axis| {
                    let o = offset[axis];
                    !(force_2d_axis == Some(axis) && o != 0)
                        && o < size_kji[axis] as i64
                        && o > -(size_kji[axis] as i64)
                });
                let norm = offset.iter().map(|o| o.abs()).max().unwrap_or(0);
                if valid && norm >= 1 && distances.contains(&(norm as usize)) {
                    offsets.push(offset);
                }
            }
        }
    }
    if !bidirectional {
        offsets.truncate(offsets.len() / 2);
    }
    if offsets.is_empty() {
        return Err(FeatureError::RoiRejected {
            reason: format!(
                "no neighbour direction fits a region of size {size_kji:?} (k, j, i) at distances {distances:?}"
            ),
        });
    }
    Ok(offsets)
}

/// The `force2D` axis in numpy order, when 2-D extraction is on.
pub fn force_2d_axis(settings: &FeatureSettings) -> Result<Option<usize>, FeatureError> {
    if !settings.force_2d {
        return Ok(None);
    }
    if settings.force_2d_dimension > 2 {
        return Err(FeatureError::InvalidSetting {
            key: "force2Ddimension".into(),
            reason: format!("must be 0, 1 or 2, got {}", settings.force_2d_dimension),
        });
    }
    Ok(Some(settings.force_2d_dimension))
}

/// Distances without duplicates, ascending (repeats would make pyradiomics count angles twice).
pub fn unique_distances(settings: &FeatureSettings) -> Vec<usize> {
    let mut distances = settings.distances.clone();
    distances.sort_unstable();
    distances.dedup();
    distances
}

/// numpy's `nanmean` over per-angle values (NaN when all are NaN).
pub fn nan_mean(values: &[f64]) -> f64 {
    let finite: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if finite.is_empty() {
        f64::NAN
    } else {
        finite.iter().sum::<f64>() / finite.len() as f64
    }
}

/// `−Σ p log2(p + eps)` over the entries of a probability table.
pub fn entropy(probabilities: impl IntoIterator<Item = f64>) -> f64 {
    -probabilities
        .into_iter()
        .map(|p| p * (p + EPS).log2())
        .sum::<f64>()
}

/// Prefixes bare feature names with `original_<class>_`.
pub fn full_names(class: &str, features: Vec<(&'static str, f64)>) -> Vec<(String, f64)> {
    features
        .into_iter()
        .map(|(name, value)| (format!("original_{class}_{name}"), value))
        .collect()
}

/// The sums that GLRLM, GLSZM and GLDM features are made of, for one matrix of counts
/// `P(i, j)` (rows: grey levels with values `i`; columns: run length / zone size / dependence
/// with values `j`), normalised by `total` (number of runs, zones or voxels) as pyradiomics does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Emphasis {
    /// Σ p_j / j² / N (short run / small area / small dependence emphasis).
    pub small: f64,
    /// Σ p_j j² / N.
    pub large: f64,
    /// Σ p_i² / N.
    pub gray_nonuniformity: f64,
    /// Σ p_i² / N².
    pub gray_nonuniformity_normalized: f64,
    /// Σ p_j² / N.
    pub size_nonuniformity: f64,
    /// Σ p_j² / N².
    pub size_nonuniformity_normalized: f64,
    /// Variance of i under p_i / N.
    pub gray_variance: f64,
    /// Variance of j under p_j / N.
    pub size_variance: f64,
    /// −Σ (P/N) log2(P/N + ε).
    pub entropy: f64,
    /// Σ p_i / i² / N.
    pub low_gray: f64,
    /// Σ p_i i² / N.
    pub high_gray: f64,
    /// Σ P / (i² j²) / N.
    pub small_low_gray: f64,
    /// Σ P i² / j² / N.
    pub small_high_gray: f64,
    /// Σ P j² / i² / N.
    pub large_low_gray: f64,
    /// Σ P i² j² / N.
    pub large_high_gray: f64,
    /// Σ p_j j: the number of voxels the matrix covers.
    pub voxels: f64,
}

/// Computes [`Emphasis`] for a row-major `i_values.len() × j_values.len()` count matrix.
pub fn emphasis(matrix: &[f64], i_values: &[f64], j_values: &[f64], total: f64) -> Emphasis {
    let (rows, cols) = (i_values.len(), j_values.len());
    let mut pg = vec![0.0; rows];
    let mut pr = vec![0.0; cols];
    let mut e = Emphasis {
        small: 0.0,
        large: 0.0,
        gray_nonuniformity: 0.0,
        gray_nonuniformity_normalized: 0.0,
        size_nonuniformity: 0.0,
        size_nonuniformity_normalized: 0.0,
        gray_variance: 0.0,
        size_variance: 0.0,
        entropy: 0.0,
        low_gray: 0.0,
        high_gray: 0.0,
        small_low_gray: 0.0,
        small_high_gray: 0.0,
        large_low_gray: 0.0,
        large_high_gray: 0.0,
        voxels: 0.0,
    };
    for r in 0..rows {
        let i2 = i_values[r] * i_values[r];
        for c in 0..cols {
            let v = matrix[r * cols + c];
            if v == 0.0 {
                continue;
            }
            let j2 = j_values[c] * j_values[c];
            pg[r] += v;
            pr[c] += v;
            e.small_low_gray += v / (i2 * j2);
            e.small_high_gray += v * i2 / j2;
            e.large_low_gray += v * j2 / i2;
            e.large_high_gray += v * j2 * i2;
            let p = v / total;
            e.entropy -= p * (p + EPS).log2();
        }
    }
    for (c, &v) in pr.iter().enumerate() {
        let j = j_values[c];
        e.small += v / (j * j);
        e.large += v * j * j;
        e.size_nonuniformity += v * v;
        e.voxels += v * j;
    }
    for (r, &v) in pg.iter().enumerate() {
        let i = i_values[r];
        e.low_gray += v / (i * i);
        e.high_gray += v * i * i;
        e.gray_nonuniformity += v * v;
    }
    let variance = |p: &[f64], values: &[f64]| {
        let mean: f64 = p.iter().zip(values).map(|(p, x)| p / total * x).sum();
        p.iter()
            .zip(values)
            .map(|(p, x)| p / total * (x - mean) * (x - mean))
            .sum::<f64>()
    };
    e.gray_variance = variance(&pg, i_values);
    e.size_variance = variance(&pr, j_values);
    for value in [
        &mut e.small,
        &mut e.large,
        &mut e.low_gray,
        &mut e.high_gray,
        &mut e.small_low_gray,
        &mut e.small_high_gray,
        &mut e.large_low_gray,
        &mut e.large_high_gray,
    ] {
        *value /= total;
    }
    e.gray_nonuniformity_normalized = e.gray_nonuniformity / (total * total);
    e.size_nonuniformity_normalized = e.size_nonuniformity / (total * total);
    e.gray_nonuniformity /= total;
    e.size_nonuniformity /= total;
    e
}

/// Keeps the columns of a row-major `rows × cols` matrix whose sum is not 0, with their values.
pub fn drop_empty_columns(matrix: &[f64], rows: usize, values: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let cols = values.len();
    let keep: Vec<usize> = (0..cols)
        .filter(|&c| (0..rows).any(|r| matrix[r * cols + c] != 0.0))
        .collect();
    let mut out = Vec::with_capacity(rows * keep.len());
    for r in 0..rows {
        out.extend(keep.iter().map(|&c| matrix[r * cols + c]));
    }
    (out, keep.iter().map(|&c| values[c]).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirteen_mono_and_twenty_six_bi_directional_offsets_in_3d() {
        let mono = neighbour_offsets([5, 5, 5], &[1], None, false).unwrap();
        assert_eq!(mono.len(), 13);
        // cmatrices.c order: the first is (1, 1, 1), the last (0, 0, 1).
        assert_eq!(mono[0], [1, 1, 1]);
        assert_eq!(mono[12], [0, 0, 1]);
        let bi = neighbour_offsets([5, 5, 5], &[1], None, true).unwrap();
        assert_eq!(bi.len(), 26);
        assert_eq!(bi[13], [0, 0, -1]);
    }

    #[test]
    fn offsets_respect_size_force2d_and_distance() {
        // A single slice (k size 1): only in-plane offsets, 4 mono-directional.
        assert_eq!(
            neighbour_offsets([1, 5, 5], &[1], None, false)
                .unwrap()
                .len(),
            4
        );
        assert_eq!(
            neighbour_offsets([5, 5, 5], &[1], Some(0), false)
                .unwrap()
                .len(),
            4
        );
        assert_eq!(
            neighbour_offsets([5, 5, 5], &[1], Some(0), true)
                .unwrap()
                .len(),
            8
        );
        // Distance 2 only: 5³ − 3³ = 98 offsets, 49 mono-directional.
        assert_eq!(
            neighbour_offsets([5, 5, 5], &[2], None, false)
                .unwrap()
                .len(),
            49
        );
        assert!(neighbour_offsets([1, 1, 1], &[1], None, false).is_err());
        assert!(neighbour_offsets([5, 5, 5], &[0], None, false).is_err());
    }
}
