//! Random fields for synthetic images: white and spatially correlated Gaussian noise.
//!
//! Principal items: [`gaussian_kernel`] and [`correlated_noise`], which smooths white noise
//! with a separable Gaussian and rescales it to unit variance exactly (the variance of
//! filtered white noise is the product over axes of the sum of squared kernel weights).
//! Storage is i fastest, as in [`crate::data::image`].

use rand::Rng;
use rand::RngExt;
use rand_distr::StandardNormal;

/// A normalised Gaussian kernel with standard deviation `sigma` (voxels), truncated at 3σ.
/// A `sigma` below 0.1 gives the identity kernel `[1]`.
pub fn gaussian_kernel(sigma: f64) -> Vec<f64> {
    if sigma.is_nan() || sigma < 0.1 {
        return vec![1.0];
    }
    let radius = (3.0 * sigma).ceil() as i64;
    let weights: Vec<f64> = (-radius..=radius)
        .map(|k| (-((k * k) as f64) / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    weights.into_iter().map(|w| w / total).collect()
}

/// Unit-variance Gaussian noise on a box of `dims` voxels with a Gaussian autocorrelation of
/// per-axis standard deviation `sigma` (voxels). Draws `Π (dims[a] + 2·radius[a])` normals.
pub fn correlated_noise<R: Rng + ?Sized>(
    rng: &mut R,
    dims: [usize; 3],
    sigma: [f64; 3],
) -> Vec<f64> {
    let kernels: [Vec<f64>; 3] = std::array::from_fn(|a| gaussian_kernel(sigma[a]));
    let radius: [usize; 3] = std::array::from_fn(|a| kernels[a].len() / 2);
    // White noise on the box grown by the kernel radius, so that every output voxel is a full
    // ("valid") convolution and the variance is the same everywhere.
    let mut shape: [usize; 3] = std::array::from_fn(|a| dims[a] + 2 * radius[a]);
    let mut values: Vec<f64> = (0..shape.iter().product::<usize>())
        .map(|_| rng.sample::<f64, _>(StandardNormal))
        .collect();
    for (axis, kernel) in kernels.iter().enumerate() {
        (values, shape) = convolve_valid(&values, shape, axis, kernel);
    }
    let variance: f64 = kernels
        .iter()
        .map(|k| k.iter().map(|w| w * w).sum::<f64>())
        .product();
    let scale = 1.0 / variance.sqrt();
    values.iter_mut().for_each(|v| *v *= scale);
    values
}

/// Convolves along `axis`, keeping only positions where the kernel fits entirely.
fn convolve_valid(
    values: &[f64],
    shape: [usize; 3],
    axis: usize,
    kernel: &[f64],
) -> (Vec<f64>, [usize; 3]) {
    let shrink = kernel.len() - 1;
    let mut out_shape = shape;
    out_shape[axis] = shape[axis] - shrink;
    let stride = match axis {
        0 => 1,
        1 => shape[0],
        _ => shape[0] * shape[1],
    };
    let mut out = Vec::with_capacity(out_shape.iter().product());
    for k in 0..out_shape[2] {
        for j in 0..out_shape[1] {
            for i in 0..out_shape[0] {
                let start = i + shape[0] * (j + shape[1] * k);
                let sum: f64 = kernel
                    .iter()
                    .enumerate()
                    .map(|(t, w)| w * values[start + t * stride])
                    .sum();
                out.push(sum);
            }
        }
    }
    (out, out_shape)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::rng_for;

    #[test]
    fn correlated_noise_has_unit_variance_and_positive_neighbour_correlation() {
        let mut rng = rng_for(1, &["field"]);
        let dims = [40, 40, 20];
        let field = correlated_noise(&mut rng, dims, [1.5, 1.5, 0.5]);
        assert_eq!(field.len(), 40 * 40 * 20);
        let n = field.len() as f64;
        let mean = field.iter().sum::<f64>() / n;
        let var = field.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        assert!(mean.abs() < 0.1, "mean {mean}");
        assert!((var - 1.0).abs() < 0.1, "variance {var}");
        // Neighbours along i share most of their kernel: correlation exp(-1/(4σ²)) ≈ 0.89.
        let pairs: Vec<f64> = (0..field.len() - 1)
            .filter(|n| n % 40 != 39)
            .map(|n| (field[n] - mean) * (field[n + 1] - mean))
            .collect();
        let lag = pairs.iter().sum::<f64>() / (pairs.len() as f64 * var);
        assert!((lag - 0.89).abs() < 0.05, "lag-1 correlation {lag}");
    }

    #[test]
    fn tiny_sigma_is_white_noise() {
        assert_eq!(gaussian_kernel(0.05), vec![1.0]);
        let k = gaussian_kernel(1.0);
        assert_eq!(k.len(), 7);
        assert!((k.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
}
