//! Neighbouring grey tone difference matrix features (5), as pyradiomics' `RadiomicsNGTDM`.
//!
//! Principal items: [`Ngtdm`] (the `ngtdm` [`FeatureFamily`]), [`ngtdm_matrix`] and
//! [`ngtdm_features`].
//!
//! Reference: pyradiomics `radiomics/ngtdm.py` and `cmatrices.c` (`calculate_ngtdm`); IBSI
//! reference manual §3.10. The neighbourhood is pyradiomics' offsets at `distances` (both
//! directions) restricted to the region; a voxel without neighbours counts with difference 0.

use super::texture::{LevelVolume, force_2d_axis, full_names, neighbour_offsets, unique_distances};
use super::{FeatureError, FeatureFamily, FeatureSettings};
use crate::data::image::{Image, Mask};

/// The pyradiomics `ngtdm` class.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ngtdm;

impl FeatureFamily for Ngtdm {
    fn class_name(&self) -> &'static str {
        "ngtdm"
    }

    fn compute(
        &self,
        image: &Image,
        mask: &Mask,
        settings: &FeatureSettings,
    ) -> Result<Vec<(String, f64)>, FeatureError> {
        let volume = LevelVolume::new(image, mask, settings)?;
        let rows = ngtdm_matrix(&volume, settings)?;
        Ok(full_names("ngtdm", ngtdm_features(&rows)))
    }

    fn feature_names(&self) -> &'static [&'static str] {
        &NGTDM_FEATURES
    }
}

/// One NGTDM row: a grey level present in the region.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NgtdmRow {
    /// n_i: voxels with this grey level.
    pub count: f64,
    /// s_i: sum of |level − mean of its neighbours| over those voxels.
    pub difference_sum: f64,
    /// The grey level i.
    pub level: f64,
}

/// The region's NGTDM, rows in ascending grey level. Differences accumulate in voxel order and
/// neighbour sums in offset order, as in pyradiomics, so s_i agrees to the last bit.
pub fn ngtdm_matrix(
    volume: &LevelVolume,
    settings: &FeatureSettings,
) -> Result<Vec<NgtdmRow>, FeatureError> {
    let offsets = neighbour_offsets(
        volume.size_kji(),
        &unique_distances(settings),
        force_2d_axis(settings)?,
        true,
    )?;
    let rank = volume.level_index();
    let mut rows: Vec<NgtdmRow> = volume
        .gray_levels
        .iter()
        .map(|&g| NgtdmRow {
            count: 0.0,
            difference_sum: 0.0,
            level: f64::from(g),
        })
        .collect();
    for (index, &level) in volume.levels.iter().enumerate() {
        if level == 0 {
            continue;
        }
        let position = volume.position(index);
        let (mut count, mut sum) = (0.0f64, 0.0f64);
        for &offset in &offsets {
            if let Some(other) = volume.neighbour(position, offset)
                && volume.levels[other] != 0
            {
                count += 1.0;
                sum += f64::from(volume.levels[other]);
            }
        }
        let difference = if count == 0.0 {
            0.0
        } else {
            (f64::from(level) - sum / count).abs()
        };
        let row = &mut rows[rank[level as usize]];
        row.count += 1.0;
        row.difference_sum += difference;
    }
    Ok(rows)
}

/// The NGTDM feature names, in pyradiomics' output order.
pub const NGTDM_FEATURES: [&str; 5] = [
    "Busyness",
    "Coarseness",
    "Complexity",
    "Contrast",
    "Strength",
];

/// The 5 NGTDM features in [`NGTDM_FEATURES`] order.
pub fn ngtdm_features(rows: &[NgtdmRow]) -> Vec<(&'static str, f64)> {
    let voxels: f64 = rows.iter().map(|r| r.count).sum();
    let p: Vec<f64> = rows.iter().map(|r| r.count / voxels).collect();
    let s: Vec<f64> = rows.iter().map(|r| r.difference_sum).collect();
    let i: Vec<f64> = rows.iter().map(|r| r.level).collect();
    let levels = p.iter().filter(|&&v| v > 0.0).count() as f64;
    let sum_s: f64 = s.iter().sum();
    let weighted: f64 = p.iter().zip(&s).map(|(p, s)| p * s).sum();
    let coarseness = if weighted != 0.0 { 1.0 / weighted } else { 1e6 };
    let (mut spread, mut busy_div, mut complexity, mut strength) = (0.0, 0.0, 0.0, 0.0);
    for a in 0..rows.len() {
        for b in 0..rows.len() {
            let d2 = (i[a] - i[b]) * (i[a] - i[b]);
            spread += p[a] * p[b] * d2;
            if p[a] > 0.0 && p[b] > 0.0 {
                busy_div += (i[a] * p[a] - i[b] * p[b]).abs();
                complexity += (i[a] - i[b]).abs() * (p[a] * s[a] + p[b] * s[b]) / (p[a] + p[b]);
                strength += (p[a] + p[b]) * d2;
            }
        }
    }
    let pairs = levels * (levels - 1.0);
    let contrast = if pairs != 0.0 {
        spread * sum_s / voxels / pairs
    } else {
        0.0
    };
    let busyness = if busy_div != 0.0 {
        weighted / busy_div
    } else {
        0.0
    };
    let strength = if sum_s != 0.0 { strength / sum_s } else { 0.0 };
    vec![
        ("Busyness", busyness),
        ("Coarseness", coarseness),
        ("Complexity", complexity / voxels),
        ("Contrast", contrast),
        ("Strength", strength),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::image::Grid;

    #[test]
    fn row_of_three_by_hand() {
        // Levels 1 1 2 in a row: neighbours' means 1, 1.5, 1 → differences 0, 0.5, 1.
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
        let rows = ngtdm_matrix(&volume, &settings).unwrap();
        assert_eq!(
            rows[0],
            NgtdmRow {
                count: 2.0,
                difference_sum: 0.5,
                level: 1.0
            }
        );
        assert_eq!(
            rows[1],
            NgtdmRow {
                count: 1.0,
                difference_sum: 1.0,
                level: 2.0
            }
        );
        let f = ngtdm_features(&rows);
        // Σ p s = 2/3·0.5 + 1/3·1 = 2/3 → coarseness 1.5.
        assert!((f[1].1 - 1.5).abs() < 1e-15);
        // Contrast: Σ p_a p_b (a−b)² = 2·(2/3)(1/3) = 4/9; × Σ s (1.5) / N (3) / (2·1) = 1/9.
        assert!((f[3].1 - 1.0 / 9.0).abs() < 1e-15);
    }
}
