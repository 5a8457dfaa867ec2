//! `ceus-cine`: contrast-enhanced ultrasound (CEUS) cines of liver tumours after TACE, with a
//! binary response label carried by three separate signals.
//!
//! Principal items: [`CeusCine`] (the [`Scenario`]), its [`Latents`], [`gamma_variate`] (the
//! bolus curve) and the ground truth [`bayes_auc`] for any combination of the three
//! [`Signals`]. Analogue of source paper 4 (deep learning on CEUS cines for TACE response,
//! Eur Radiol 2020: CNN on cines AUC 0.93, time–intensity-curve model 0.80, B-mode model
//! 0.81; DL better than either, TIC and B-mode not different). Bolus kinetics: the
//! gamma-variate indicator-dilution model (Thompson et al., *Circ Res* 14, 1964; its use for
//! CEUS perfusion: Strouthos et al., *IEEE TUFFC* 57, 2010).
//!
//! # Generative model (version 1)
//!
//! **Storage of a 2-D + time cine as a 3-D image.** Voxel `(i, j, k)` is pixel `(i, j)` of
//! frame `k`. Grid 48 × 48 × 40 with spacing `[0.6, 0.6, 1.5]`: 0.6 mm pixels and
//! **`spacing[2]` = 1.5 seconds per frame** (NIfTI stores it as a length; radbench does not
//! convert it). Origin `[-14.1, -14.1, 0]`: the world k coordinate is the time in seconds
//! since injection. The image is the contrast-mode cine; channel `bmode` is the
//! simultaneous B-mode cine (dual display), on the same grid. The mask is the lesion ROI,
//! identical on every frame (no motion). Contrast values are linearised intensities
//! (arbitrary units, as perfusion-quantification software uses them, not the log-compressed
//! display), so a ROI mean is proportional to the contrast agent in the ROI; B-mode values
//! are 8-bit grey levels. Case `i` draws, in this order, from its own stream
//! (`["synth", "ceus-cine", i]`):
//!
//! 1. **Latents.** Label `response` = 1 with probability 0.45. Three scores, independent
//!    given the label, each unit-variance normal; higher means "viable tumour":
//!    - TIC score `w ~ N(1.2·(1 − response), 1)`;
//!    - perfusion-pattern score `p ~ N(1.6·(1 − response), 1)`;
//!    - B-mode texture score `b ~ N(1.2·response, 1)` (necrosis and lipiodol make treated
//!      tumour heterogeneous).
//! 2. **ROI.** An ellipse with radius `R ~ U(5, 8.5)` mm, second radius `R·U(0.75, 1)`,
//!    random rotation, centre within ±2 mm of the frame centre.
//! 3. **Contrast cine.** Per-case gain `g = exp(N(0, 0.10))` (dose, settings). Liver:
//!    `50·g·Γ(t; t₀ + U(4, 7) s, 18 s, 1.5)`; lesion: `60·g·e^{0.3w}·Γ(t; t₀, 9·e^{−0.15w} s,
//!    2·e^{0.15w})` with arrival `t₀ ~ U(8, 12)` s, where `Γ(t; t₀, t_p, α)` is a gamma
//!    variate peaking at 1 at `t₀ + t_p`: a higher `w` enhances earlier, higher and washes
//!    out faster (signal **T**, what a time–intensity curve of the ROI mean sees). The
//!    **perfusion pattern** (signal **P**) concentrates the lesion's enhancement into a disc
//!    of radius `0.45·R₂` centred `0.45·R` from the ROI centre: with `κ = Φ(p − 0.8)` and `f`
//!    the disc's share of the ROI pixels, the disc is multiplied by `1 + κ(1/f − 1)` and the
//!    rest of the ROI by `1 − κ`, which leaves the ROI mean — and so the TIC — unchanged
//!    exactly; a CNN on the cine sees a focal, early-enhancing nodule. Static perfusion
//!    texture `×(1 + 0.15·F)` (Gaussian field, σ 1.2 px), then speckle `×(1 + 0.25·S_k)`
//!    with a new field per frame (σ 0.8 px), plus a noise floor `|N(0, 2)|`.
//! 4. **B-mode cine** (signal **B**). Liver echogenicity 90 plus static speckle texture (SD
//!    18, σ 0.9 px); inside the ROI the echogenicity is `90·exp(N(0, 0.12))` (independent of
//!    the label) and the texture is another static field (σ 1.5 px) of SD `14·e^{0.35b}`;
//!    per-frame decorrelation noise (SD 6, σ 0.9 px) and white noise (SD 3) on every frame.
//!    First-order and texture features of the B-mode ROI see `b`.
//!
//! Values are rounded; contrast is clamped to [0, 32767], B-mode to [0, 255].
//!
//! # Ground truth
//!
//! The three scores are independent unit normals, so the Bayes-optimal score for any subset
//! is the sum of the seen scores times their separations, and its AUC is Φ(d/√2) with
//! `d = √Σ d_s²` ([`bayes_auc`]; a test checks it on simulated latents):
//!
//! | signals seen | model in paper 4 | Bayes AUC |
//! |---|---|---|
//! | T (ROI-mean time–intensity curve) | ML on TIC | 0.802 |
//! | B (B-mode ROI) | ML on B-mode | 0.802 |
//! | P (perfusion pattern) alone | — | 0.871 |
//! | T + P (the contrast cine) | CNN on cines | 0.921 |
//! | T + B | TIC + B-mode | 0.885 |
//! | T + P + B (both cines) | CNN on both cines | 0.950 |
//!
//! So a CNN on the contrast cine can beat both the TIC and the B-mode models, while TIC and
//! B-mode share one bound; whether a given study shows the differences as significant depends
//! on its size, as in the paper.

use super::field::correlated_noise;
use super::shapes::{Ellipsoid, VoxelBox, empty_mask, voxel_position};
use super::truth::{binormal_auc, phi};
use super::{Scenario, SyntheticCase, case_rng};
use crate::data::image::{Grid, Image};
use rand::{Rng, RngExt};
use rand_distr::StandardNormal;
use std::collections::BTreeMap;
use std::f64::consts::PI;

/// The `ceus-cine` scenario.
#[derive(Debug, Clone, Copy, Default)]
pub struct CeusCine;

/// Registry name.
pub const NAME: &str = "ceus-cine";
/// Label name.
pub const LABEL: &str = "response";
/// The B-mode channel's name.
pub const BMODE: &str = "bmode";
/// Pixels along i, j and the number of frames.
pub const DIMS: [usize; 3] = [48, 48, 40];
/// Pixel size (mm) along i, j, and seconds per frame.
pub const SPACING: [f64; 3] = [0.6, 0.6, 1.5];
/// P(response = 1).
pub const RESPONSE_RATE: f64 = 0.45;
/// Separation (d′) of the TIC score between non-responders and responders.
pub const TIC_SEPARATION: f64 = 1.2;
/// Separation (d′) of the perfusion-pattern score.
pub const PATTERN_SEPARATION: f64 = 1.6;
/// Separation (d′) of the B-mode texture score.
pub const BMODE_SEPARATION: f64 = 1.2;

/// The latent variables of one case, drawn first from its stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latents {
    /// The label `response`.
    pub response: bool,
    /// TIC score `w` (higher: earlier, stronger enhancement and faster wash-out).
    pub tic_score: f64,
    /// Perfusion-pattern score `p` (higher: enhancement concentrated in a focal nodule).
    pub pattern_score: f64,
    /// B-mode texture score `b` (higher: more heterogeneous lesion).
    pub bmode_score: f64,
}

/// Which signals a reader sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signals {
    /// T: the time–intensity curve of the ROI mean.
    pub tic: bool,
    /// P: the spatial perfusion pattern.
    pub pattern: bool,
    /// B: the B-mode texture.
    pub bmode: bool,
}

impl Signals {
    /// The separations of the seen scores.
    fn separations(self) -> impl Iterator<Item = f64> {
        [
            (self.tic, TIC_SEPARATION),
            (self.pattern, PATTERN_SEPARATION),
            (self.bmode, BMODE_SEPARATION),
        ]
        .into_iter()
        .filter(|(seen, _)| *seen)
        .map(|(_, d)| d)
    }
}

/// Draws the latents (the first four draws of a case's stream).
pub fn draw_latents<R: Rng + ?Sized>(rng: &mut R) -> Latents {
    let response = rng.random::<f64>() < RESPONSE_RATE;
    let viable = if response { 0.0 } else { 1.0 };
    let mut normal = || rng.sample::<f64, _>(StandardNormal);
    let tic_score = TIC_SEPARATION * viable + normal();
    let pattern_score = PATTERN_SEPARATION * viable + normal();
    let bmode_score = BMODE_SEPARATION * (1.0 - viable) + normal();
    Latents {
        response,
        tic_score,
        pattern_score,
        bmode_score,
    }
}

/// The Bayes-optimal score for response (log-likelihood ratio up to a constant).
pub fn bayes_score(latents: &Latents, seen: Signals) -> f64 {
    let mut score = 0.0;
    if seen.tic {
        score -= TIC_SEPARATION * latents.tic_score;
    }
    if seen.pattern {
        score -= PATTERN_SEPARATION * latents.pattern_score;
    }
    if seen.bmode {
        score += BMODE_SEPARATION * latents.bmode_score;
    }
    score
}

/// Bayes AUC of the seen signals: Φ(d/√2) with `d = √Σ d_s²`.
pub fn bayes_auc(seen: Signals) -> f64 {
    binormal_auc(seen.separations().map(|d| d * d).sum::<f64>().sqrt())
}

/// Gamma-variate bolus curve: 0 before `arrival`, 1 at `arrival + time_to_peak`.
pub fn gamma_variate(t: f64, arrival: f64, time_to_peak: f64, alpha: f64) -> f64 {
    if t <= arrival {
        return 0.0;
    }
    let x = (t - arrival) / time_to_peak;
    (alpha * (x.ln() + 1.0 - x)).exp()
}

/// The scenario grid: pixels centred on the origin, frame k at k·1.5 s.
pub fn grid() -> Grid {
    let mut grid = Grid::new(DIMS, SPACING);
    for a in 0..2 {
        grid.origin[a] = -((DIMS[a] - 1) as f64) / 2.0 * SPACING[a];
    }
    grid
}

impl CeusCine {
    /// Case `index` together with the latents that produced it (for tests and ground truth).
    pub fn generate_with_latents(&self, index: usize, seed: u64) -> (SyntheticCase, Latents) {
        let mut rng = case_rng(NAME, seed, index);
        let latents = draw_latents(&mut rng);
        let grid = grid();
        let [nx, ny, frames] = DIMS;
        let plane = nx * ny;

        let r = rng.random_range(5.0..8.5);
        let roi = Ellipsoid {
            centre: [
                rng.random_range(-2.0..2.0),
                rng.random_range(-2.0..2.0),
                0.0,
            ],
            radii: [r, r * rng.random_range(0.75..1.0), 1.0],
            angle: rng.random_range(0.0..PI),
        };
        let nodule_angle = rng.random_range(0.0..2.0 * PI);
        let gain = (0.10 * rng.sample::<f64, _>(StandardNormal)).exp();
        let arrival = rng.random_range(8.0..12.0);
        let liver_delay = rng.random_range(4.0..7.0);
        let lesion_echo = 90.0 * (0.12 * rng.sample::<f64, _>(StandardNormal)).exp();

        // ROI and nodule on one frame (z = 0 of the ROI frame).
        let pixel = |n: usize| {
            let p = voxel_position(&grid, n % nx, n / nx, 0);
            [p[0], p[1], 0.0]
        };
        let in_roi: Vec<bool> = (0..plane).map(|n| roi.contains(pixel(n))).collect();
        let nodule = Ellipsoid {
            centre: [
                roi.centre[0] + 0.45 * r * nodule_angle.cos(),
                roi.centre[1] + 0.45 * r * nodule_angle.sin(),
                0.0,
            ],
            radii: [0.45 * roi.radii[1], 0.45 * roi.radii[1], 1.0],
            angle: 0.0,
        };
        let in_nodule: Vec<bool> = (0..plane)
            .map(|n| in_roi[n] && nodule.contains(pixel(n)))
            .collect();
        let roi_count = in_roi.iter().filter(|&&x| x).count();
        let nodule_count = in_nodule.iter().filter(|&&x| x).count();
        let share = nodule_count as f64 / roi_count.max(1) as f64;
        let kappa = if nodule_count == 0 {
            0.0
        } else {
            phi(latents.pattern_score - PATTERN_SEPARATION / 2.0)
        };
        let weight: Vec<f64> = (0..plane)
            .map(|n| match (in_roi[n], in_nodule[n]) {
                (true, true) => 1.0 + kappa * (1.0 / share - 1.0),
                (true, false) => 1.0 - kappa,
                _ => 0.0,
            })
            .collect();

        // Time–intensity curves.
        let w = latents.tic_score;
        let lesion_curve: Vec<f64> = (0..frames)
            .map(|k| {
                let t = k as f64 * SPACING[2];
                60.0 * gain
                    * (0.3 * w).exp()
                    * gamma_variate(t, arrival, 9.0 * (-0.15 * w).exp(), 2.0 * (0.15 * w).exp())
            })
            .collect();
        let liver_curve: Vec<f64> = (0..frames)
            .map(|k| {
                let t = k as f64 * SPACING[2];
                50.0 * gain * gamma_variate(t, arrival + liver_delay, 18.0, 1.5)
            })
            .collect();

        // Static fields (one frame), then per-frame speckle.
        let perfusion = correlated_noise(&mut rng, [nx, ny, 1], [1.2, 1.2, 0.0]);
        let liver_texture = correlated_noise(&mut rng, [nx, ny, 1], [0.9, 0.9, 0.0]);
        let lesion_texture = correlated_noise(&mut rng, [nx, ny, 1], [1.5, 1.5, 0.0]);
        let speckle = correlated_noise(&mut rng, DIMS, [0.8, 0.8, 0.0]);
        let decorrelation = correlated_noise(&mut rng, DIMS, [0.9, 0.9, 0.0]);
        let lesion_sd = 14.0 * (0.35 * latents.bmode_score).exp();

        let mut contrast = vec![0.0; grid.len()];
        let mut bmode = vec![0.0; grid.len()];
        let mut mask = empty_mask(&grid);
        VoxelBox::all(&grid).for_each(|i, j, k| {
            let n = grid.index(i, j, k);
            let q = i + nx * j;
            let enhancement = if in_roi[q] {
                mask.voxels[n] = 1;
                lesion_curve[k] * weight[q]
            } else {
                liver_curve[k]
            };
            contrast[n] = enhancement * (1.0 + 0.15 * perfusion[q]) * (1.0 + 0.25 * speckle[n]);
            bmode[n] = if in_roi[q] {
                lesion_echo + lesion_sd * lesion_texture[q]
            } else {
                90.0 + 18.0 * liver_texture[q]
            } + 6.0 * decorrelation[n];
        });
        for v in contrast.iter_mut() {
            let floor: f64 = rng.sample(StandardNormal);
            *v = (*v + 2.0 * floor.abs()).round().clamp(0.0, 32767.0);
        }
        for v in bmode.iter_mut() {
            let noise: f64 = rng.sample(StandardNormal);
            *v = (*v + 3.0 * noise).round().clamp(0.0, 255.0);
        }

        let mut channels = BTreeMap::new();
        channels.insert(
            BMODE.to_string(),
            Image {
                grid: grid.clone(),
                voxels: bmode,
            },
        );
        let mut labels = BTreeMap::new();
        labels.insert(LABEL.to_string(), i64::from(latents.response));
        let case = SyntheticCase {
            image: Image {
                grid,
                voxels: contrast,
            },
            mask,
            patient: format!("p{index:04}"),
            site: "A".to_string(),
            labels,
            time: None,
            event: None,
            channels,
        };
        (case, latents)
    }
}

impl Scenario for CeusCine {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "CEUS cine (i, j, frame; 1.5 s per frame) with a B-mode channel; binary `response` \
         from the time-intensity curve, the perfusion pattern and B-mode texture"
    }

    fn version(&self) -> u32 {
        1
    }

    fn generate_case(&self, index: usize, seed: u64) -> SyntheticCase {
        self.generate_with_latents(index, seed).0
    }
}

#[cfg(test)]
#[path = "ceus_cine_tests.rs"]
mod tests;
