//! First-order (intensity) statistics of a region, named and computed as pyradiomics'
//! `RadiomicsFirstOrder` does.
//!
//! Principal items: [`FirstOrder`] (the `firstorder` [`FeatureFamily`]) and
//! [`firstorder_features`] (the same on a plain slice of intensities).
//!
//! Reference: pyradiomics `radiomics/firstorder.py` (feature definitions, flat-region rules);
//! IBSI reference manual §3.3 (statistics) and §3.4 (intensity histogram). Percentiles are
//! numpy's default (linear interpolation between closest ranks); Entropy and Uniformity use the
//! discretised grey levels; Energy, TotalEnergy and RootMeanSquared add `voxelArrayShift`.
//! Kurtosis is plain kurtosis (IBSI's excess kurtosis + 3), as in pyradiomics; in IBSI mode, excess.

use super::discretise::discretise;
use super::{FeatureError, FeatureFamily, FeatureSettings, roi_values};
use crate::data::image::{Image, Mask};

/// The pyradiomics `firstorder` class.
#[derive(Debug, Clone, Copy, Default)]
pub struct FirstOrder;

/// The feature names of the class, in pyradiomics' output order (its method names sorted), and
/// without the deprecated `StandardDeviation`, which pyradiomics leaves out by default.
pub const FIRSTORDER_FEATURES: [&str; 18] = [
    "10Percentile",
    "90Percentile",
    "Energy",
    "Entropy",
    "InterquartileRange",
    "Kurtosis",
    "Maximum",
    "Mean",
    "MeanAbsoluteDeviation",
    "Median",
    "Minimum",
    "Range",
    "RobustMeanAbsoluteDeviation",
    "RootMeanSquared",
    "Skewness",
    "TotalEnergy",
    "Uniformity",
    "Variance",
];

impl FeatureFamily for FirstOrder {
    fn class_name(&self) -> &'static str {
        "firstorder"
    }

    fn compute(
        &self,
        image: &Image,
        mask: &Mask,
        settings: &FeatureSettings,
    ) -> Result<Vec<(String, f64)>, FeatureError> {
        let values = roi_values(image, mask, settings.label)?;
        let named = firstorder_features(&values, image.grid.voxel_volume_mm3(), settings)?;
        Ok(named
            .into_iter()
            .map(|(name, value)| (format!("original_firstorder_{name}"), value))
            .collect())
    }

    fn feature_names(&self) -> &'static [&'static str] {
        &FIRSTORDER_FEATURES
    }

    fn deprecated_features(&self) -> &'static [&'static str] {
        &["StandardDeviation"]
    }

    fn compute_all(
        &self,
        image: &Image,
        mask: &Mask,
        settings: &FeatureSettings,
    ) -> Result<Vec<(String, f64)>, FeatureError> {
        let mut features = self.compute(image, mask, settings)?;
        // numpy `nanstd`: the square root of the population variance.
        let values = roi_values(image, mask, settings.label)?;
        let mean = mean(&values);
        let sd = central_moment(&values, mean, 2).sqrt();
        features.push(("original_firstorder_StandardDeviation".to_string(), sd));
        Ok(features)
    }
}

/// numpy `percentile(sorted, q)` with the default linear method, on ascending, non-empty data.
pub fn percentile_linear(sorted: &[f64], q: f64) -> f64 {
    let position = q / 100.0 * (sorted.len() - 1) as f64;
    let below = position.floor();
    let fraction = position - below;
    let lo = sorted[below as usize];
    let hi = sorted[(below as usize + 1).min(sorted.len() - 1)];
    // numpy's `_lerp` runs from the nearer end, so weights near 1 stay exact.
    if fraction >= 0.5 {
        hi - (hi - lo) * (1.0 - fraction)
    } else {
        lo + (hi - lo) * fraction
    }
}

/// Mean of a non-empty slice.
fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// The `k`-th central moment (population, divided by N).
fn central_moment(values: &[f64], centre: f64, k: i32) -> f64 {
    values.iter().map(|v| (v - centre).powi(k)).sum::<f64>() / values.len() as f64
}

/// The 18 default firstorder features of `values` (the region's intensities; non-empty and
/// finite), with bare pyradiomics names (`Mean`), in [`FIRSTORDER_FEATURES`] order.
/// `voxel_volume_mm3` scales TotalEnergy.
pub fn firstorder_features(
    values: &[f64],
    voxel_volume_mm3: f64,
    settings: &FeatureSettings,
) -> Result<Vec<(&'static str, f64)>, FeatureError> {
    if values.is_empty() {
        return Err(FeatureError::EmptyMask {
            label: settings.label,
        });
    }
    let n = values.len() as f64;
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let minimum = sorted[0];
    let maximum = sorted[sorted.len() - 1];
    let p10 = percentile_linear(&sorted, 10.0);
    let p25 = percentile_linear(&sorted, 25.0);
    let p75 = percentile_linear(&sorted, 75.0);
    let p90 = percentile_linear(&sorted, 90.0);
    let median = percentile_linear(&sorted, 50.0);
    let mean_value = mean(values);

    let shift = settings.voxel_array_shift;
    let energy: f64 = values.iter().map(|v| (v + shift) * (v + shift)).sum();
    let rms = (energy / n).sqrt();

    let mad = values.iter().map(|v| (v - mean_value).abs()).sum::<f64>() / n;
    // Robust MAD: values within [P10, P90] inclusive, around their own mean.
    let central: Vec<f64> = values
        .iter()
        .copied()
        .filter(|&v| v >= p10 && v <= p90)
        .collect();
    let robust_mad = if central.is_empty() {
        f64::NAN
    } else {
        let centre = mean(&central);
        central.iter().map(|v| (v - centre).abs()).sum::<f64>() / central.len() as f64
    };

    let m2 = central_moment(values, mean_value, 2);
    let m3 = central_moment(values, mean_value, 3);
    let m4 = central_moment(values, mean_value, 4);
    // pyradiomics: a flat region (second moment exactly 0) gives skewness and kurtosis 0.
    let (skewness, mut kurtosis) = if m2 == 0.0 {
        (0.0, 0.0)
    } else {
        (m3 / m2.powf(1.5), m4 / (m2 * m2))
    };
    if settings.ibsi {
        // IBSI reports excess kurtosis.
        kurtosis -= 3.0;
    }
    // pyradiomics squares numpy's std, itself the square root of the mean squared deviation.
    let variance = m2.sqrt().powi(2);

    let (entropy, uniformity) = histogram_entropy_uniformity(values, settings)?;

    Ok(vec![
        ("10Percentile", p10),
        ("90Percentile", p90),
        ("Energy", energy),
        ("Entropy", entropy),
        ("InterquartileRange", p75 - p25),
        ("Kurtosis", kurtosis),
        ("Maximum", maximum),
        ("Mean", mean_value),
        ("MeanAbsoluteDeviation", mad),
        ("Median", median),
        ("Minimum", minimum),
        ("Range", maximum - minimum),
        ("RobustMeanAbsoluteDeviation", robust_mad),
        ("RootMeanSquared", rms),
        ("Skewness", skewness),
        ("TotalEnergy", energy * voxel_volume_mm3),
        ("Uniformity", uniformity),
        ("Variance", variance),
    ])
}

/// Entropy (log2, with numpy's machine epsilon inside the log as pyradiomics) and uniformity
/// of the discretised grey-level histogram.
fn histogram_entropy_uniformity(
    values: &[f64],
    settings: &FeatureSettings,
) -> Result<(f64, f64), FeatureError> {
    let levels = discretise(values, settings)?.levels;
    let top = levels.iter().copied().max().unwrap_or(0) as usize;
    let mut counts = vec![0usize; top + 1];
    for &level in &levels {
        counts[level as usize] += 1;
    }
    let n = values.len() as f64;
    let mut entropy = 0.0;
    let mut uniformity = 0.0;
    for &count in counts.iter().filter(|&&c| c > 0) {
        let p = count as f64 / n;
        entropy -= p * (p + f64::EPSILON).log2();
        uniformity += p * p;
    }
    Ok((entropy, uniformity))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(features: &[(&'static str, f64)], name: &str) -> f64 {
        features
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, v)| v)
            .unwrap()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    #[test]
    fn percentiles_are_numpy_linear() {
        let sorted = [1.0, 2.0, 3.0, 4.0, 10.0];
        // numpy.percentile([1,2,3,4,10], [10, 25, 50, 75, 90]) = 1.4, 2, 3, 4, 7.6
        assert!(close(percentile_linear(&sorted, 10.0), 1.4));
        assert!(close(percentile_linear(&sorted, 25.0), 2.0));
        assert!(close(percentile_linear(&sorted, 50.0), 3.0));
        assert!(close(percentile_linear(&sorted, 75.0), 4.0));
        assert!(close(percentile_linear(&sorted, 90.0), 7.6));
        assert_eq!(percentile_linear(&[5.0], 90.0), 5.0);
    }

    #[test]
    fn hand_computed_values() {
        // x = 1, 2, 3, 4, 10: mean 4, deviations -3 -2 -1 0 6.
        let x = [1.0, 2.0, 3.0, 4.0, 10.0];
        let settings = FeatureSettings {
            bin_width: 5.0,
            voxel_array_shift: 1.0,
            ..FeatureSettings::default()
        };
        let f = firstorder_features(&x, 2.0, &settings).unwrap();
        assert_eq!(f.len(), 18);
        assert!(close(lookup(&f, "Mean"), 4.0));
        assert!(close(lookup(&f, "Median"), 3.0));
        assert!(close(lookup(&f, "Minimum"), 1.0));
        assert!(close(lookup(&f, "Maximum"), 10.0));
        assert!(close(lookup(&f, "Range"), 9.0));
        assert!(close(lookup(&f, "InterquartileRange"), 2.0));
        // m2 = (9+4+1+0+36)/5 = 10; m3 = (-27-8-1+0+216)/5 = 36; m4 = (81+16+1+0+1296)/5 = 278.8
        assert!(close(lookup(&f, "Variance"), 10.0));
        assert!(close(lookup(&f, "Skewness"), 36.0 / 10f64.powf(1.5)));
        assert!(close(lookup(&f, "Kurtosis"), 2.788));
        assert!(close(lookup(&f, "MeanAbsoluteDeviation"), 12.0 / 5.0));
        // Shifted by 1: 2, 3, 4, 5, 11 → energy 4+9+16+25+121 = 175.
        assert!(close(lookup(&f, "Energy"), 175.0));
        assert!(close(lookup(&f, "TotalEnergy"), 350.0));
        assert!(close(lookup(&f, "RootMeanSquared"), 35f64.sqrt()));
        // P10 = 1.4, P90 = 7.6 → 2, 3, 4 kept, mean 3, MAD 2/3.
        assert!(close(lookup(&f, "RobustMeanAbsoluteDeviation"), 2.0 / 3.0));
        // Width 5 from 0: levels 1,1,1,1,3 → p = 0.8, 0.2.
        let entropy = -(0.8 * (0.8 + f64::EPSILON).log2() + 0.2 * (0.2 + f64::EPSILON).log2());
        assert!(close(lookup(&f, "Entropy"), entropy));
        assert!(close(lookup(&f, "Uniformity"), 0.68));
    }

    #[test]
    fn flat_region_gives_zero_skewness_and_kurtosis() {
        let f = firstorder_features(&[3.0; 6], 1.0, &FeatureSettings::default()).unwrap();
        assert_eq!(lookup(&f, "Skewness"), 0.0);
        assert_eq!(lookup(&f, "Kurtosis"), 0.0);
        assert_eq!(lookup(&f, "Variance"), 0.0);
        assert_eq!(lookup(&f, "Entropy"), -(1.0f64 + f64::EPSILON).log2());
        assert_eq!(lookup(&f, "Uniformity"), 1.0);
    }

    #[test]
    fn names_are_in_the_declared_order() {
        let f = firstorder_features(&[1.0, 2.0], 1.0, &FeatureSettings::default()).unwrap();
        let names: Vec<&str> = f.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, FIRSTORDER_FEATURES);
    }

    #[test]
    fn empty_region_is_an_error() {
        assert!(firstorder_features(&[], 1.0, &FeatureSettings::default()).is_err());
    }
}
