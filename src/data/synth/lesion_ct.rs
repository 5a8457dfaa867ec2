//! `lesion-ct`: the quickstart scenario, one lesion per CT-like volume with a binary label.
//!
//! Principal items: [`LesionCt`] (the [`Scenario`]), its [`Latents`] and the ground-truth
//! AUCs [`bayes_auc_texture`], [`bayes_auc_satellite`] and [`bayes_auc_combined`].
//! The design makes the usual radiomics-versus-CNN contrast testable: first-order features
//! summarise intensities inside the mask, a CNN sees the crop around it. Reference for the
//! ground truth: the equal-variance binormal model, AUC = Φ(d′/√2) (Green & Swets, *Signal
//! Detection Theory and Psychophysics*, 1966).
//!
//! # Generative model (version 1)
//!
//! Volume 48 × 48 × 24 voxels at 0.8 × 0.8 × 2.5 mm, identity direction, centred on the world
//! origin; int16, HU-like. Case `i` draws, in this order, from its own stream
//! (`["synth", "lesion-ct", i]`):
//!
//! 1. **Latents.** Label `lesion` = 1 with probability 0.40. Site A, B or C uniformly,
//!    independent of the label. Texture score `u ~ N(1.19·y, 1)`. Satellite present with
//!    probability 0.75 if `y = 1`, 0.15 if `y = 0`.
//! 2. **Lesion.** An ellipsoid: radius `r ~ U(5, 10)` mm, second in-plane radius `r·U(0.8, 1)`,
//!    through-plane radius `r·U(0.8, 1.2)`, in-plane rotation `U(0, π)`, centre within ±2 mm
//!    (in-plane) and ±3 mm (z) of the volume centre. The mask (label 1) is exactly the voxels
//!    whose centres lie inside it. Size and shape are independent of the label.
//! 3. **Intensities.** Background: soft tissue 40 HU plus three Gaussian blobs (amplitude
//!    N(0, 10) HU, σ 6–15 mm) for smooth structure. Inside the lesion: mean `N(55, 8)` HU plus
//!    `A·T`, where `T` is unit-variance Gaussian noise smoothed with σ = 1.2 mm (spatially
//!    correlated texture) and `A = 18 HU · exp(0.35·u)`. Signal (a) is this heterogeneity:
//!    first-order features inside the mask (standard deviation, range, entropy) capture it.
//! 4. **Satellite.** When present, a sphere of radius `U(1.6, 2.4)` mm and contrast
//!    `U(50, 90)` HU in the lesion's central plane, `U(1.6, 3.2)` mm beyond the lesion surface
//!    in a random in-plane direction, painted only outside the mask dilated by one voxel.
//!    Signal (b) is therefore invisible to any statistic of the voxels inside the mask; a
//!    model that sees a crop with about 8 mm margin around the mask can find it.
//! 5. **Site.** White noise of SD 8 / 11 / 14 HU and an intensity offset of 0 / +12 / −8 HU
//!    for sites A / B / C, over the whole volume. Values are rounded to integers.
//!
//! Both signals are imperfect on purpose, so neither alone separates the classes.
//!
//! # Ground truth
//!
//! With the latents known, the Bayes-optimal score is the log-likelihood ratio, and its AUC
//! has a closed form (the functions below; a test checks them by simulating 200,000 latents):
//!
//! | signal | Bayes AUC |
//! |---|---|
//! | (a) texture heterogeneity, `u` alone: Φ(1.19/√2) | 0.800 |
//! | (b) satellite presence alone: ½ + (0.75 − 0.15)/2 | 0.800 |
//! | (a) and (b) combined | 0.901 |
//!
//! Models see images, not latents, so their AUCs sit below these bounds: the texture
//! amplitude is estimated from a finite, noisy lesion and mixed with the site noise. Measured
//! on 400 generated cases (seed 20240501; test `measure_signal_aucs_for_the_doc`): the
//! standard deviation of HU inside the mask alone gives AUC 0.781; the peak HU (max minus
//! median) in a shell from one voxel to about 8 mm outside the mask gives 0.797 (and finds
//! the satellite itself with AUC > 0.99); the sum of the two, standardised, gives 0.875.
//! Site does not predict the label (AUC of the site index 0.52).

use super::field::correlated_noise;
use super::{Scenario, SyntheticCase, case_rng};
use crate::data::image::{Grid, Image, Mask};
use rand::{Rng, RngExt};
use rand_distr::StandardNormal;
use statrs::function::erf::erfc;
use std::collections::BTreeMap;
use std::f64::consts::{PI, SQRT_2};

/// The `lesion-ct` scenario.
#[derive(Debug, Clone, Copy, Default)]
pub struct LesionCt;

/// Registry name.
pub const NAME: &str = "lesion-ct";
/// Voxels along i, j, k.
pub const DIMS: [usize; 3] = [48, 48, 24];
/// Voxel size in mm.
pub const SPACING: [f64; 3] = [0.8, 0.8, 2.5];
/// P(label = 1).
pub const PREVALENCE: f64 = 0.40;
/// Shift of the texture score `u` between classes, in units of its SD (d′).
pub const TEXTURE_SEPARATION: f64 = 1.19;
/// P(satellite | label = 1).
pub const SATELLITE_RATE_POSITIVE: f64 = 0.75;
/// P(satellite | label = 0).
pub const SATELLITE_RATE_NEGATIVE: f64 = 0.15;

/// Texture amplitude at `u = 0`, HU.
const TEXTURE_MEDIAN_HU: f64 = 18.0;
/// `log A` changes by this much per unit of `u`.
const TEXTURE_LOG_SD: f64 = 0.35;
/// Correlation length (Gaussian σ) of the lesion texture, mm.
const TEXTURE_SIGMA_MM: f64 = 1.2;
/// Soft-tissue background, HU.
const TISSUE_HU: f64 = 40.0;

/// Per-site acquisition: white-noise SD and intensity offset (HU).
struct SiteModel {
    name: &'static str,
    noise_sd: f64,
    offset: f64,
}

const SITES: [SiteModel; 3] = [
    SiteModel {
        name: "A",
        noise_sd: 8.0,
        offset: 0.0,
    },
    SiteModel {
        name: "B",
        noise_sd: 11.0,
        offset: 12.0,
    },
    SiteModel {
        name: "C",
        noise_sd: 14.0,
        offset: -8.0,
    },
];

/// The latent variables of one case, drawn first from its stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latents {
    /// The label `lesion`.
    pub positive: bool,
    /// Index into the sites A, B, C.
    pub site: usize,
    /// Texture score `u ~ N(d′·y, 1)`; the texture amplitude grows with it.
    pub texture_score: f64,
    /// Whether a satellite nodule is painted.
    pub satellite: bool,
}

/// Draws the latents (the first four draws of a case's stream).
pub fn draw_latents<R: Rng + ?Sized>(rng: &mut R) -> Latents {
    let positive = rng.random::<f64>() < PREVALENCE;
    let site = rng.random_range(0..SITES.len());
    let noise: f64 = rng.sample(StandardNormal);
    let texture_score = noise + if positive { TEXTURE_SEPARATION } else { 0.0 };
    let rate = if positive {
        SATELLITE_RATE_POSITIVE
    } else {
        SATELLITE_RATE_NEGATIVE
    };
    let satellite = rng.random::<f64>() < rate;
    Latents {
        positive,
        site,
        texture_score,
        satellite,
    }
}

/// Standard normal CDF.
fn phi(x: f64) -> f64 {
    0.5 * erfc(-x / SQRT_2)
}

/// Log-likelihood ratio of the satellite indicator.
fn satellite_llr(present: bool) -> f64 {
    if present {
        (SATELLITE_RATE_POSITIVE / SATELLITE_RATE_NEGATIVE).ln()
    } else {
        ((1.0 - SATELLITE_RATE_POSITIVE) / (1.0 - SATELLITE_RATE_NEGATIVE)).ln()
    }
}

/// The Bayes-optimal score (log-likelihood ratio up to a constant) from the chosen latents.
pub fn bayes_score(latents: &Latents, texture: bool, satellite: bool) -> f64 {
    let mut score = 0.0;
    if texture {
        score += TEXTURE_SEPARATION * latents.texture_score;
    }
    if satellite {
        score += satellite_llr(latents.satellite);
    }
    score
}

/// AUC of the Bayes-optimal classifier that knows only the texture score: Φ(d′/√2).
pub fn bayes_auc_texture() -> f64 {
    phi(TEXTURE_SEPARATION / SQRT_2)
}

/// AUC of the satellite indicator alone (ties count one half): ½ + (p₁ − p₀)/2.
pub fn bayes_auc_satellite() -> f64 {
    0.5 + (SATELLITE_RATE_POSITIVE - SATELLITE_RATE_NEGATIVE) / 2.0
}

/// AUC of the Bayes-optimal classifier that knows both latents.
///
/// The score is `d′·u + L(s)`. For a positive with satellite state s₁ and a negative with s₀,
/// the score difference is normal with mean `d′² + L(s₁) − L(s₀)` and SD `d′·√2`; summing
/// Φ(mean/SD) over the four (s₁, s₀) pairs weighted by their probabilities gives the AUC.
pub fn bayes_auc_combined() -> f64 {
    let d = TEXTURE_SEPARATION;
    let p = |positive: bool, present: bool| {
        let rate = if positive {
            SATELLITE_RATE_POSITIVE
        } else {
            SATELLITE_RATE_NEGATIVE
        };
        if present { rate } else { 1.0 - rate }
    };
    let mut auc = 0.0;
    for s1 in [false, true] {
        for s0 in [false, true] {
            let mean = d * d + satellite_llr(s1) - satellite_llr(s0);
            auc += p(true, s1) * p(false, s0) * phi(mean / (d * SQRT_2));
        }
    }
    auc
}

/// World position (mm) of voxel `(i, j, k)` on the scenario grid.
fn position(grid: &Grid, i: usize, j: usize, k: usize) -> [f64; 3] {
    let idx = [i as f64, j as f64, k as f64];
    std::array::from_fn(|a| grid.origin[a] + grid.spacing[a] * idx[a])
}

/// The scenario grid: identity direction, centred on the world origin.
pub fn grid() -> Grid {
    let mut grid = Grid::new(DIMS, SPACING);
    grid.origin = std::array::from_fn(|a| -((DIMS[a] - 1) as f64) / 2.0 * SPACING[a]);
    grid
}

/// The lesion ellipsoid: centre, radii (rotated in-plane frame) and in-plane rotation.
struct Ellipsoid {
    centre: [f64; 3],
    radii: [f64; 3],
    angle: f64,
}

impl Ellipsoid {
    fn contains(&self, p: [f64; 3]) -> bool {
        let (dx, dy, dz) = (
            p[0] - self.centre[0],
            p[1] - self.centre[1],
            p[2] - self.centre[2],
        );
        let (s, c) = self.angle.sin_cos();
        let u = c * dx + s * dy;
        let v = -s * dx + c * dy;
        (u / self.radii[0]).powi(2) + (v / self.radii[1]).powi(2) + (dz / self.radii[2]).powi(2)
            <= 1.0
    }

    /// Distance from the centre to the surface along the in-plane direction `phi`.
    fn reach(&self, phi: f64) -> f64 {
        let rel = phi - self.angle;
        let (wu, wv) = (rel.cos(), rel.sin());
        1.0 / ((wu / self.radii[0]).powi(2) + (wv / self.radii[1]).powi(2)).sqrt()
    }
}

impl LesionCt {
    /// Case `index` together with the latents that produced it (for tests and ground truth).
    pub fn generate_with_latents(&self, index: usize, seed: u64) -> (SyntheticCase, Latents) {
        let mut rng = case_rng(NAME, seed, index);
        let latents = draw_latents(&mut rng);
        let site = &SITES[latents.site];
        let grid = grid();

        let r = rng.random_range(5.0..10.0);
        let radii = [
            r,
            r * rng.random_range(0.8..1.0),
            r * rng.random_range(0.8..1.2),
        ];
        let angle = rng.random_range(0.0..PI);
        let centre = [
            rng.random_range(-2.0..2.0),
            rng.random_range(-2.0..2.0),
            rng.random_range(-3.0..3.0),
        ];
        let lesion = Ellipsoid {
            centre,
            radii,
            angle,
        };
        let lesion_mean = 55.0 + 8.0 * rng.sample::<f64, _>(StandardNormal);
        let half: [f64; 3] = std::array::from_fn(|a| -grid.origin[a]);
        let blobs: Vec<(f64, [f64; 3], f64)> = (0..3)
            .map(|_| {
                let amplitude = 10.0 * rng.sample::<f64, _>(StandardNormal);
                let at = std::array::from_fn(|a| rng.random_range(-half[a]..half[a]));
                (amplitude, at, rng.random_range(6.0..15.0))
            })
            .collect();
        let satellite_phi = rng.random_range(0.0..2.0 * PI);
        let satellite_gap = rng.random_range(1.6..3.2);
        let satellite_radius = rng.random_range(1.6..2.4);
        let satellite_contrast = rng.random_range(50.0..90.0);

        // Mask and lesion bounding box (voxel ranges, inclusive-exclusive).
        let mut mask = Mask {
            grid: grid.clone(),
            voxels: vec![0; grid.len()],
        };
        let reach = radii.iter().fold(0.0f64, |m, &v| m.max(v));
        let range = |a: usize| {
            let lo = ((centre[a] - reach - grid.origin[a]) / SPACING[a])
                .floor()
                .max(0.0) as usize;
            let hi = ((centre[a] + reach - grid.origin[a]) / SPACING[a]).ceil() as usize + 1;
            (lo, hi.min(DIMS[a]))
        };
        let (lo, hi): ([usize; 3], [usize; 3]) = {
            let r3 = [range(0), range(1), range(2)];
            (r3.map(|r| r.0), r3.map(|r| r.1))
        };
        let box_dims: [usize; 3] = std::array::from_fn(|a| hi[a] - lo[a]);
        let texture_sigma = SPACING.map(|s| TEXTURE_SIGMA_MM / s);
        let texture = correlated_noise(&mut rng, box_dims, texture_sigma);
        let amplitude = TEXTURE_MEDIAN_HU * (TEXTURE_LOG_SD * latents.texture_score).exp();

        let mut voxels = vec![0.0; grid.len()];
        for k in 0..DIMS[2] {
            for j in 0..DIMS[1] {
                for i in 0..DIMS[0] {
                    let p = position(&grid, i, j, k);
                    let n = grid.index(i, j, k);
                    let inside = (lo[0]..hi[0]).contains(&i)
                        && (lo[1]..hi[1]).contains(&j)
                        && (lo[2]..hi[2]).contains(&k)
                        && lesion.contains(p);
                    voxels[n] = if inside {
                        mask.voxels[n] = 1;
                        let t =
                            (i - lo[0]) + box_dims[0] * ((j - lo[1]) + box_dims[1] * (k - lo[2]));
                        lesion_mean + amplitude * texture[t]
                    } else {
                        TISSUE_HU
                            + blobs
                                .iter()
                                .map(|(amp, c, s)| {
                                    let d2: f64 = (0..3).map(|a| (p[a] - c[a]).powi(2)).sum();
                                    amp * (-d2 / (2.0 * s * s)).exp()
                                })
                                .sum::<f64>()
                    };
                }
            }
        }
        if latents.satellite {
            paint_satellite(
                &mut voxels,
                &mask,
                &lesion,
                [
                    satellite_phi,
                    satellite_gap,
                    satellite_radius,
                    satellite_contrast,
                ],
            );
        }
        for v in voxels.iter_mut() {
            let noise: f64 = rng.sample(StandardNormal);
            *v = (*v + site.offset + site.noise_sd * noise)
                .round()
                .clamp(-1024.0, 3071.0);
        }
        let mut labels = BTreeMap::new();
        labels.insert("lesion".to_string(), i64::from(latents.positive));
        let case = SyntheticCase {
            image: Image { grid, voxels },
            mask,
            patient: format!("p{index:04}"),
            site: site.name.to_string(),
            labels,
            time: None,
            event: None,
            channels: BTreeMap::new(),
        };
        (case, latents)
    }
}

/// Adds the satellite sphere outside the one-voxel dilation of the mask.
///
/// `params` is (direction φ, gap to the surface, radius, contrast). If the sphere would leave
/// the volume, φ turns by 40° up to eight times; the last try is painted clipped.
fn paint_satellite(voxels: &mut [f64], mask: &Mask, lesion: &Ellipsoid, params: [f64; 4]) {
    let [phi0, gap, radius, contrast] = params;
    let grid = &mask.grid;
    let limit: [f64; 3] = std::array::from_fn(|a| -grid.origin[a] - grid.spacing[a]);
    let mut centre = lesion.centre;
    for turn in 0..9 {
        let phi = phi0 + f64::from(turn) * 40f64.to_radians();
        let distance = lesion.reach(phi) + gap + radius;
        centre = [
            lesion.centre[0] + distance * phi.cos(),
            lesion.centre[1] + distance * phi.sin(),
            lesion.centre[2],
        ];
        if (0..2).all(|a| centre[a].abs() + radius <= limit[a]) {
            break;
        }
    }
    let [nx, ny, nz] = grid.dims;
    let near_mask = |i: usize, j: usize, k: usize| {
        let span = |c: usize, n: usize| c.saturating_sub(1)..(c + 2).min(n);
        span(k, nz).any(|kk| {
            span(j, ny).any(|jj| span(i, nx).any(|ii| mask.voxels[grid.index(ii, jj, kk)] != 0))
        })
    };
    let range = |a: usize| {
        let lo = ((centre[a] - radius - grid.origin[a]) / grid.spacing[a])
            .floor()
            .max(0.0) as usize;
        let hi = ((centre[a] + radius - grid.origin[a]) / grid.spacing[a])
            .ceil()
            .max(0.0) as usize
            + 1;
        lo..hi.min(grid.dims[a])
    };
    for k in range(2) {
        for j in range(1) {
            for i in range(0) {
                let p = position(grid, i, j, k);
                let d2: f64 = (0..3).map(|a| (p[a] - centre[a]).powi(2)).sum();
                if d2 <= radius * radius && !near_mask(i, j, k) {
                    voxels[grid.index(i, j, k)] += contrast;
                }
            }
        }
    }
}

impl Scenario for LesionCt {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "CT-like lesions; label `lesion` from texture heterogeneity inside the mask and a \
         satellite nodule just outside it"
    }

    fn version(&self) -> u32 {
        1
    }

    fn generate_case(&self, index: usize, seed: u64) -> SyntheticCase {
        self.generate_with_latents(index, seed).0
    }
}

#[cfg(test)]
#[path = "lesion_ct_tests.rs"]
mod tests;
