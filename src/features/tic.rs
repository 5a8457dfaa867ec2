//! Time–intensity-curve (TIC) features of a contrast-enhanced cine: the `tic` feature class.
//!
//! Principal items: [`Tic`] (the [`FeatureFamily`]), [`roi_mean_curve`] (the curve of a 2-D +
//! time series) and [`tic_features`] (the features of any sampled curve).
//!
//! # The curve
//!
//! A cine is stored as a 3-D image whose third axis is time: voxel `(i, j, k)` is pixel
//! `(i, j)` of frame `k`, and frame `k` was acquired at `t_k = origin[2] + k·spacing[2]`
//! seconds (the scenario `ceus-cine` and most converters put the injection at `t = 0`; the
//! direction matrix is not used). The curve value `c_k` is the mean intensity of the pixels of
//! frame `k` that the mask labels; frames before the first and after the last frame holding
//! ROI pixels are left out, an empty frame in between is an error, and at least
//! [`MIN_FRAMES`] frames are needed.
//!
//! # Definitions
//!
//! Baseline subtraction: `y_k = c_k − B`, where `B` is the mean of the first
//! [`BASELINE_FRAMES`] frames (the pre-contrast frames). `y(t)` is the linear interpolant of
//! the samples; every integral below is the exact integral of that interpolant.
//!
//! - `PeakIntensity` `PI = max y_k`; its frame `p` is the first frame reaching it.
//! - `TimeToPeak` `= t_p` (time from the injection, `t = 0`, to the peak frame).
//! - Crossings of a level `q·PI` by linear interpolation: on the rising side the *last* upward
//!   crossing before `p` (so early noise does not count; if every frame before `p` is above the
//!   level, the first frame's time), on the falling side the *first* downward crossing after
//!   `p` (if the curve stays above the level to the end, the last frame's time: the fall is
//!   censored by the end of the cine, and the fall time is a lower bound).
//! - `ArrivalTime` = the rising 10 % crossing.
//! - `RiseTime` = rising 90 % crossing − rising 10 % crossing (10–90 % rise time).
//! - `FallTime` = falling 10 % crossing − falling 90 % crossing (90–10 % fall time).
//! - `WashInSlope` = `(y(t90↑) − y(t10↑)) / RiseTime` (= `0.8·PI / RiseTime` when both
//!   crossings exist; intensity per second).
//! - `WashOutSlope` = `(y(t10↓) − y(t90↓)) / FallTime` (negative; `−0.8·PI / FallTime`
//!   when the curve falls to 10 % within the cine).
//! - `AreaUnderCurve` = `∫ y dt` over the whole cine; `AreaUnderCurveWashIn` over
//!   `[t_first, t_p]`, `AreaUnderCurveWashOut` over `[t_p, t_last]` (they sum to the total).
//! - `MeanTransitTime` = `∫ t·y dt / ∫ y dt`, the first moment of the curve measured from
//!   the injection (Stewart–Hamilton): for a gamma-variate bolus arriving at `t₀` with time to
//!   peak `t_p` and shape `α` it is `t₀ + t_p(α + 1)/α`, for a log-normal bolus `e^{μ+σ²/2}`.
//!
//! Degenerate curves give NaN where a definition divides by zero: `PI ≤ 0` (no enhancement)
//! makes every level-based feature and `MeanTransitTime` NaN when `∫ y dt ≤ 0`; a zero rise or
//! fall time makes its slope NaN. Names follow pyradiomics' style: `original_tic_PeakIntensity`.

use super::{FeatureError, FeatureFamily, FeatureSettings};
use crate::data::image::{Image, Mask};

/// The `tic` feature class.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tic;

/// Frames averaged into the baseline (pre-contrast intensity).
pub const BASELINE_FRAMES: usize = 3;

/// Fewest frames a curve needs: the baseline frames and at least two more.
pub const MIN_FRAMES: usize = BASELINE_FRAMES + 2;

/// The feature names of the class, in output order.
pub const TIC_FEATURES: [&str; 11] = [
    "AreaUnderCurve",
    "AreaUnderCurveWashIn",
    "AreaUnderCurveWashOut",
    "ArrivalTime",
    "FallTime",
    "MeanTransitTime",
    "PeakIntensity",
    "RiseTime",
    "TimeToPeak",
    "WashInSlope",
    "WashOutSlope",
];

impl FeatureFamily for Tic {
    fn class_name(&self) -> &'static str {
        "tic"
    }

    fn compute(
        &self,
        image: &Image,
        mask: &Mask,
        settings: &FeatureSettings,
    ) -> Result<Vec<(String, f64)>, FeatureError> {
        let (times, values) = roi_mean_curve(image, mask, settings.label)?;
        Ok(tic_features(&times, &values)
            .into_iter()
            .map(|(name, value)| (format!("original_tic_{name}"), value))
            .collect())
    }

    fn feature_names(&self) -> &'static [&'static str] {
        &TIC_FEATURES
    }
}

/// The ROI-mean time–intensity curve of a cine (frames along the third axis): frame times in
/// seconds and mean intensities, for the frames from the first to the last holding ROI pixels.
pub fn roi_mean_curve(
    image: &Image,
    mask: &Mask,
    label: u8,
) -> Result<(Vec<f64>, Vec<f64>), FeatureError> {
    let [nx, ny, nt] = image.grid.dims;
    let plane = nx * ny;
    if image.voxels.len() != plane * nt || mask.voxels.len() != plane * nt {
        return Err(FeatureError::GeometryMismatch(format!(
            "a cine of {nx}×{ny} pixels and {nt} frames needs {} voxels; the image has {}, the mask {}",
            plane * nt,
            image.voxels.len(),
            mask.voxels.len()
        )));
    }
    let dt = image.grid.spacing[2];
    if !(dt.is_finite() && dt > 0.0) {
        return Err(FeatureError::InvalidSetting {
            key: "spacing[2] (seconds per frame)".into(),
            reason: format!("{dt} is not a positive frame interval"),
        });
    }
    let mut means: Vec<Option<f64>> = Vec::with_capacity(nt);
    for k in 0..nt {
        let frame = k * plane..(k + 1) * plane;
        let (mut sum, mut count) = (0.0, 0usize);
        for (offset, (&value, &l)) in image.voxels[frame.clone()]
            .iter()
            .zip(&mask.voxels[frame])
            .enumerate()
        {
            if l == label {
                if !value.is_finite() {
                    return Err(FeatureError::NonFiniteIntensity {
                        index: k * plane + offset,
                        value,
                    });
                }
                sum += value;
                count += 1;
            }
        }
        means.push((count > 0).then(|| sum / count as f64));
    }
    let Some(first) = means.iter().position(Option::is_some) else {
        return Err(FeatureError::EmptyMask { label });
    };
    let last = means.iter().rposition(Option::is_some).unwrap_or(first);
    let mut times = Vec::with_capacity(last + 1 - first);
    let mut values = Vec::with_capacity(last + 1 - first);
    for (k, mean) in means.iter().enumerate().take(last + 1).skip(first) {
        let Some(mean) = mean else {
            return Err(FeatureError::RoiRejected {
                reason: format!(
                    "time-intensity curve: frame {k} has no ROI pixel between frames {first} and {last} that do"
                ),
            });
        };
        times.push(image.grid.origin[2] + k as f64 * dt);
        values.push(*mean);
    }
    if values.len() < MIN_FRAMES {
        return Err(FeatureError::RoiRejected {
            reason: format!(
                "time-intensity curve: the ROI covers {} frames; at least {MIN_FRAMES} are needed \
                 ({BASELINE_FRAMES} baseline frames and 2 more)",
                values.len()
            ),
        });
    }
    Ok((times, values))
}

/// The TIC features (bare names, [`TIC_FEATURES`] order) of a curve sampled at increasing
/// `times` (seconds). The first [`BASELINE_FRAMES`] samples are the baseline.
pub fn tic_features(times: &[f64], values: &[f64]) -> Vec<(&'static str, f64)> {
    debug_assert_eq!(times.len(), values.len());
    let n = values.len();
    let base_n = BASELINE_FRAMES.min(n);
    let baseline = if base_n == 0 {
        0.0
    } else {
        values[..base_n].iter().sum::<f64>() / base_n as f64
    };
    let y: Vec<f64> = values.iter().map(|v| v - baseline).collect();
    let nan = f64::NAN;
    if n == 0 {
        return TIC_FEATURES.iter().map(|&name| (name, nan)).collect();
    }
    // First frame reaching the maximum.
    let peak = (1..n).fold(0, |best, k| if y[k] > y[best] { k } else { best });
    let pi = y[peak];
    let t_peak = times[peak];

    let area = integral(times, &y, 0, n - 1);
    let area_in = integral(times, &y, 0, peak);
    let area_out = integral(times, &y, peak, n - 1);
    let moment = first_moment(times, &y);
    let mtt = if area > 0.0 { moment / area } else { nan };

    let (arrival, rise, fall, wash_in, wash_out) = if pi > 0.0 {
        let up10 = rising_crossing(times, &y, peak, 0.1 * pi);
        let up90 = rising_crossing(times, &y, peak, 0.9 * pi);
        let down90 = falling_crossing(times, &y, peak, 0.9 * pi);
        let down10 = falling_crossing(times, &y, peak, 0.1 * pi);
        let slope = |a: (f64, f64), b: (f64, f64)| {
            if b.0 > a.0 {
                (b.1 - a.1) / (b.0 - a.0)
            } else {
                nan
            }
        };
        (
            up10.0,
            up90.0 - up10.0,
            down10.0 - down90.0,
            slope(up10, up90),
            slope(down90, down10),
        )
    } else {
        (nan, nan, nan, nan, nan)
    };

    let values = [
        area, area_in, area_out, arrival, fall, mtt, pi, rise, t_peak, wash_in, wash_out,
    ];
    TIC_FEATURES.iter().copied().zip(values).collect()
}

/// `∫ y dt` of the linear interpolant from sample `from` to sample `to`.
fn integral(times: &[f64], y: &[f64], from: usize, to: usize) -> f64 {
    (from..to)
        .map(|k| 0.5 * (times[k + 1] - times[k]) * (y[k] + y[k + 1]))
        .sum()
}

/// `∫ t·y dt` of the linear interpolant over the whole curve: on `[a, b]` with end values
/// `y_a`, `y_b` it is `(b − a)/6 · (y_a(2a + b) + y_b(a + 2b))`, exact for a linear `y`.
fn first_moment(times: &[f64], y: &[f64]) -> f64 {
    (0..times.len().saturating_sub(1))
        .map(|k| {
            let (a, b) = (times[k], times[k + 1]);
            (b - a) / 6.0 * (y[k] * (2.0 * a + b) + y[k + 1] * (a + 2.0 * b))
        })
        .sum()
}

/// The last upward crossing of `level` before sample `peak`: (time, curve value there).
fn rising_crossing(times: &[f64], y: &[f64], peak: usize, level: f64) -> (f64, f64) {
    match (0..peak).rev().find(|&k| y[k] < level) {
        // y[k] < level <= y[k + 1]: interpolate inside the segment.
        Some(k) => (interpolate(times, y, k, level), level),
        // Above the level from the first frame on: the rise began before the cine.
        None => (times[0], y[0]),
    }
}

/// The first downward crossing of `level` after sample `peak`: (time, curve value there).
fn falling_crossing(times: &[f64], y: &[f64], peak: usize, level: f64) -> (f64, f64) {
    match (peak + 1..y.len()).find(|&k| y[k] < level) {
        // y[k - 1] >= level > y[k].
        Some(k) => (interpolate(times, y, k - 1, level), level),
        // Still above the level at the last frame: censored by the end of the cine.
        None => (times[y.len() - 1], y[y.len() - 1]),
    }
}

/// The time at which the segment from sample `k` to `k + 1` takes the value `level`.
fn interpolate(times: &[f64], y: &[f64], k: usize, level: f64) -> f64 {
    let (t0, t1, y0, y1) = (times[k], times[k + 1], y[k], y[k + 1]);
    if y1 == y0 {
        return t0;
    }
    t0 + (level - y0) / (y1 - y0) * (t1 - t0)
}

#[cfg(test)]
#[path = "tic_tests.rs"]
mod tests;
