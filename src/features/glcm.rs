//! Grey-level co-occurrence matrix features (24), as pyradiomics' `RadiomicsGLCM`.
//!
//! Principal items: [`Glcm`] (the `glcm` [`FeatureFamily`]), [`glcm_matrices`] (one normalised
//! matrix per direction, or one merged matrix with `weightingNorm`) and [`glcm_features`].
//!
//! Reference: pyradiomics `radiomics/glcm.py` and `cmatrices.c` (`calculate_glcm`); IBSI
//! reference manual §3.6. Matrices keep only the grey levels present in the region (their
//! values, not their ranks, enter the formulas); directions with no pair are dropped;
//! features are computed per direction and averaged ignoring NaN.

use super::linalg::symmetric_eigenvalues;
use super::texture::{
    EPS, LevelVolume, entropy, force_2d_axis, full_names, nan_mean, neighbour_offsets,
    unique_distances,
};
use super::{FeatureError, FeatureFamily, FeatureSettings, WeightingNorm};
use crate::data::image::{Image, Mask};

/// The pyradiomics `glcm` class.
#[derive(Debug, Clone, Copy, Default)]
pub struct Glcm;

impl FeatureFamily for Glcm {
    fn class_name(&self) -> &'static str {
        "glcm"
    }

    fn compute(
        &self,
        image: &Image,
        mask: &Mask,
        settings: &FeatureSettings,
    ) -> Result<Vec<(String, f64)>, FeatureError> {
        let volume = LevelVolume::new(image, mask, settings)?;
        let matrices = glcm_matrices(&volume, settings)?;
        Ok(full_names("glcm", glcm_features(&matrices)))
    }

    fn feature_names(&self) -> &'static [&'static str] {
        &GLCM_FEATURES
    }

    fn valueless_features(&self) -> &'static [&'static str] {
        &[
            "Dissimilarity",
            "Homogeneity1",
            "Homogeneity2",
            "SumVariance",
        ]
    }
}

/// Normalised co-occurrence matrices of a region.
#[derive(Debug, Clone, PartialEq)]
pub struct GlcmMatrices {
    /// The grey levels present in the region: the matrices' row and column values.
    pub gray_levels: Vec<u32>,
    /// pyradiomics `Ng`: the largest grey level.
    pub max_level: u32,
    /// One row-major `n × n` matrix (n = `gray_levels.len()`) per kept direction, each summing
    /// to 1 (NaN entries if a direction has no pair and is the only one).
    pub matrices: Vec<Vec<f64>>,
    /// The (k, j, i) offset of each matrix; empty when the directions were merged.
    pub offsets: Vec<[i64; 3]>,
}

/// Weight of one direction under `weightingNorm` (pyradiomics `glcm._calculateMatrix`).
fn weight(norm: WeightingNorm, offset: [i64; 3], spacing_kji: [f64; 3]) -> f64 {
    let scaled = [0, 1, 2].map(|a| offset[a].abs() as f64 * spacing_kji[a]);
    match norm {
        WeightingNorm::Infinity => {
            let m = scaled.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (-(m * m)).exp()
        }
        WeightingNorm::Euclidean => (-scaled.iter().map(|s| s * s).sum::<f64>()).exp(),
        WeightingNorm::Manhattan => {
            let s: f64 = scaled.iter().sum();
            (-(s * s)).exp()
        }
        WeightingNorm::NoWeighting => 1.0,
    }
}

/// The region's co-occurrence matrices, built, symmetrised, weighted and normalised as
/// pyradiomics does.
pub fn glcm_matrices(
    volume: &LevelVolume,
    settings: &FeatureSettings,
) -> Result<GlcmMatrices, FeatureError> {
    let offsets = neighbour_offsets(
        volume.size_kji(),
        &unique_distances(settings),
        force_2d_axis(settings)?,
        false,
    )?;
    let n = volume.gray_levels.len();
    let rank = volume.level_index();
    let mut counts: Vec<Vec<f64>> = vec![vec![0.0; n * n]; offsets.len()];
    for (index, &level) in volume.levels.iter().enumerate() {
        if level == 0 {
            continue;
        }
        let position = volume.position(index);
        let row = rank[level as usize] * n;
        for (matrix, &offset) in counts.iter_mut().zip(&offsets) {
            if let Some(other) = volume.neighbour(position, offset) {
                let neighbour = volume.levels[other];
                if neighbour != 0 {
                    matrix[row + rank[neighbour as usize]] += 1.0;
                }
            }
        }
    }
    if settings.symmetrical_glcm {
        for matrix in &mut counts {
            let transposed: Vec<f64> = (0..n * n).map(|x| matrix[(x % n) * n + x / n]).collect();
            for (value, t) in matrix.iter_mut().zip(transposed) {
                *value += t;
            }
        }
    }
    let mut kept_offsets = offsets.clone();
    if let Some(norm) = settings.weighting_norm {
        let spacing_kji = [volume.spacing[2], volume.spacing[1], volume.spacing[0]];
        let mut merged = vec![0.0; n * n];
        for (matrix, &offset) in counts.iter().zip(&offsets) {
            let w = weight(norm, offset, spacing_kji);
            for (m, v) in merged.iter_mut().zip(matrix) {
                *m += v * w;
            }
        }
        counts = vec![merged];
        kept_offsets.clear();
    } else if counts.len() > 1 {
        let keep: Vec<bool> = counts
            .iter()
            .map(|m| m.iter().sum::<f64>() != 0.0)
            .collect();
        let mut flags = keep.iter();
        counts.retain(|_| *flags.next().unwrap_or(&true));
        let mut flags = keep.iter();
        kept_offsets.retain(|_| *flags.next().unwrap_or(&true));
    }
    for matrix in &mut counts {
        let total: f64 = matrix.iter().sum();
        let total = if total == 0.0 { f64::NAN } else { total };
        for value in matrix.iter_mut() {
            *value /= total;
        }
    }
    Ok(GlcmMatrices {
        gray_levels: volume.gray_levels.clone(),
        max_level: volume.max_level,
        matrices: counts,
        offsets: kept_offsets,
    })
}

/// The GLCM feature names, in pyradiomics' output order (sorted; deprecated ones left out).
pub const GLCM_FEATURES: [&str; 24] = [
    "Autocorrelation",
    "ClusterProminence",
    "ClusterShade",
    "ClusterTendency",
    "Contrast",
    "Correlation",
    "DifferenceAverage",
    "DifferenceEntropy",
    "DifferenceVariance",
    "Id",
    "Idm",
    "Idmn",
    "Idn",
    "Imc1",
    "Imc2",
    "InverseVariance",
    "JointAverage",
    "JointEnergy",
    "JointEntropy",
    "MCC",
    "MaximumProbability",
    "SumAverage",
    "SumEntropy",
    "SumSquares",
];

/// The 24 features of one normalised matrix, in [`GLCM_FEATURES`] order (MCC separately).
fn per_direction(p: &[f64], levels: &[f64], max_level: u32) -> [f64; 24] {
    let n = levels.len();
    let ng = max_level as usize;
    let mut px = vec![0.0; n];
    let mut py = vec![0.0; n];
    let (mut ux, mut uy) = (0.0, 0.0);
    let mut sum_by = vec![0.0; 2 * ng.max(1) - 1]; // k = i + j from 2 to 2 Ng
    let mut diff_by = vec![0.0; ng.max(1)]; // k = |i − j| from 0 to Ng − 1
    let mut autocorrelation = 0.0;
    let mut contrast = 0.0;
    let mut energy = 0.0;
    let mut maximum = f64::NEG_INFINITY;
    for a in 0..n {
        for b in 0..n {
            let v = p[a * n + b];
            let (i, j) = (levels[a], levels[b]);
            px[a] += v;
            py[b] += v;
            ux += i * v;
            uy += j * v;
            sum_by[(i + j) as usize - 2] += v;
            diff_by[(i - j).abs() as usize] += v;
            autocorrelation += v * i * j;
            contrast += v * (i - j) * (i - j);
            energy += v * v;
            maximum = maximum.max(v);
        }
    }
    let hxy = entropy(p.iter().copied());
    let (mut prominence, mut shade, mut tendency) = (0.0, 0.0, 0.0);
    let (mut var_x, mut var_y, mut covariance) = (0.0, 0.0, 0.0);
    let mut hxy1 = 0.0;
    let mut hxy2 = 0.0;
    for a in 0..n {
        for b in 0..n {
            let v = p[a * n + b];
            let (i, j) = (levels[a], levels[b]);
            let centred = i + j - ux - uy;
            prominence += v * centred.powi(4);
            shade += v * centred.powi(3);
            tendency += v * centred * centred;
            var_x += v * (i - ux) * (i - ux);
            var_y += v * (j - uy) * (j - uy);
            covariance += v * (i - ux) * (j - uy);
            let pxy = px[a] * py[b];
            hxy1 -= v * (pxy + EPS).log2();
            hxy2 -= pxy * (pxy + EPS).log2();
        }
    }
    let (sig_x, sig_y) = (var_x.sqrt(), var_y.sqrt());
    let correlation = if sig_x * sig_y == 0.0 {
        1.0
    } else {
        covariance / (sig_x * sig_y + EPS)
    };
    let k_diff = |k: usize| k as f64;
    let difference_average: f64 = diff_by.iter().enumerate().map(|(k, v)| k_diff(k) * v).sum();
    let difference_variance: f64 = diff_by
        .iter()
        .enumerate()
        .map(|(k, v)| v * (k_diff(k) - difference_average).powi(2))
        .sum();
    let ngf = ng as f64;
    let idm: f64 = diff_by
        .iter()
        .enumerate()
        .map(|(k, v)| v / (1.0 + k_diff(k).powi(2)))
        .sum();
    let idmn: f64 = diff_by
        .iter()
        .enumerate()
        .map(|(k, v)| v / (1.0 + k_diff(k).powi(2) / (ngf * ngf)))
        .sum();
    let id: f64 = diff_by
        .iter()
        .enumerate()
        .map(|(k, v)| v / (1.0 + k_diff(k)))
        .sum();
    let idn: f64 = diff_by
        .iter()
        .enumerate()
        .map(|(k, v)| v / (1.0 + k_diff(k) / ngf))
        .sum();
    let inverse_variance: f64 = diff_by
        .iter()
        .enumerate()
        .skip(1)
        .map(|(k, v)| v / k_diff(k).powi(2))
        .sum();
    let sum_average: f64 = sum_by
        .iter()
        .enumerate()
        .map(|(k, v)| (k + 2) as f64 * v)
        .sum();
    let hx = entropy(px.iter().copied());
    let hy = entropy(py.iter().copied());
    let divisor = hx.max(hy);
    let imc1 = if divisor == 0.0 {
        0.0
    } else {
        (hxy - hxy1) / divisor
    };
    // pyradiomics: a negative radicand gives NaN, which the angle average skips.
    let imc2 = if hxy2 == hxy {
        0.0
    } else {
        (1.0 - (-2.0 * (hxy2 - hxy)).exp()).sqrt()
    };
    let sum_squares = var_x;
    [
        autocorrelation,
        prominence,
        shade,
        tendency,
        contrast,
        correlation,
        difference_average,
        entropy(diff_by.iter().copied()),
        difference_variance,
        id,
        idm,
        idmn,
        idn,
        imc1,
        imc2,
        inverse_variance,
        ux,
        energy,
        hxy,
        f64::NAN, // MCC: filled in by `maximal_correlation`
        maximum,
        sum_average,
        entropy(sum_by.iter().copied()),
        sum_squares,
    ]
}

/// The maximal correlation coefficient of one matrix: the square root of the second-largest
/// eigenvalue of Q(i, j) = Σ_k p(i,k) p(j,k) / (p_x(i) p_y(k)). Q is similar to the symmetric
/// M Mᵀ with M(i,k) = p(i,k) / √(p_x(i) p_y(k)), whose eigenvalues are computed instead
/// (pyradiomics adds ε to the denominator and calls a general eigen-solver; the difference is
/// of the order of ε / (p_x p_y)).
fn maximal_correlation(p: &[f64], n: usize) -> f64 {
    let px: Vec<f64> = (0..n).map(|a| (0..n).map(|b| p[a * n + b]).sum()).collect();
    let py: Vec<f64> = (0..n).map(|b| (0..n).map(|a| p[a * n + b]).sum()).collect();
    let m: Vec<f64> = (0..n * n)
        .map(|x| {
            let (a, k) = (x / n, x % n);
            let d = px[a] * py[k];
            if d > 0.0 { p[x] / d.sqrt() } else { 0.0 }
        })
        .collect();
    let mut s = vec![0.0; n * n];
    for a in 0..n {
        for b in a..n {
            let v: f64 = (0..n).map(|k| m[a * n + k] * m[b * n + k]).sum();
            s[a * n + b] = v;
            s[b * n + a] = v;
        }
    }
    match symmetric_eigenvalues(s, n) {
        // Rounding can push a zero eigenvalue just below 0; its root is 0.
        Some(eig) => eig[n - 2].max(0.0).sqrt(),
        None => f64::NAN,
    }
}

/// The 24 GLCM features of `matrices`, averaged over directions as pyradiomics does, with bare
/// names in [`GLCM_FEATURES`] order.
pub fn glcm_features(matrices: &GlcmMatrices) -> Vec<(&'static str, f64)> {
    let levels: Vec<f64> = matrices.gray_levels.iter().map(|&g| f64::from(g)).collect();
    let n = levels.len();
    let per: Vec<[f64; 24]> = matrices
        .matrices
        .iter()
        .map(|p| {
            let mut f = per_direction(p, &levels, matrices.max_level);
            f[19] = if n < 2 {
                1.0
            } else {
                maximal_correlation(p, n)
            };
            f
        })
        .collect();
    GLCM_FEATURES
        .iter()
        .enumerate()
        .map(|(index, &name)| {
            let values: Vec<f64> = per.iter().map(|f| f[index]).collect();
            let value = match name {
                // pyradiomics averages JointAverage with `mean` (NaN-propagating), MCC is 1 for
                // a single grey level.
                "JointAverage" => values.iter().sum::<f64>() / values.len() as f64,
                "MCC" if n < 2 => 1.0,
                _ => nan_mean(&values),
            };
            (name, value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::image::Grid;

    fn volume(values: &[f64], dims: [usize; 3]) -> (Image, Mask) {
        let grid = Grid::new(dims, [1.0; 3]);
        let image = Image {
            grid: grid.clone(),
            voxels: values.to_vec(),
        };
        let mask = Mask {
            grid,
            voxels: vec![1; values.len()],
        };
        (image, mask)
    }

    fn lookup(features: &[(&'static str, f64)], name: &str) -> f64 {
        features.iter().find(|(n, _)| *n == name).unwrap().1
    }

    #[test]
    fn two_by_two_image_by_hand() {
        // Levels (bin width 1 from 1): [[1, 2], [2, 2]] in one slice; size (1, 2, 2) → offsets
        // (0,1,1), (0,1,0), (0,1,−1), (0,0,1).
        let (image, mask) = volume(&[1.0, 2.0, 2.0, 2.0], [2, 2, 1]);
        let settings = FeatureSettings {
            bin_width: 1.0,
            ..FeatureSettings::default()
        };
        let v = LevelVolume::new(&image, &mask, &settings).unwrap();
        assert_eq!(v.gray_levels, vec![1, 2]);
        let m = glcm_matrices(&v, &settings).unwrap();
        assert_eq!(m.offsets, vec![[0, 1, 1], [0, 1, 0], [0, 1, -1], [0, 0, 1]]);
        // (0,1,1): pairs (1→2 at [1,1]) → symmetric [[0,1],[1,0]] / 2.
        assert_eq!(m.matrices[0], vec![0.0, 0.5, 0.5, 0.0]);
        // (0,1,0): (1,2) and (2,2) → [[0,1],[1,2]] / 4.
        assert_eq!(m.matrices[1], vec![0.0, 0.25, 0.25, 0.5]);
        // (0,1,−1): (2 at [1,0]) → (2 at [0,1]) → [[0,0],[0,2]] / 2.
        assert_eq!(m.matrices[2], vec![0.0, 0.0, 0.0, 1.0]);
        let f = glcm_features(&m);
        // Contrast per direction: 1, 0.5, 0, 0.5 → mean 0.5.
        assert!((lookup(&f, "Contrast") - 0.5).abs() < 1e-15);
        // JointAverage per direction: 1.5, 1.75, 2, 1.75.
        assert!((lookup(&f, "JointAverage") - 1.75).abs() < 1e-15);
        // MaximumProbability: 0.5, 0.5, 1, 0.5.
        assert!((lookup(&f, "MaximumProbability") - 0.625).abs() < 1e-15);
        assert_eq!(f.len(), 24);
    }

    #[test]
    fn merged_matrix_sums_directions() {
        let (image, mask) = volume(&[1.0, 2.0, 2.0, 2.0], [2, 2, 1]);
        let settings = FeatureSettings {
            bin_width: 1.0,
            weighting_norm: Some(WeightingNorm::NoWeighting),
            ..FeatureSettings::default()
        };
        let v = LevelVolume::new(&image, &mask, &settings).unwrap();
        let m = glcm_matrices(&v, &settings).unwrap();
        // Counts [[0,1],[1,0]] + [[0,1],[1,2]] + [[0,0],[0,2]] + [[0,1],[1,2]] = [[0,3],[3,6]].
        assert_eq!(m.matrices, vec![vec![0.0, 0.25, 0.25, 0.5]]);
    }

    #[test]
    fn flat_region_has_unit_mcc_and_correlation() {
        let (image, mask) = volume(&[3.0; 8], [2, 2, 2]);
        let settings = FeatureSettings::default();
        let v = LevelVolume::new(&image, &mask, &settings).unwrap();
        let f = glcm_features(&glcm_matrices(&v, &settings).unwrap());
        assert_eq!(lookup(&f, "MCC"), 1.0);
        assert_eq!(lookup(&f, "Correlation"), 1.0);
        assert_eq!(lookup(&f, "Contrast"), 0.0);
        assert_eq!(lookup(&f, "Imc2"), 0.0);
    }
}
