//! `tace-ct`: liver tumours on CT after transarterial chemoembolisation (TACE), with a
//! four-class mRECIST response label, one training site and two external sites.
//!
//! Principal items: [`TaceCt`] (the [`Scenario`]), its [`Latents`], [`Signals`] and
//! [`class_log_likelihoods`], from which a test derives the Bayes-optimal accuracy and
//! one-vs-rest AUCs quoted below. Analogue of source paper 1 (TACE response from CT with
//! ResNet50 transfer learning, Eur Radiol; mRECIST: Lencioni & Llovet, *Semin Liver Dis*
//! 30, 2010). Lipiodol, the oily contrast agent given with the chemotherapy, stays in
//! embolised tumour and shows as dense (200–350 HU) deposits on follow-up CT; complete,
//! dense deposition that also covers the tumour margin goes with response, while a new
//! intrahepatic nodule is, by definition, progression.
//!
//! # Generative model (version 1)
//!
//! Volume 64 × 64 × 24 voxels at 0.9 × 0.9 × 2.5 mm, identity direction, centred on the world
//! origin; int16 HU. One case per patient (patient-level label; slices are the "patches").
//! Case `i` draws, in this order, from its own stream (`["synth", "tace-ct", i]`):
//!
//! 1. **Latents.** Label `response` ∈ {0 CR, 1 PR, 2 SD, 3 PD} with probabilities
//!    0.20 / 0.35 / 0.30 / 0.15. Site A / B / C with probabilities 0.70 / 0.12 / 0.18
//!    (paper 1: 562 / 89 / 138 patients), independent of the label. Then, independent given
//!    the class `y`:
//!    - deposit score `a ~ N(α_y, 1)`, α = (2.0, 1.25, −1.25, −1.25);
//!    - margin score `b ~ N(β_y, 1)`, β = (3.0, 0.5, −1.0, −1.0);
//!    - new nodule present with probability q_y = (0.02, 0.04, 0.06, 0.90).
//! 2. **Tumour** (the mask, label 1): a lobulated ellipsoid (4 von Mises–Fisher lobes of
//!    relative amplitude ≤ 0.12) with in-plane radius `r ~ U(8, 13)` mm, second radius
//!    `r·U(0.8, 1)`, through-plane `r·U(0.8, 1.1)`, random in-plane rotation, centre within
//!    ±3 mm in-plane and ±4 mm in z. Size and shape do not depend on the label. Liver
//!    background 58 HU plus four smooth blobs (N(0, 6) HU, σ 8–20 mm); tumour base
//!    `N(40, 5)` HU.
//! 3. **Intratumoral deposit** (signal **D**, inside the mask). A unit-variance Gaussian field
//!    `T` (correlation σ 1.8 mm) is drawn over the tumour box; the deposit covers the voxels
//!    of the mask whose `T` exceeds its `1 − f` quantile in the mask, with `f = Φ(a/2)`, so
//!    the deposit fraction is `f` up to one voxel: patchy (heterogeneous) deposits at
//!    low `f`, near-complete dense ones at high `f`. Deposit value `L·σ((T − t)/0.15)`
//!    with `L ~ U(180, 320)` HU. First-order statistics inside the mask (mean, percentiles,
//!    energy) see `f`, and so does a CNN.
//! 4. **Margin halo** (signal **M**, outside the mask). Lipiodol in the liver just beyond the
//!    tumour: in the shell from one voxel outside the mask to `w ~ U(3, 5)` mm beyond the
//!    surface (in units of the mean in-plane radius), over one arc covering the fraction
//!    `h = Φ(b/2)` of the in-plane angle (start angle uniform), `0.6·L` HU over the inner
//!    70 % of the shell, fading linearly to 0 over the outer 30 %. Invisible to
//!    any statistic of the voxels inside the mask; a CNN whose crop has a few mm of margin
//!    sees how much of the rim is covered.
//! 5. **New nodule** (signal **N**, outside the mask). When present, a sphere of radius
//!    `U(2.5, 4)` mm and contrast `−U(25, 40)` HU (hypoattenuating), `U(3, 8)` mm beyond the
//!    tumour surface in a random in-plane direction (turned by 40° until it fits the volume),
//!    drawn with partial volume and never within one voxel of the mask. Its parameters are
//!    drawn for every case, so the stream does not depend on its presence.
//! 6. **Site.** White noise SD 10 / 14 / 18 HU and offset 0 / +15 / −12 HU for sites
//!    A / B / C (external sites: noisier scanners, another calibration). Rounded, clamped to
//!    [−1024, 3071].
//!
//! # Ground truth
//!
//! The Bayes-optimal classifier of the latents it can see takes the arg-max of the class
//! posterior; its one-vs-rest AUCs rank by that class's posterior. Simulated on 200,000 latent
//! draws (test `bayes_accuracy_and_ovr_aucs_match_the_doc`):
//!
//! | signals seen | accuracy | AUC CR | AUC PR | AUC SD | AUC PD |
//! |---|---|---|---|---|---|
//! | D (radiomics inside the mask) | 0.606 | 0.864 | 0.824 | 0.870 | 0.805 |
//! | D + M | 0.754 | 0.986 | 0.956 | 0.883 | 0.816 |
//! | D + M + N (a CNN with peritumoral margin) | 0.867 | 0.986 | 0.960 | 0.964 | 0.969 |
//!
//! Radiomics inside the mask sees only D, so it cannot tell SD from PD (their D means are
//! equal) nor PR from CR well; a CNN that sees the margin can reach all three signals.
//! Models see images, not latents, so they stay below these bounds; the external sites add a
//! noise and calibration shift that intensity-based features feel directly.

use super::field::correlated_noise;
use super::shapes::{
    Blob, Ellipsoid, LobedBody, VoxelBox, add_noise, blobs_at, centred_grid, dilate, empty_mask,
    paint_sphere, voxel_position,
};
use super::truth::{categorical, phi};
use super::{Scenario, SyntheticCase, case_rng};
use crate::data::image::{Grid, Image};
use rand::{Rng, RngExt};
use rand_distr::StandardNormal;
use std::collections::BTreeMap;
use std::f64::consts::PI;

/// The `tace-ct` scenario.
#[derive(Debug, Clone, Copy, Default)]
pub struct TaceCt;

/// Registry name.
pub const NAME: &str = "tace-ct";
/// Label name.
pub const LABEL: &str = "response";
/// Voxels along i, j, k.
pub const DIMS: [usize; 3] = [64, 64, 24];
/// Voxel size in mm.
pub const SPACING: [f64; 3] = [0.9, 0.9, 2.5];
/// Class names, in label order.
pub const CLASSES: [&str; 4] = ["CR", "PR", "SD", "PD"];
/// P(response = y).
pub const CLASS_PRIORS: [f64; 4] = [0.20, 0.35, 0.30, 0.15];
/// Mean of the deposit score `a` per class.
pub const DEPOSIT_MEANS: [f64; 4] = [2.0, 1.25, -1.25, -1.25];
/// Mean of the margin score `b` per class.
pub const MARGIN_MEANS: [f64; 4] = [3.0, 0.5, -1.0, -1.0];
/// P(new nodule | class).
pub const NODULE_RATES: [f64; 4] = [0.02, 0.04, 0.06, 0.90];
/// Site names and probabilities.
pub const SITES: [(&str, f64); 3] = [("A", 0.70), ("B", 0.12), ("C", 0.18)];

/// Noise SD and intensity offset (HU) per site.
const SITE_NOISE: [(f64, f64); 3] = [(10.0, 0.0), (14.0, 15.0), (18.0, -12.0)];
/// Liver parenchyma, HU.
const LIVER_HU: f64 = 58.0;
/// Correlation length (σ) of the deposit field, mm.
const DEPOSIT_SIGMA_MM: f64 = 1.8;

/// The latent variables of one case, drawn first from its stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latents {
    /// The label `response` (0 CR, 1 PR, 2 SD, 3 PD).
    pub response: usize,
    /// Index into [`SITES`].
    pub site: usize,
    /// Deposit score `a`; the deposit fraction is Φ(a/2).
    pub deposit_score: f64,
    /// Margin score `b`; the covered fraction of the rim is Φ(b/2).
    pub margin_score: f64,
    /// Whether a new nodule is painted.
    pub new_nodule: bool,
}

/// Which latent signals a reader sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signals {
    /// D: the intratumoral deposit fraction.
    pub deposit: bool,
    /// M: the covered fraction of the margin.
    pub margin: bool,
    /// N: the new nodule.
    pub nodule: bool,
}

/// Draws the latents (the first five draws of a case's stream).
pub fn draw_latents<R: Rng + ?Sized>(rng: &mut R) -> Latents {
    let response = categorical(&CLASS_PRIORS, rng.random::<f64>());
    let site = categorical(&SITES.map(|s| s.1), rng.random::<f64>());
    let deposit_score = DEPOSIT_MEANS[response] + rng.sample::<f64, _>(StandardNormal);
    let margin_score = MARGIN_MEANS[response] + rng.sample::<f64, _>(StandardNormal);
    let new_nodule = rng.random::<f64>() < NODULE_RATES[response];
    Latents {
        response,
        site,
        deposit_score,
        margin_score,
        new_nodule,
    }
}

/// Log-likelihood of the seen latents under each class (up to a common constant).
pub fn class_log_likelihoods(latents: &Latents, seen: Signals) -> [f64; 4] {
    std::array::from_fn(|y| {
        let mut ll = 0.0;
        if seen.deposit {
            ll -= (latents.deposit_score - DEPOSIT_MEANS[y]).powi(2) / 2.0;
        }
        if seen.margin {
            ll -= (latents.margin_score - MARGIN_MEANS[y]).powi(2) / 2.0;
        }
        if seen.nodule {
            let q = NODULE_RATES[y];
            ll += if latents.new_nodule { q } else { 1.0 - q }.ln();
        }
        ll
    })
}

/// Intratumoral deposit fraction for deposit score `a`.
pub fn deposit_fraction(a: f64) -> f64 {
    phi(a / 2.0)
}

/// Covered fraction of the margin for margin score `b`.
pub fn margin_fraction(b: f64) -> f64 {
    phi(b / 2.0)
}

/// The scenario grid.
pub fn grid() -> Grid {
    centred_grid(DIMS, SPACING)
}

fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

impl TaceCt {
    /// Case `index` together with the latents that produced it (for tests and ground truth).
    pub fn generate_with_latents(&self, index: usize, seed: u64) -> (SyntheticCase, Latents) {
        let mut rng = case_rng(NAME, seed, index);
        let latents = draw_latents(&mut rng);
        let grid = grid();

        let r = rng.random_range(8.0..13.0);
        let ellipsoid = Ellipsoid {
            centre: [
                rng.random_range(-3.0..3.0),
                rng.random_range(-3.0..3.0),
                rng.random_range(-4.0..4.0),
            ],
            radii: [
                r,
                r * rng.random_range(0.8..1.0),
                r * rng.random_range(0.8..1.1),
            ],
            angle: rng.random_range(0.0..PI),
        };
        let lobes = LobedBody::random_lobes(&mut rng, 4, 0.12, 4.0);
        let tumour = LobedBody { ellipsoid, lobes };
        let blobs = Blob::random(&mut rng, &grid, 4, 6.0, 8.0..20.0);
        let tumour_hu = 40.0 + 5.0 * rng.sample::<f64, _>(StandardNormal);
        let lipiodol_hu = rng.random_range(180.0..320.0);
        let halo_width = rng.random_range(3.0..5.0);
        let halo_start = rng.random_range(0.0..2.0 * PI);
        let nodule = [
            rng.random_range(0.0..2.0 * PI),
            rng.random_range(3.0..8.0),
            rng.random_range(2.5..4.0),
            -rng.random_range(25.0..40.0),
            rng.random_range(-0.3..0.3),
        ];

        // Background and tumour mask.
        let mut voxels = vec![0.0; grid.len()];
        VoxelBox::all(&grid).for_each(|i, j, k| {
            voxels[grid.index(i, j, k)] =
                LIVER_HU + blobs_at(&blobs, voxel_position(&grid, i, j, k));
        });
        let mut mask = empty_mask(&grid);
        let reach = tumour.extent() + halo_width + 2.0;
        let tumour_box = VoxelBox::around(&grid, tumour.ellipsoid.centre, [reach; 3]);
        let box_dims = tumour_box.dims();
        let sigma = SPACING.map(|s| DEPOSIT_SIGMA_MM / s);
        let field = correlated_noise(&mut rng, box_dims, sigma);
        let field_at = |i: usize, j: usize, k: usize| {
            let [lo, d] = [tumour_box.lo, box_dims];
            field[(i - lo[0]) + d[0] * ((j - lo[1]) + d[1] * (k - lo[2]))]
        };
        let mut levels = vec![f64::INFINITY; grid.len()];
        let mut inside_field = Vec::new();
        tumour_box.for_each(|i, j, k| {
            let n = grid.index(i, j, k);
            levels[n] = tumour.level(voxel_position(&grid, i, j, k));
            if levels[n] <= 1.0 {
                mask.voxels[n] = 1;
                inside_field.push(field_at(i, j, k));
            }
        });

        // Intratumoral deposit: the top fraction f of the field inside the mask.
        inside_field.sort_by(f64::total_cmp);
        let f = deposit_fraction(latents.deposit_score);
        let threshold = if inside_field.is_empty() {
            f64::INFINITY
        } else {
            let at = ((1.0 - f) * inside_field.len() as f64).floor() as usize;
            inside_field[at.min(inside_field.len() - 1)]
        };
        tumour_box.for_each(|i, j, k| {
            let n = grid.index(i, j, k);
            if mask.voxels[n] == 1 {
                let t = field_at(i, j, k);
                voxels[n] = tumour_hu + lipiodol_hu * logistic((t - threshold) / 0.15);
            }
        });

        // Margin halo over an arc covering the fraction h of the in-plane angle.
        let near_mask = dilate(&mask.voxels, DIMS, [1, 1, 1]);
        let h = margin_fraction(latents.margin_score);
        let mean_radius = (tumour.ellipsoid.radii[0] + tumour.ellipsoid.radii[1]) / 2.0;
        let shell = halo_width / mean_radius;
        tumour_box.for_each(|i, j, k| {
            let n = grid.index(i, j, k);
            let excess = levels[n] - 1.0;
            if near_mask[n] == 1 || !(0.0..shell).contains(&excess) {
                return;
            }
            let p = voxel_position(&grid, i, j, k);
            let turn = (tumour.ellipsoid.azimuth(p) - halo_start).rem_euclid(2.0 * PI);
            if turn < 2.0 * PI * h {
                // Full strength over the inner 70 % of the shell, fading over the rest.
                let fade = ((1.0 - excess / shell) / 0.3).min(1.0);
                voxels[n] += 0.6 * lipiodol_hu * fade;
            }
        });

        // New nodule: placed for every case, painted only when present.
        let [angle0, gap, radius, contrast, dz] = nodule;
        let centre = nodule_centre(&tumour, &grid, [angle0, gap, radius, dz]);
        if latents.new_nodule {
            paint_sphere(&mut voxels, &grid, centre, radius, contrast, |n| {
                near_mask[n] == 0
            });
        }

        let (noise_sd, offset) = SITE_NOISE[latents.site];
        add_noise(&mut voxels, &mut rng, noise_sd, offset, -1024.0, 3071.0);
        let mut labels = BTreeMap::new();
        labels.insert(LABEL.to_string(), latents.response as i64);
        let case = SyntheticCase {
            image: Image { grid, voxels },
            mask,
            patient: format!("p{index:04}"),
            site: SITES[latents.site].0.to_string(),
            labels,
            time: None,
            event: None,
            channels: BTreeMap::new(),
        };
        (case, latents)
    }
}

/// Centre of the nodule: `gap + radius` beyond the tumour surface along the in-plane angle,
/// at a z offset of `dz` times the through-plane radius; the angle turns by 40° (up to eight
/// times) until the sphere fits the volume with one voxel to spare.
fn nodule_centre(tumour: &LobedBody, grid: &Grid, params: [f64; 4]) -> [f64; 3] {
    let [angle0, gap, radius, dz] = params;
    let limit: [f64; 3] = std::array::from_fn(|a| -grid.origin[a] - grid.spacing[a]);
    let c = tumour.ellipsoid.centre;
    let mut centre = c;
    for turn in 0..9 {
        let angle = angle0 + f64::from(turn) * 40f64.to_radians();
        let distance = tumour.surface_distance([angle.cos(), angle.sin(), 0.0]) + gap + radius;
        centre = [
            c[0] + distance * angle.cos(),
            c[1] + distance * angle.sin(),
            c[2] + dz * tumour.ellipsoid.radii[2],
        ];
        if (0..2).all(|a| centre[a].abs() + radius <= limit[a]) {
            break;
        }
    }
    centre
}

impl Scenario for TaceCt {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "CT after TACE; 4-class `response` (CR/PR/SD/PD) from lipiodol deposition inside the \
         tumour, lipiodol coverage of its margin and new nodules; sites A (train), B, C"
    }

    fn version(&self) -> u32 {
        1
    }

    fn generate_case(&self, index: usize, seed: u64) -> SyntheticCase {
        self.generate_with_latents(index, seed).0
    }
}

#[cfg(test)]
#[path = "tace_ct_tests.rs"]
mod tests;
