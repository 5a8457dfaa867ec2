//! Grey-level discretisation as pyradiomics does it (`imageoperations.getBinEdges` and
//! `binImage`).
//!
//! Principal items: [`bin_edges`] (fixed bin width or fixed bin count, chosen by
//! [`FeatureSettings`]), [`digitize`] (numpy's `digitize`: half-open bins, levels from 1) and
//! [`discretise`] (both at once over the region's intensities).
//!
//! Reference: pyradiomics `radiomics/imageoperations.py`; IBSI reference manual §2.7 (fixed bin
//! size / fixed bin number) for where the two differ.
//!
//! - **Fixed bin width** `W`: the edges start at the largest multiple of `W` not above the
//!   minimum (Python's floored `%`), and run as numpy's `arange(low, max + 2W, W)`, so the
//!   maximum never sits on the closed end of the last bin. A value on an edge opens the next bin.
//! - **Fixed bin count** `N`: the edges are numpy's `histogram(values, N)` edges (a `linspace`
//!   from the minimum to the maximum, ±0.5 for a flat region) with 1 added to the last, so the
//!   maximum falls into bin `N`.

use super::{FeatureError, FeatureSettings};

/// Python's float `%`: the result has the sign of the divisor (floored modulo).
fn python_mod(a: f64, b: f64) -> f64 {
    let r = a % b;
    if r != 0.0 {
        if (r < 0.0) != (b < 0.0) { r + b } else { r }
    } else {
        0.0_f64.copysign(b)
    }
}

/// Checks the discretisation settings: a positive finite bin width, or a bin count of at least 1.
pub fn check_settings(settings: &FeatureSettings) -> Result<(), FeatureError> {
    match settings.bin_count {
        Some(0) => Err(FeatureError::InvalidSetting {
            key: "binCount".into(),
            reason: "must be at least 1".into(),
        }),
        Some(_) => Ok(()),
        None if !(settings.bin_width.is_finite() && settings.bin_width > 0.0) => {
            Err(FeatureError::InvalidSetting {
                key: "binWidth".into(),
                reason: format!("must be positive and finite, got {}", settings.bin_width),
            })
        }
        None => Ok(()),
    }
}

/// The fixed-bin-width edges of pyradiomics for `values` (non-empty, finite) and width
/// `bin_width` (> 0): `low = min − (min mod W)`, then numpy `arange(low, max + 2W, W)`.
///
/// numpy's `arange` has `ceil((stop − start) / step)` elements and fills element `i` as
/// `start + i·δ` with `δ = (start + step) − start`; repeating that keeps the edges bit-equal
/// to pyradiomics' for non-integer data too.
pub fn fixed_bin_width_edges(values: &[f64], bin_width: f64) -> Vec<f64> {
    let (min, max) = min_max(values);
    let low = min - python_mod(min, bin_width);
    let high = max + 2.0 * bin_width;
    let count = ((high - low) / bin_width).ceil().max(0.0) as usize;
    let delta = (low + bin_width) - low;
    let mut edges: Vec<f64> = (0..count)
        .map(|i| if i == 0 { low } else { low + i as f64 * delta })
        .collect();
    if count >= 2 {
        // numpy stores element 1 as `start + step` itself, not `start + 1·δ`.
        edges[1] = low + bin_width;
    }
    if edges.len() == 1 {
        // A flat region whose edge count rounds to one: pyradiomics makes one bin of width 1.
        let only = edges[0];
        edges = vec![only - 0.5, only + 0.5];
    }
    edges
}

/// The fixed-bin-count edges of pyradiomics for `values` (non-empty, finite) and `bin_count`
/// (≥ 1): numpy `histogram(values, N)` edges with 1 added to the last edge.
pub fn fixed_bin_count_edges(values: &[f64], bin_count: usize) -> Vec<f64> {
    let (mut first, mut last) = min_max(values);
    if first == last {
        first -= 0.5;
        last += 0.5;
    }
    // numpy `linspace(first, last, N + 1)`: `i·step + first`, the last element set to `last`.
    let step = (last - first) / bin_count as f64;
    let mut edges: Vec<f64> = (0..=bin_count).map(|i| i as f64 * step + first).collect();
    edges[bin_count] = last + 1.0;
    edges
}

/// The bin edges `settings` asks for: fixed bin count when `bin_count` is set, else fixed bin
/// width. `values` are the region's intensities (non-empty, finite).
pub fn bin_edges(values: &[f64], settings: &FeatureSettings) -> Result<Vec<f64>, FeatureError> {
    check_settings(settings)?;
    Ok(match settings.bin_count {
        Some(count) => fixed_bin_count_edges(values, count),
        None => fixed_bin_width_edges(values, settings.bin_width),
    })
}

/// numpy's `digitize(value, edges)` for increasing edges: the `i` with
/// `edges[i−1] ≤ value < edges[i]` (0 below the first edge, `edges.len()` at or above the last).
pub fn digitize(value: f64, edges: &[f64]) -> usize {
    edges.partition_point(|&edge| edge <= value)
}

/// A region's intensities after discretisation.
#[derive(Debug, Clone, PartialEq)]
pub struct Discretised {
    /// Grey level of each input value, 1-based, in input order.
    pub levels: Vec<u32>,
    /// The bin edges used.
    pub edges: Vec<f64>,
}

/// Discretises a region's intensities (non-empty, finite) as pyradiomics' `binImage` does, or
/// in IBSI mode (`settings.ibsi`) by the IBSI formulas ([`discretise_ibsi`]).
pub fn discretise(values: &[f64], settings: &FeatureSettings) -> Result<Discretised, FeatureError> {
    if settings.ibsi {
        return discretise_ibsi(values, settings);
    }
    let edges = bin_edges(values, settings)?;
    let levels = values.iter().map(|&v| digitize(v, &edges) as u32).collect();
    Ok(Discretised { levels, edges })
}

/// IBSI reference manual §2.7: fixed bin size `w` gives ⌊(x − x_min)/w⌋ + 1 with `x_min` the
/// lower re-segmentation bound (absolute mode) or else the region's minimum; fixed bin number
/// `N` gives ⌊N (x − min)/(max − min)⌋ + 1, and N for the maximum (1 for a flat region).
pub fn discretise_ibsi(
    values: &[f64],
    settings: &FeatureSettings,
) -> Result<Discretised, FeatureError> {
    check_settings(settings)?;
    let (min, max) = min_max(values);
    match settings.bin_count {
        Some(count) => {
            let n = count as f64;
            let levels = values
                .iter()
                .map(|&x| {
                    if max == min || x >= max {
                        if max == min { 1 } else { count as u32 }
                    } else {
                        ((n * (x - min) / (max - min)).floor() + 1.0) as u32
                    }
                })
                .collect();
            let step = (max - min) / n;
            let edges = (0..=count).map(|k| min + k as f64 * step).collect();
            Ok(Discretised { levels, edges })
        }
        None => {
            let w = settings.bin_width;
            let low = match (&settings.resegment_range, settings.resegment_mode) {
                (Some(range), super::ResegmentMode::Absolute) if !range.is_empty() => {
                    range.iter().copied().fold(f64::INFINITY, f64::min)
                }
                _ => min,
            };
            let levels: Vec<u32> = values
                .iter()
                .map(|&x| ((x - low) / w).floor().max(0.0) as u32 + 1)
                .collect();
            let top = levels.iter().copied().max().unwrap_or(1);
            let edges = (0..=top).map(|k| low + f64::from(k) * w).collect();
            Ok(Discretised { levels, edges })
        }
    }
}

/// Minimum and maximum of a non-empty slice (`(+inf, −inf)` for an empty one).
fn min_max(values: &[f64]) -> (f64, f64) {
    values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn width(w: f64) -> FeatureSettings {
        FeatureSettings {
            bin_width: w,
            ..FeatureSettings::default()
        }
    }

    #[test]
    fn python_mod_is_floored() {
        assert_eq!(python_mod(468.0, 25.0), 18.0);
        assert_eq!(python_mod(-1.0, 25.0), 24.0);
        assert_eq!(python_mod(-50.0, 25.0), 0.0);
    }

    #[test]
    fn fixed_width_edges_are_numpy_arange_to_max_plus_two_widths() {
        // Values 54..166, width 25: numpy.arange(50, 216, 25) = 50, 75, ..., 200 (checked with
        // numpy 1.26; pyradiomics' docstring shows only the edges up to 175).
        let edges = fixed_bin_width_edges(&[54.0, 100.0, 166.0], 25.0);
        assert_eq!(edges, vec![50.0, 75.0, 100.0, 125.0, 150.0, 175.0, 200.0]);
    }

    #[test]
    fn fixed_width_edges_start_at_floor_of_min_for_brain1() {
        // README: brain1's minimum is 468, so its edges are 450, 475, ...
        let edges = fixed_bin_width_edges(&[468.0, 500.0], 25.0);
        assert_eq!(edges[..3], [450.0, 475.0, 500.0]);
        // arange(450, 550, 25) → 450, 475, 500, 525.
        assert_eq!(edges.len(), 4);
    }

    #[test]
    fn negative_minimum_floors_downwards() {
        // numpy.arange(-25, 53, 25) = -25, 0, 25, 50.
        let edges = fixed_bin_width_edges(&[-1.0, 3.0], 25.0);
        assert_eq!(edges, vec![-25.0, 0.0, 25.0, 50.0]);
        let levels = discretise(&[-1.0, 3.0, -25.0, 0.0], &width(25.0))
            .unwrap()
            .levels;
        assert_eq!(levels, vec![1, 2, 1, 2]);
    }

    #[test]
    fn value_on_an_edge_opens_the_next_bin_and_the_maximum_gets_its_own() {
        // Values 0..=50 width 25: edges 0, 25, 50, 75 (arange(0, 100, 25)); 50 → level 3.
        let d = discretise(&[0.0, 24.9, 25.0, 50.0], &width(25.0)).unwrap();
        assert_eq!(d.edges, vec![0.0, 25.0, 50.0, 75.0]);
        assert_eq!(d.levels, vec![1, 1, 2, 3]);
    }

    #[test]
    fn flat_region_is_one_level() {
        let d = discretise(&[7.0, 7.0, 7.0], &width(25.0)).unwrap();
        assert_eq!(d.levels, vec![1, 1, 1]);
        let fbn = FeatureSettings {
            bin_count: Some(8),
            ..FeatureSettings::default()
        };
        let d = discretise(&[7.0, 7.0], &fbn).unwrap();
        // histogram edges 6.5 .. 7.5 in 8 steps; 7.0 sits on edge 4 → level 5.
        assert_eq!(d.edges.len(), 9);
        assert_eq!(d.levels, vec![5, 5]);
    }

    #[test]
    fn fixed_count_puts_the_maximum_in_the_last_bin() {
        let fbn = FeatureSettings {
            bin_count: Some(4),
            ..FeatureSettings::default()
        };
        let d = discretise(&[0.0, 1.0, 2.0, 3.0, 4.0, 8.0], &fbn).unwrap();
        // edges 0, 2, 4, 6, 9 (8 + 1).
        assert_eq!(d.edges, vec![0.0, 2.0, 4.0, 6.0, 9.0]);
        assert_eq!(d.levels, vec![1, 1, 2, 2, 3, 4]);
    }

    #[test]
    fn bad_settings_are_errors() {
        assert!(discretise(&[1.0], &width(0.0)).is_err());
        assert!(discretise(&[1.0], &width(f64::NAN)).is_err());
        let fbn = FeatureSettings {
            bin_count: Some(0),
            ..FeatureSettings::default()
        };
        assert!(discretise(&[1.0], &fbn).is_err());
    }

    #[test]
    fn ibsi_mode_bins_from_the_minimum() {
        let ibsi = FeatureSettings {
            bin_width: 25.0,
            ibsi: true,
            ..FeatureSettings::default()
        };
        // pyradiomics would start at 50 (54 → level 1, 75 → 2); IBSI starts at 54.
        assert_eq!(
            discretise(&[54.0, 78.0, 79.0, 166.0], &ibsi)
                .unwrap()
                .levels,
            vec![1, 1, 2, 5]
        );
        let resegmented = FeatureSettings {
            resegment_range: Some(vec![-500.0, 400.0]),
            ..ibsi.clone()
        };
        assert_eq!(
            discretise(&[-500.0, -476.0, -475.0], &resegmented)
                .unwrap()
                .levels,
            vec![1, 1, 2]
        );
        let fbn = FeatureSettings {
            bin_count: Some(4),
            ..ibsi
        };
        assert_eq!(
            discretise(&[0.0, 1.9, 2.0, 8.0], &fbn).unwrap().levels,
            vec![1, 1, 2, 4]
        );
    }

    #[test]
    fn digitize_is_numpy_right_false() {
        let edges = [0.0, 1.0, 2.0];
        assert_eq!(digitize(-0.5, &edges), 0);
        assert_eq!(digitize(0.0, &edges), 1);
        assert_eq!(digitize(1.5, &edges), 2);
        assert_eq!(digitize(2.0, &edges), 3);
    }
}
