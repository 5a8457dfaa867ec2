//! `spleen-ct`: portal-venous abdominal CT with the spleen as the segmentation target, spleen
//! volume driving survival and hepatic decompensation.
//!
//! Principal items: [`SpleenCt`] (the [`Scenario`]), its [`Latents`], [`volume_ml`],
//! [`survival_function`], and the ground truth [`bayes_auc_decompensation`]; the survival
//! figures below come from simulating latents in a test. Analogue of source paper 2 (fully
//! automated spleen segmentation in TACE patients, Eur Radiol 2022: Dice 0.96, mean spleen
//! volume 551 mL, median survival 10.9 vs 22.0 months for high vs low volume, volume
//! associated with hepatic decompensation). Survival model: Weibull proportional hazards
//! (Bender, Augustin & Blettner, *Stat Med* 24, 2005, for simulating such times).
//!
//! # Generative model (version 1)
//!
//! Volume 64 × 64 × 32 voxels at 4 × 4 × 8 mm (one voxel 0.128 mL; a 550 mL spleen is about
//! 4,300 voxels), identity direction (LPS: +x patient left, +y posterior, +z head), centred
//! on the world origin; int16 HU. One site (`A`), one case per patient. Case `i` draws, in
//! this order, from its own stream (`["synth", "spleen-ct", i]`):
//!
//! 1. **Latents.** Label `decompensation` = 1 with probability 0.30. Volume score
//!    `z = u + 1.0·decompensation`, `u ~ N(0, 1)`; spleen volume `V = exp(μ + 0.35·z)` mL,
//!    with μ chosen in closed form so that E[V] = 550 mL (μ = 6.1302; median 460 mL without,
//!    652 mL with decompensation). Survival time `T` (months) from a Weibull
//!    proportional-hazards model, `S(t | V) = exp(−(t/τ)^1.2 · V/550)` with τ such that the
//!    median at 550 mL is 16 months: the hazard is proportional to the volume (hazard ratio
//!    2 per doubling). Censoring time `C ~ U(12, 48)` months (staggered accrual);
//!    `time = min(T, C)` rounded to 0.01 month, `event = T ≤ C`.
//! 2. **Anatomy.** Air outside an elliptic body (semi-axes U(120, 126) × U(95, 102) mm),
//!    subcutaneous fat (−100 HU, U(8, 18) mm) and a 6 mm muscle wall (50 HU) around an
//!    abdominal cavity of fat (−90 HU). Inside, painted in order: vertebra (250 HU with a
//!    600 HU cortex) and spinal canal, paraspinal muscles, aorta (165 HU) and IVC (135 HU),
//!    liver (`N(108, 5)` HU, a large ellipsoid on the patient's right reaching towards the
//!    spleen), stomach (wall 60 HU, fluid 15 HU, an air cap), both kidneys (cortex 180 HU,
//!    medulla 125 HU), all clipped to the cavity.
//! 3. **Spleen** (the mask, label 1), painted last. A lobulated ellipsoid (five lobes of
//!    relative amplitude ≤ 0.10 and a hilar notch on the medial side) with axes in the ratio
//!    0.42 : 0.75 : 0.90 (across : along the wall : cranio-caudal, each ×U(0.9, 1.1)), set
//!    against the posterolateral left wall (direction U(25°, 45°) from patient-left towards
//!    posterior, 3–10 mm from the wall) at z ~ U(0, 40) mm. Its scale is solved in closed
//!    form (mean of the cubed radius factor over 400 Fibonacci directions) so that the body's
//!    volume is `V`; voxels outside the cavity are cut, so the mask volume (voxel count ×
//!    0.128 mL) tracks `V` up to discretisation and, for the largest spleens, that clipping.
//!    Spleen `N(120, 6)` HU, 12 HU above the liver on average: the liver–spleen interface is
//!    the hard part of the segmentation.
//! 4. **Acquisition.** Correlated noise (σ one voxel in-plane, SD 5 HU) plus white noise of
//!    SD U(10, 14) HU; rounded, clamped to [−1024, 3071].
//!
//! # Ground truth
//!
//! - Decompensation from the volume (binormal in log V): Bayes AUC Φ(1/√2) = **0.760**.
//! - Survival without censoring, split at the median volume: median survival **21.8** months
//!   below and **13.1** months above it ([`median_survival_by_volume_half`], numerical
//!   integration).
//! - Simulated on 200,000 latent draws (test `survival_truth_matches_the_doc`, which also
//!   checks the medians): censoring **30 %**; concordance of the true volume with survival
//!   (Harrell's C without censoring; under proportional hazards
//!   `P(T_i < T_j | V_i > V_j) = V_i/(V_i + V_j)`) **0.600**.
//!
//! A segmentation model recovers the volume from the mask it predicts; the Kaplan–Meier split
//! at the median predicted volume can approach these medians, and the decompensation AUC of
//! the predicted volume can approach 0.760.

use super::field::correlated_noise;
use super::shapes::{
    Ellipsoid, Lobe, LobedBody, VoxelBox, add_noise, centred_grid, empty_mask, voxel_position,
};
use super::truth::{binormal_auc, phi};
use super::{Scenario, SyntheticCase, case_rng};
use crate::data::image::{Grid, Image};
use rand::{Rng, RngExt};
use rand_distr::StandardNormal;
use std::collections::BTreeMap;
use std::f64::consts::PI;

/// The `spleen-ct` scenario.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpleenCt;

/// Registry name.
pub const NAME: &str = "spleen-ct";
/// Label name.
pub const LABEL: &str = "decompensation";
/// Voxels along i, j, k.
pub const DIMS: [usize; 3] = [64, 64, 32];
/// Voxel size in mm.
pub const SPACING: [f64; 3] = [4.0, 4.0, 8.0];
/// P(decompensation).
pub const DECOMPENSATION_RATE: f64 = 0.30;
/// Shift of the volume score between decompensated and compensated patients (d′).
pub const VOLUME_SEPARATION: f64 = 1.0;
/// SD of log volume per unit of volume score.
pub const LOG_VOLUME_SD: f64 = 0.35;
/// Mean spleen volume, mL.
pub const MEAN_VOLUME_ML: f64 = 550.0;
/// Weibull shape of the survival time.
pub const WEIBULL_SHAPE: f64 = 1.2;
/// Median survival (months) at the reference volume of 550 mL.
pub const REFERENCE_MEDIAN_MONTHS: f64 = 16.0;
/// Censoring times are uniform on this range (months).
pub const CENSORING_MONTHS: (f64, f64) = (12.0, 48.0);

/// The latent variables of one case, drawn first from its stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latents {
    /// The label `decompensation`.
    pub decompensation: bool,
    /// Volume score `z = u + d′·decompensation`.
    pub volume_score: f64,
    /// Survival time without censoring (months).
    pub survival_months: f64,
    /// Censoring time (months).
    pub censoring_months: f64,
}

/// μ of log volume such that the mixture's mean volume is [`MEAN_VOLUME_ML`].
pub fn log_volume_offset() -> f64 {
    let p = DECOMPENSATION_RATE;
    let s = LOG_VOLUME_SD;
    let shift = 1.0 - p + p * (s * VOLUME_SEPARATION).exp();
    (MEAN_VOLUME_ML / shift).ln() - s * s / 2.0
}

/// Spleen volume (mL) for volume score `z`.
pub fn volume_ml(volume_score: f64) -> f64 {
    (log_volume_offset() + LOG_VOLUME_SD * volume_score).exp()
}

/// Weibull scale τ: the median at 550 mL is [`REFERENCE_MEDIAN_MONTHS`].
fn weibull_scale() -> f64 {
    REFERENCE_MEDIAN_MONTHS / std::f64::consts::LN_2.powf(1.0 / WEIBULL_SHAPE)
}

/// `S(t | V) = exp(−(t/τ)^k · V/550)`.
pub fn survival_function(months: f64, volume_ml: f64) -> f64 {
    (-(months / weibull_scale()).powf(WEIBULL_SHAPE) * volume_ml / MEAN_VOLUME_ML).exp()
}

/// Bayes AUC of the volume for decompensation: Φ(d′/√2).
pub fn bayes_auc_decompensation() -> f64 {
    binormal_auc(VOLUME_SEPARATION)
}

/// Density of the volume score `z` (a two-component normal mixture).
fn volume_score_density(z: f64) -> f64 {
    let normal = |x: f64| (-x * x / 2.0).exp() / (2.0 * PI).sqrt();
    (1.0 - DECOMPENSATION_RATE) * normal(z) + DECOMPENSATION_RATE * normal(z - VOLUME_SEPARATION)
}

/// The median of the volume score (bisection on the mixture CDF).
pub fn median_volume_score() -> f64 {
    let cdf = |z: f64| {
        (1.0 - DECOMPENSATION_RATE) * phi(z) + DECOMPENSATION_RATE * phi(z - VOLUME_SEPARATION)
    };
    bisect(|z| cdf(z) - 0.5, -5.0, 5.0)
}

/// Median survival (months, no censoring) of the patients below (`upper = false`) or above
/// the median spleen volume, by numerical integration of `S(t | V)` over the volume score
/// (Simpson's rule, 4,000 panels) and bisection on `t`.
pub fn median_survival_by_volume_half(upper: bool) -> f64 {
    let split = median_volume_score();
    let (lo, hi) = if upper { (split, 9.0) } else { (-9.0, split) };
    let group_survival = |months: f64| {
        let panels = 4000;
        let h = (hi - lo) / panels as f64;
        let f = |z: f64| volume_score_density(z) * survival_function(months, volume_ml(z));
        let mut sum = f(lo) + f(hi);
        for t in 1..panels {
            let weight = if t % 2 == 1 { 4.0 } else { 2.0 };
            sum += weight * f(lo + t as f64 * h);
        }
        // Each half holds probability ½.
        2.0 * sum * h / 3.0
    };
    bisect(|t| 0.5 - group_survival(t), 0.0, 240.0)
}

/// A root of the increasing function `f` on `[lo, hi]`.
fn bisect(f: impl Fn(f64) -> f64, mut lo: f64, mut hi: f64) -> f64 {
    for _ in 0..100 {
        let mid = (lo + hi) / 2.0;
        if f(mid) < 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0
}

/// Draws the latents (the first five draws of a case's stream).
pub fn draw_latents<R: Rng + ?Sized>(rng: &mut R) -> Latents {
    let decompensation = rng.random::<f64>() < DECOMPENSATION_RATE;
    let u: f64 = rng.sample(StandardNormal);
    let volume_score = u + if decompensation {
        VOLUME_SEPARATION
    } else {
        0.0
    };
    // Inverse transform: S(T) = E with E uniform on (0, 1].
    let e = 1.0 - rng.random::<f64>();
    let hazard_scale = volume_ml(volume_score) / MEAN_VOLUME_ML;
    let survival_months = weibull_scale() * (-e.ln() / hazard_scale).powf(1.0 / WEIBULL_SHAPE);
    let censoring_months = rng.random_range(CENSORING_MONTHS.0..CENSORING_MONTHS.1);
    Latents {
        decompensation,
        volume_score,
        survival_months,
        censoring_months,
    }
}

/// The scenario grid.
pub fn grid() -> Grid {
    centred_grid(DIMS, SPACING)
}

/// Mean of the cubed radius factor of `body` over 400 Fibonacci directions: the body's volume
/// relative to its ellipsoid.
fn relative_volume(body: &LobedBody) -> f64 {
    const N: usize = 400;
    let golden = PI * (3.0 - 5f64.sqrt());
    let total: f64 = (0..N)
        .map(|t| {
            let z = 1.0 - 2.0 * (t as f64 + 0.5) / N as f64;
            let r = (1.0 - z * z).sqrt();
            let a = golden * t as f64;
            body.radius_factor([r * a.cos(), r * a.sin(), z]).powi(3)
        })
        .sum();
    total / N as f64
}

/// Distance from the body axis to an axis-aligned ellipse of semi-axes `(ax, ay)` along `angle`.
fn ellipse_reach(ax: f64, ay: f64, angle: f64) -> f64 {
    1.0 / ((angle.cos() / ax).powi(2) + (angle.sin() / ay).powi(2)).sqrt()
}

/// An in-plane ellipse test (a cylinder along z).
fn in_ellipse(p: [f64; 3], centre: [f64; 2], axes: [f64; 2]) -> bool {
    ((p[0] - centre[0]) / axes[0]).powi(2) + ((p[1] - centre[1]) / axes[1]).powi(2) <= 1.0
}

fn ellipsoid(centre: [f64; 3], radii: [f64; 3]) -> Ellipsoid {
    Ellipsoid {
        centre,
        radii,
        angle: 0.0,
    }
}

impl SpleenCt {
    /// Case `index` together with the latents that produced it (for tests and ground truth).
    pub fn generate_with_latents(&self, index: usize, seed: u64) -> (SyntheticCase, Latents) {
        let mut rng = case_rng(NAME, seed, index);
        let latents = draw_latents(&mut rng);
        let grid = grid();

        // Body wall and cavity.
        let body = [
            rng.random_range(120.0..126.0),
            rng.random_range(95.0..102.0),
        ];
        let fat = rng.random_range(8.0..18.0);
        let wall = [body[0] - fat, body[1] - fat];
        let cavity = [wall[0] - 6.0, wall[1] - 6.0];
        // Organs (jittered a little per patient).
        let mut jitter = |mm: f64| rng.random_range(-mm..mm);
        let liver = ellipsoid(
            [
                -50.0 + jitter(8.0),
                -10.0 + jitter(8.0),
                25.0 + jitter(10.0),
            ],
            [72.0 + jitter(8.0), 62.0 + jitter(6.0), 80.0 + jitter(10.0)],
        );
        let stomach = ellipsoid(
            [40.0 + jitter(8.0), -35.0 + jitter(8.0), 30.0 + jitter(10.0)],
            [38.0 + jitter(6.0), 28.0 + jitter(5.0), 50.0 + jitter(8.0)],
        );
        let kidneys = [
            ellipsoid(
                [70.0 + jitter(6.0), 50.0 + jitter(5.0), -55.0 + jitter(12.0)],
                [28.0, 24.0, 52.0],
            ),
            ellipsoid(
                [
                    -70.0 + jitter(6.0),
                    50.0 + jitter(5.0),
                    -75.0 + jitter(12.0),
                ],
                [28.0, 24.0, 52.0],
            ),
        ];
        let liver_hu = 108.0 + 5.0 * rng.sample::<f64, _>(StandardNormal);

        // Spleen: shape first, then the scale that gives the latent volume.
        let target_ml = volume_ml(latents.volume_score);
        let ratio = [0.42, 0.75, 0.90].map(|r| r * rng.random_range(0.9..1.1));
        let direction = rng.random_range(25f64..45.0).to_radians();
        let wall_gap = rng.random_range(3.0..10.0);
        let z_centre = rng.random_range(0.0..40.0);
        let mut lobes = LobedBody::random_lobes(&mut rng, 5, 0.10, 6.0);
        lobes.push(Lobe {
            direction: [-1.0, 0.0, 0.0],
            amplitude: -0.15,
            concentration: 8.0,
        });
        let mut spleen = LobedBody {
            ellipsoid: Ellipsoid {
                centre: [0.0; 3],
                radii: ratio,
                angle: direction,
            },
            lobes,
        };
        let unit_volume_ml = 4.0 / 3.0 * PI * ratio.iter().product::<f64>() / 1000.0;
        let scale = (target_ml / (unit_volume_ml * relative_volume(&spleen))).cbrt();
        spleen.ellipsoid.radii = ratio.map(|r| r * scale);
        let across = spleen.ellipsoid.radii[0];
        let distance = ellipse_reach(cavity[0], cavity[1], direction) - across - wall_gap;
        spleen.ellipsoid.centre = [
            distance * direction.cos(),
            distance * direction.sin(),
            z_centre,
        ];
        let spleen_hu = 120.0 + 6.0 * rng.sample::<f64, _>(StandardNormal);

        let mut voxels = vec![0.0; grid.len()];
        let mut mask = empty_mask(&grid);
        VoxelBox::all(&grid).for_each(|i, j, k| {
            let p = voxel_position(&grid, i, j, k);
            let n = grid.index(i, j, k);
            voxels[n] = if !in_ellipse(p, [0.0; 2], body) {
                -1000.0
            } else if !in_ellipse(p, [0.0; 2], wall) {
                -100.0
            } else if !in_ellipse(p, [0.0; 2], cavity) {
                50.0
            } else {
                cavity_hu(p, &liver, liver_hu, &stomach, &kidneys)
            };
        });
        let extent = spleen.extent();
        VoxelBox::around(&grid, spleen.ellipsoid.centre, [extent; 3]).for_each(|i, j, k| {
            let p = voxel_position(&grid, i, j, k);
            if in_ellipse(p, [0.0; 2], cavity) && spleen.contains(p) {
                let n = grid.index(i, j, k);
                voxels[n] = spleen_hu;
                mask.voxels[n] = 1;
            }
        });

        let texture = correlated_noise(&mut rng, DIMS, [1.0, 1.0, 0.5]);
        for (v, t) in voxels.iter_mut().zip(&texture) {
            *v += 5.0 * t;
        }
        let noise_sd = rng.random_range(10.0..14.0);
        add_noise(&mut voxels, &mut rng, noise_sd, 0.0, -1024.0, 3071.0);

        let mut labels = BTreeMap::new();
        labels.insert(LABEL.to_string(), i64::from(latents.decompensation));
        let observed = latents.survival_months.min(latents.censoring_months);
        let case = SyntheticCase {
            image: Image { grid, voxels },
            mask,
            patient: format!("p{index:04}"),
            site: "A".to_string(),
            labels,
            time: Some((observed * 100.0).round() / 100.0),
            event: Some(latents.survival_months <= latents.censoring_months),
            channels: BTreeMap::new(),
        };
        (case, latents)
    }
}

/// HU of a point inside the abdominal cavity, before the spleen is painted.
fn cavity_hu(
    p: [f64; 3],
    liver: &Ellipsoid,
    liver_hu: f64,
    stomach: &Ellipsoid,
    kidneys: &[Ellipsoid; 2],
) -> f64 {
    let vertebra = [0.0, 55.0];
    if in_ellipse(p, vertebra, [19.0, 17.0]) {
        return if in_ellipse(p, vertebra, [14.0, 12.0]) {
            250.0
        } else {
            600.0
        };
    }
    if in_ellipse(p, [0.0, 82.0], [9.0, 8.0]) {
        return 20.0;
    }
    if in_ellipse(p, [38.0, 78.0], [22.0, 16.0]) || in_ellipse(p, [-38.0, 78.0], [22.0, 16.0]) {
        return 50.0;
    }
    if in_ellipse(p, [12.0, 28.0], [12.0, 12.0]) {
        return 165.0;
    }
    if in_ellipse(p, [-24.0, 24.0], [13.0, 11.0]) {
        return 135.0;
    }
    for kidney in kidneys {
        let level = kidney.level(p);
        if level <= 1.0 {
            return if level <= 0.6 { 125.0 } else { 180.0 };
        }
    }
    if liver.contains(p) {
        return liver_hu;
    }
    let level = stomach.level(p);
    if level <= 1.0 {
        return if level > 0.85 {
            60.0
        } else if p[1] < stomach.centre[1] - 0.4 * stomach.radii[1] {
            -950.0
        } else {
            15.0
        };
    }
    -90.0
}

impl Scenario for SpleenCt {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "abdominal CT with the spleen as segmentation target; survival (time, event) and \
         `decompensation` depend on spleen volume (mean 550 mL)"
    }

    fn version(&self) -> u32 {
        1
    }

    fn generate_case(&self, index: usize, seed: u64) -> SyntheticCase {
        self.generate_with_latents(index, seed).0
    }
}

#[cfg(test)]
#[path = "spleen_ct_tests.rs"]
mod tests;
