use super::*;
use crate::data::image::Grid;
use std::f64::consts::PI;

fn feature(features: &[(&'static str, f64)], name: &str) -> f64 {
    features
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no feature {name}"))
        .1
}

fn close(found: f64, expected: f64, tolerance: f64, what: &str) {
    assert!(
        (found - expected).abs() <= tolerance,
        "{what}: {found} vs {expected} (tolerance {tolerance})"
    );
}

fn sample(curve: impl Fn(f64) -> f64, dt: f64, end: f64, offset: f64) -> (Vec<f64>, Vec<f64>) {
    let n = (end / dt).round() as usize + 1;
    let times: Vec<f64> = (0..n).map(|k| k as f64 * dt).collect();
    let values = times.iter().map(|&t| curve(t) + offset).collect();
    (times, values)
}

/// A triangle bolus on a baseline of 40: flat to t = 3 s, linear to 100 above baseline at
/// t = 7 s, linear back to baseline at t = 15 s, flat to 20 s. Linear pieces make every
/// definition exact.
#[test]
fn triangle_curve_gives_exact_values() {
    let (times, values) = sample(
        |t| {
            if t <= 3.0 || t >= 15.0 {
                0.0
            } else if t <= 7.0 {
                25.0 * (t - 3.0)
            } else {
                100.0 - 12.5 * (t - 7.0)
            }
        },
        1.0,
        20.0,
        40.0,
    );
    let f = tic_features(&times, &values);
    let eps = 1e-9;
    close(feature(&f, "PeakIntensity"), 100.0, eps, "peak");
    close(feature(&f, "TimeToPeak"), 7.0, eps, "ttp");
    close(feature(&f, "ArrivalTime"), 3.4, eps, "arrival");
    close(feature(&f, "RiseTime"), 3.2, eps, "rise");
    close(feature(&f, "FallTime"), 6.4, eps, "fall");
    close(feature(&f, "WashInSlope"), 25.0, eps, "wash-in");
    close(feature(&f, "WashOutSlope"), -12.5, eps, "wash-out");
    close(feature(&f, "AreaUnderCurve"), 600.0, eps, "auc");
    close(feature(&f, "AreaUnderCurveWashIn"), 200.0, eps, "auc in");
    close(feature(&f, "AreaUnderCurveWashOut"), 400.0, eps, "auc out");
    // The centroid of a triangle: the mean of its vertices' times.
    close(feature(&f, "MeanTransitTime"), 25.0 / 3.0, eps, "mtt");
    assert_eq!(
        f.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        TIC_FEATURES.to_vec()
    );
}

/// Gamma-variate bolus `A·x^α·e^{α(1−x)}`, `x = (t − t₀)/t_p`: peak `A` at `t₀ + t_p`,
/// `∫ = A·t_p·e^α·Γ(α+1)/α^{α+1}`, wash-in part `A·t_p·e^α·γ(α+1, α)/α^{α+1}`, first moment
/// `t₀ + t_p(α+1)/α`. With α = 2: `Γ(3) = 2`, `γ(3, 2) = 2(1 − 5e^{−2})`.
#[test]
fn gamma_variate_matches_closed_forms() {
    let (a, t0, tp, alpha) = (80.0, 10.0, 5.0, 2.0_f64);
    let curve = move |t: f64| {
        if t <= t0 {
            0.0
        } else {
            let x = (t - t0) / tp;
            a * (alpha * (x.ln() + 1.0 - x)).exp()
        }
    };
    let (times, values) = sample(curve, 0.01, 200.0, 12.0);
    let f = tic_features(&times, &values);
    let scale = a * tp * alpha.exp() / alpha.powi(3);
    close(feature(&f, "PeakIntensity"), a, 1e-6 * a, "peak");
    close(feature(&f, "TimeToPeak"), t0 + tp, 0.005, "ttp");
    close(feature(&f, "AreaUnderCurve"), scale * 2.0, 1e-3, "auc");
    let wash_in = scale * 2.0 * (1.0 - 5.0 * (-2.0f64).exp());
    close(feature(&f, "AreaUnderCurveWashIn"), wash_in, 1e-3, "auc in");
    close(
        feature(&f, "AreaUnderCurveWashOut"),
        scale * 2.0 - wash_in,
        1e-3,
        "auc out",
    );
    close(
        feature(&f, "MeanTransitTime"),
        t0 + tp * (alpha + 1.0) / alpha,
        1e-4,
        "mtt",
    );
    // Crossings of q·A: x^α e^{α(1−x)} = q, solved by bisection on each side of x = 1.
    let crossing = |q: f64, rising: bool| {
        let (mut lo, mut hi): (f64, f64) = if rising { (1e-9, 1.0) } else { (1.0, 40.0) };
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            let above = (alpha * (mid.ln() + 1.0 - mid)).exp() > q;
            if above == rising {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        t0 + tp * 0.5 * (lo + hi)
    };
    let (up10, up90) = (crossing(0.1, true), crossing(0.9, true));
    let (down90, down10) = (crossing(0.9, false), crossing(0.1, false));
    close(feature(&f, "ArrivalTime"), up10, 1e-4, "arrival");
    close(feature(&f, "RiseTime"), up90 - up10, 1e-4, "rise");
    close(feature(&f, "FallTime"), down10 - down90, 1e-4, "fall");
    close(
        feature(&f, "WashInSlope"),
        0.8 * a / (up90 - up10),
        1e-3,
        "wash-in",
    );
    close(
        feature(&f, "WashOutSlope"),
        -0.8 * a / (down10 - down90),
        1e-3,
        "wash-out",
    );
}

/// Log-normal bolus `A/(σ√(2π)·t)·exp(−(ln t − μ)²/(2σ²))`: area `A`, peak at `e^{μ−σ²}` of
/// height `A·e^{σ²/2−μ}/(σ√(2π))`, mean transit time `e^{μ+σ²/2}`; it crosses `q·peak` at
/// `t = e^{μ−σ²±σ√(−2 ln q)}`.
#[test]
fn lognormal_bolus_matches_closed_forms() {
    let (a, mu, sigma) = (1500.0, 20.0f64.ln(), 0.4f64);
    let curve = move |t: f64| {
        if t <= 0.0 {
            0.0
        } else {
            a / (sigma * (2.0 * PI).sqrt() * t)
                * (-(t.ln() - mu).powi(2) / (2.0 * sigma * sigma)).exp()
        }
    };
    let (times, values) = sample(curve, 0.01, 300.0, 30.0);
    let f = tic_features(&times, &values);
    let mode = (mu - sigma * sigma).exp();
    let height = a * (sigma * sigma / 2.0 - mu).exp() / (sigma * (2.0 * PI).sqrt());
    let at = |q: f64, sign: f64| (mu - sigma * sigma + sign * sigma * (-2.0 * q.ln()).sqrt()).exp();
    close(feature(&f, "PeakIntensity"), height, 1e-6 * height, "peak");
    close(feature(&f, "TimeToPeak"), mode, 0.005, "ttp");
    close(feature(&f, "AreaUnderCurve"), a, 1e-3 * a, "auc");
    close(
        feature(&f, "MeanTransitTime"),
        (mu + sigma * sigma / 2.0).exp(),
        1e-3,
        "mtt",
    );
    close(feature(&f, "ArrivalTime"), at(0.1, -1.0), 1e-3, "arrival");
    close(
        feature(&f, "RiseTime"),
        at(0.9, -1.0) - at(0.1, -1.0),
        1e-3,
        "rise",
    );
    close(
        feature(&f, "FallTime"),
        at(0.1, 1.0) - at(0.9, 1.0),
        1e-3,
        "fall",
    );
}

#[test]
fn a_fall_beyond_the_cine_is_censored_at_its_end() {
    // Rises to 100 at t = 4, falls by 5 per second to 60 at the last frame (t = 12).
    let (times, values) = sample(
        |t| {
            if t <= 2.0 {
                0.0
            } else if t <= 4.0 {
                50.0 * (t - 2.0)
            } else {
                100.0 - 5.0 * (t - 4.0)
            }
        },
        1.0,
        12.0,
        0.0,
    );
    let f = tic_features(&times, &values);
    // 90 % reached at t = 6; the 10 % level never: censored at t = 12.
    close(feature(&f, "FallTime"), 6.0, 1e-12, "fall");
    close(feature(&f, "WashOutSlope"), -5.0, 1e-12, "wash-out");
}

#[test]
fn a_curve_without_enhancement_gives_nan_shape_features() {
    let times: Vec<f64> = (0..6).map(f64::from).collect();
    let f = tic_features(&times, &[5.0; 6]);
    assert_eq!(feature(&f, "PeakIntensity"), 0.0);
    assert_eq!(feature(&f, "AreaUnderCurve"), 0.0);
    for name in ["RiseTime", "FallTime", "WashInSlope", "MeanTransitTime"] {
        assert!(feature(&f, name).is_nan(), "{name}");
    }
}

/// A 3×2-pixel cine whose ROI (two pixels) follows the triangle curve on average while the
/// background does something else; frames are 1 s apart.
fn cine(frames: usize) -> (Image, Mask) {
    let mut grid = Grid::new([3, 2, frames], [0.5, 0.5, 1.0]);
    grid.origin = [0.0, 0.0, 0.0];
    let mut voxels = Vec::new();
    let mut labels = Vec::new();
    for k in 0..frames {
        let t = k as f64;
        let level = if t <= 3.0 || t >= 15.0 {
            0.0
        } else if t <= 7.0 {
            25.0 * (t - 3.0)
        } else {
            100.0 - 12.5 * (t - 7.0)
        };
        // ROI pixels level ± 10 (mean = level), background 1000.
        voxels.extend([level + 10.0, level - 10.0, 1000.0, 1000.0, 1000.0, 1000.0]);
        labels.extend([1u8, 1, 0, 0, 0, 0]);
    }
    (
        Image {
            grid: grid.clone(),
            voxels,
        },
        Mask {
            grid,
            voxels: labels,
        },
    )
}

#[test]
fn family_computes_the_roi_mean_curve_features() {
    let (image, mask) = cine(21);
    let (times, values) = roi_mean_curve(&image, &mask, 1).unwrap();
    assert_eq!(times.len(), 21);
    assert_eq!(values[7], 100.0);
    let family = crate::features::family_by_name("tic").unwrap();
    let f =
        crate::features::extract(&image, &mask, &FeatureSettings::default(), &[family]).unwrap();
    let get = |name: &str| f.iter().find(|(n, _)| n == name).unwrap().1;
    assert_eq!(f.len(), TIC_FEATURES.len());
    close(get("original_tic_PeakIntensity"), 100.0, 1e-9, "peak");
    close(get("original_tic_RiseTime"), 3.2, 1e-9, "rise");
    close(get("original_tic_AreaUnderCurve"), 600.0, 1e-9, "auc");
}

#[test]
fn frame_times_follow_origin_and_spacing() {
    let (mut image, mask) = cine(21);
    image.grid.spacing[2] = 0.5;
    image.grid.origin[2] = 2.0;
    let (times, _) = roi_mean_curve(&image, &mask, 1).unwrap();
    assert_eq!(times[0], 2.0);
    assert_eq!(times[4], 4.0);
}

#[test]
fn bad_cines_are_clear_errors() {
    let (image, mask) = cine(4);
    let message = roi_mean_curve(&image, &mask, 1).unwrap_err().to_string();
    assert!(message.contains("covers 4 frames"), "{message}");

    let (image, mut mask) = cine(21);
    for v in &mut mask.voxels[6 * 5..6 * 6] {
        *v = 0;
    }
    let message = roi_mean_curve(&image, &mask, 1).unwrap_err().to_string();
    assert!(message.contains("frame 5 has no ROI pixel"), "{message}");

    let (image, mask) = cine(21);
    assert!(matches!(
        roi_mean_curve(&image, &mask, 2),
        Err(FeatureError::EmptyMask { label: 2 })
    ));

    // ROI only on frames 2..=8: the curve is those frames.
    let (image, mut mask) = cine(21);
    for k in (0..2).chain(9..21) {
        for v in &mut mask.voxels[6 * k..6 * (k + 1)] {
            *v = 0;
        }
    }
    let (times, _) = roi_mean_curve(&image, &mask, 1).unwrap();
    assert_eq!(times, (2..=8).map(f64::from).collect::<Vec<_>>());
}

#[test]
fn a_parameter_file_selects_tic_features_for_extract() {
    use crate::features::params::{Params, extract_with_params, parse_params};
    let p = parse_params(
        "featureClass:\n  tic: [PeakIntensity, RiseTime]\n",
        "p.yaml",
    )
    .unwrap();
    let (image, mask) = cine(21);
    let f = extract_with_params(&image, &mask, &p).unwrap();
    let names: Vec<&str> = f.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["original_tic_PeakIntensity", "original_tic_RiseTime"]
    );
    let message = parse_params("featureClass:\n  tic: [Peak]\n", "p.yaml")
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("tic.Peak") && message.contains("PeakIntensity"),
        "{message}"
    );
    // The default (no featureClass) stays pyradiomics' classes only.
    assert!(
        Params::default()
            .classes
            .iter()
            .all(|c| c.family.class_name() != "tic")
    );
}
