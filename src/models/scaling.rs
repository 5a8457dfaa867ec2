//! Feature standardisation fitted on a training fold only.

use ndarray::{Array2, ArrayView2, Axis};

/// Per-column mean and standard deviation of a training fold; applying it maps each column to
/// zero mean and unit variance on that fold. Constant columns map to 0 (their SD is taken as 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Standardiser {
    means: Vec<f64>,
    sds: Vec<f64>,
}

impl Standardiser {
    /// Fits on training rows (population SD, as scikit-learn's `StandardScaler`).
    pub fn fit(x: ArrayView2<'_, f64>) -> Standardiser {
        let n = x.nrows().max(1) as f64;
        let mut means = Vec::with_capacity(x.ncols());
        let mut sds = Vec::with_capacity(x.ncols());
        for col in x.axis_iter(Axis(1)) {
            let mean = col.iter().sum::<f64>() / n;
            let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
            let sd = var.sqrt();
            means.push(mean);
            // A (near-)constant column carries no information; avoid dividing by ~0.
            sds.push(if sd > 1e-12 * mean.abs().max(1.0) {
                sd
            } else {
                1.0
            });
        }
        Standardiser { means, sds }
    }

    /// Standardises rows with the fitted means and SDs.
    pub fn transform(&self, x: ArrayView2<'_, f64>) -> Array2<f64> {
        let mut out = x.to_owned();
        for (j, mut col) in out.axis_iter_mut(Axis(1)).enumerate() {
            let (m, s) = (self.means[j], self.sds[j]);
            col.mapv_inplace(|v| (v - m) / s);
        }
        out
    }

    /// The training-fold mean of each column.
    pub fn means(&self) -> &[f64] {
        &self.means
    }

    /// The training-fold standard deviation of each column (1 for constant columns).
    pub fn sds(&self) -> &[f64] {
        &self.sds
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn zero_mean_unit_variance_on_training_rows() {
        let x = array![[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]];
        let s = Standardiser::fit(x.view());
        let z = s.transform(x.view());
        let sd = (8.0f64 / 3.0).sqrt();
        assert!((z[[0, 0]] + 2.0 / sd).abs() < 1e-12);
        assert_eq!(z[[1, 0]], 0.0);
        assert_eq!(z.column(1).to_vec(), vec![0.0, 0.0, 0.0]);
        // Test rows use training statistics, not their own.
        let t = s.transform(array![[7.0, 6.0]].view());
        assert!((t[[0, 0]] - 4.0 / sd).abs() < 1e-12);
        assert_eq!(t[[0, 1]], 1.0);
    }
}
