//! Seeded data augmentation for training inputs.
//!
//! Principal type: [`Augment`]. Every draw comes from the [`SeededRng`] handed in (the cell's
//! stream), in a fixed order per sample: horizontal flip, vertical flip, quarter turns, the
//! small affine's angle, scale and translation (rows, then columns), intensity scale, intensity
//! shift, then one Gaussian noise value per voxel in row-major order; a transform that is
//! switched off draws nothing. Geometric transforms act on the last two axes (rows, columns) of
//! every channel (and slice) alike, so channels stay co-registered; the small affine resamples
//! bilinearly about the plane's centre with zero outside ([`super::affine`]). With
//! `volumetric` on a 3-D crop `[channels, d, h, w]`, flips also reverse the slice axis (drawn
//! after the quarter turns) and the small affine rotates about all three axes and shifts along
//! the slices too, resampled trilinearly ([`super::affine3d`]; draws: the three angles, scale,
//! then shifts along rows, columns and slices); without `volumetric` draws are as before. Reference for
//! the choice of transforms: the flips / 90° rotations / small rotation–scale–translation /
//! intensity jitter of the nnU-Net augmentation set (Isensee et al. 2021), without the elastic
//! part.

use super::affine::{AffineParams, affine_plane};
use super::affine3d::{AffineParams3d, affine_volume};
use super::input::Sample;
use crate::seed::SeededRng;
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};

/// Augmentation settings; the default does nothing.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Augment {
    /// Flip left–right and up–down, each with probability ½.
    pub flips: bool,
    /// Rotate by a uniformly drawn multiple of 90° (only 0° / 180° for non-square patches).
    pub rot90: bool,
    /// Standard deviation of the multiplicative intensity factor `1 + scale·z`.
    pub intensity_scale: f64,
    /// Standard deviation of the additive intensity shift.
    pub intensity_shift: f64,
    /// Standard deviation of per-voxel Gaussian noise.
    pub noise_sd: f64,
    /// In-plane rotation drawn uniformly from `[−rotate_degrees, rotate_degrees]`.
    pub rotate_degrees: f64,
    /// Isotropic in-plane zoom drawn uniformly from `[1 − scale, 1 + scale]`.
    pub scale: f64,
    /// Shift in pixels along rows and columns, each drawn uniformly from
    /// `[−translate, translate]`.
    pub translate: f64,
    /// On 3-D crops `[channels, d, h, w]`: flip the slice axis too, and rotate about all three
    /// axes and shift along the slices in the small affine (needs 3-D inputs).
    pub volumetric: bool,
}

impl Augment {
    /// True when [`Augment::apply`] returns its input unchanged.
    pub fn is_identity(&self) -> bool {
        !self.flips
            && !self.rot90
            && self.intensity_scale == 0.0
            && self.intensity_shift == 0.0
            && self.noise_sd == 0.0
            && !self.has_affine()
    }

    /// True when the small affine (rotation, scale or translation) is switched on.
    pub fn has_affine(&self) -> bool {
        self.rotate_degrees != 0.0 || self.scale != 0.0 || self.translate != 0.0
    }

    /// An augmented copy of `sample`.
    pub fn apply(&self, sample: &Sample, rng: &mut SeededRng) -> Sample {
        let mut out = sample.clone();
        if self.is_identity() || sample.shape.len() < 2 {
            return out;
        }
        let n = sample.shape.len();
        let (h, w) = (sample.shape[n - 2], sample.shape[n - 1]);
        let flip_x = self.flips && rng.random::<bool>();
        let flip_y = self.flips && rng.random::<bool>();
        let turns = if !self.rot90 {
            0
        } else if h == w {
            rng.random_range(0..4u32)
        } else {
            2 * rng.random_range(0..2u32)
        };
        let volume = self.volumetric && n == 4;
        let flip_z = volume && self.flips && rng.random::<bool>();
        if flip_x || flip_y || turns != 0 {
            for (src, dst) in sample.data.chunks(h * w).zip(out.data.chunks_mut(h * w)) {
                for y in 0..h {
                    for x in 0..w {
                        let (sy, sx) = source_of(y, x, h, w, flip_x, flip_y, turns);
                        dst[y * w + x] = src[sy * w + sx];
                    }
                }
            }
        }
        if flip_z {
            let (d, plane) = (sample.shape[1], h * w);
            let moved = out.data.clone();
            for (src, dst) in moved.chunks(d * plane).zip(out.data.chunks_mut(d * plane)) {
                for k in 0..d {
                    dst[k * plane..(k + 1) * plane]
                        .copy_from_slice(&src[(d - 1 - k) * plane..(d - k) * plane]);
                }
            }
        }
        if self.has_affine() && volume {
            let r = self.rotate_degrees.abs();
            let angles = [0; 3].map(|_| uniform(rng, r).to_radians());
            let zoom = 1.0 + uniform(rng, self.scale.abs());
            let t = self.translate.abs();
            let (ty, tx, tz) = (uniform(rng, t), uniform(rng, t), uniform(rng, t));
            let params = AffineParams3d {
                angles,
                zoom,
                shift: [tz, ty, tx],
            };
            let d = sample.shape[1];
            let moved = out.data.clone();
            let len = d * h * w;
            for (src, dst) in moved.chunks(len).zip(out.data.chunks_mut(len)) {
                affine_volume(src, (d, h, w), &params, dst);
            }
        } else if self.has_affine() {
            let params = AffineParams {
                angle: uniform(rng, self.rotate_degrees.abs()).to_radians(),
                zoom: 1.0 + uniform(rng, self.scale.abs()),
                shift: [
                    uniform(rng, self.translate.abs()),
                    uniform(rng, self.translate.abs()),
                ],
            };
            let moved = out.data.clone();
            for (src, dst) in moved.chunks(h * w).zip(out.data.chunks_mut(h * w)) {
                affine_plane(src, (h, w), &params, dst);
            }
        }
        let gauss = |rng: &mut SeededRng| -> f64 { StandardNormal.sample(rng) };
        let scale = if self.intensity_scale > 0.0 {
            1.0 + self.intensity_scale * gauss(rng)
        } else {
            1.0
        };
        let shift = if self.intensity_shift > 0.0 {
            self.intensity_shift * gauss(rng)
        } else {
            0.0
        };
        if scale != 1.0 || shift != 0.0 {
            for v in &mut out.data {
                *v = (*v as f64 * scale + shift) as f32;
            }
        }
        if self.noise_sd > 0.0 {
            for v in &mut out.data {
                *v = (*v as f64 + self.noise_sd * gauss(rng)) as f32;
            }
        }
        out
    }
}

/// A uniform draw from `[−r, r]`; nothing is drawn when `r` is zero (the transform is off).
fn uniform(rng: &mut SeededRng, r: f64) -> f64 {
    if r > 0.0 {
        rng.random_range(-r..=r)
    } else {
        0.0
    }
}

/// Where output pixel `(y, x)` comes from after flips and then `turns` counter-clockwise
/// quarter turns (square planes for odd `turns`).
fn source_of(
    y: usize,
    x: usize,
    h: usize,
    w: usize,
    flip_x: bool,
    flip_y: bool,
    turns: u32,
) -> (usize, usize) {
    // Undo the rotation first (it was applied last), then the flips.
    let (mut sy, mut sx) = match turns % 4 {
        0 => (y, x),
        1 => (x, w - 1 - y),
        2 => (h - 1 - y, w - 1 - x),
        _ => (h - 1 - x, y),
    };
    if flip_y {
        sy = h - 1 - sy;
    }
    if flip_x {
        sx = w - 1 - sx;
    }
    (sy, sx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::rng_for;

    fn sample() -> Sample {
        Sample {
            case: "a".into(),
            slice: Some(0),
            shape: vec![2, 3, 3],
            data: (0..18).map(|v| v as f32).collect(),
        }
    }

    #[test]
    fn identity_and_reproducible() {
        let s = sample();
        let mut rng = rng_for(1, &["aug"]);
        assert_eq!(Augment::default().apply(&s, &mut rng), s);
        let aug = Augment {
            flips: true,
            rot90: true,
            intensity_scale: 0.1,
            intensity_shift: 0.1,
            noise_sd: 0.05,
            ..Default::default()
        };
        let a = aug.apply(&s, &mut rng_for(1, &["aug"]));
        let b = aug.apply(&s, &mut rng_for(1, &["aug"]));
        assert_eq!(a, b);
        assert_ne!(a, s);
    }

    #[test]
    fn geometry_is_a_permutation_per_channel() {
        let s = sample();
        let aug = Augment {
            flips: true,
            rot90: true,
            ..Default::default()
        };
        for seed in 0..16 {
            let a = aug.apply(&s, &mut rng_for(seed, &["aug"]));
            for c in 0..2 {
                let mut got: Vec<f32> = a.data[c * 9..(c + 1) * 9].to_vec();
                got.sort_by(f32::total_cmp);
                let want: Vec<f32> = (c * 9..(c + 1) * 9).map(|v| v as f32).collect();
                assert_eq!(got, want);
                // Channels move together: channel 1 is channel 0 plus 9 everywhere.
                assert_eq!(a.data[9 + 4], a.data[4] + 9.0);
            }
        }
    }

    #[test]
    fn small_affine_is_seeded_and_off_by_default() {
        let s = Sample {
            case: "a".into(),
            slice: None,
            shape: vec![1, 2, 6, 6],
            data: (0..72).map(|v| (v % 13) as f32).collect(),
        };
        let off = Augment {
            rotate_degrees: 0.0,
            scale: 0.0,
            translate: 0.0,
            ..Default::default()
        };
        assert!(off.is_identity());
        assert_eq!(off.apply(&s, &mut rng_for(3, &["aug"])), s);
        let aug = Augment {
            rotate_degrees: 10.0,
            scale: 0.1,
            translate: 2.0,
            ..Default::default()
        };
        assert!(!aug.is_identity());
        let a = aug.apply(&s, &mut rng_for(3, &["aug"]));
        assert_eq!(a, aug.apply(&s, &mut rng_for(3, &["aug"])));
        assert_ne!(a, s);
        assert_ne!(a, aug.apply(&s, &mut rng_for(4, &["aug"])));
        // Every slice of a volume moves alike: equal slices stay equal.
        let same = Sample {
            data: [s.data[..36].to_vec(), s.data[..36].to_vec()].concat(),
            ..s.clone()
        };
        let b = aug.apply(&same, &mut rng_for(3, &["aug"]));
        assert_eq!(b.data[..36], b.data[36..]);
    }

    #[test]
    fn volumetric_moves_all_channels_alike_and_leaves_other_draws_alone() {
        let s = Sample {
            case: "a".into(),
            slice: None,
            shape: vec![2, 4, 5, 5],
            data: (0..200).map(|v| (v % 17) as f32).collect(),
        };
        let planar = Augment {
            flips: true,
            rotate_degrees: 10.0,
            scale: 0.1,
            translate: 1.0,
            ..Default::default()
        };
        let volumetric = Augment {
            volumetric: true,
            ..planar
        };
        let a = volumetric.apply(&s, &mut rng_for(7, &["aug"]));
        assert_eq!(a, volumetric.apply(&s, &mut rng_for(7, &["aug"])));
        assert_ne!(a, planar.apply(&s, &mut rng_for(7, &["aug"])));
        // Two identical channels stay identical.
        let twin = Sample {
            data: [s.data[..100].to_vec(), s.data[..100].to_vec()].concat(),
            ..s.clone()
        };
        let b = volumetric.apply(&twin, &mut rng_for(9, &["aug"]));
        assert_eq!(b.data[..100], b.data[100..]);
        // Flips alone: some seed reverses the slice axis, and each result is a permutation.
        let flips = Augment {
            flips: true,
            volumetric: true,
            ..Default::default()
        };
        let depth_reversed = (0..32).any(|seed| {
            let f = flips.apply(&s, &mut rng_for(seed, &["aug"]));
            let mut got = f.data.clone();
            got.sort_by(f32::total_cmp);
            let mut want = s.data.clone();
            want.sort_by(f32::total_cmp);
            assert_eq!(got, want);
            f.data[..25] == s.data[75..100] || {
                // Also flipped in-plane: compare sums of the first and last slices.
                let sum = |d: &[f32]| d.iter().sum::<f32>();
                sum(&f.data[..25]) == sum(&s.data[75..100])
                    && sum(&s.data[..25]) != sum(&s.data[75..100])
            }
        });
        assert!(depth_reversed);
    }

    #[test]
    fn quarter_turn_moves_corners() {
        // 0 1 2 / 3 4 5 / 6 7 8 turned a quarter counter-clockwise: 2 5 8 / 1 4 7 / 0 3 6.
        let got: Vec<usize> = (0..9)
            .map(|p| {
                let (sy, sx) = source_of(p / 3, p % 3, 3, 3, false, false, 1);
                sy * 3 + sx
            })
            .collect();
        assert_eq!(got, vec![2, 5, 8, 1, 4, 7, 0, 3, 6]);
    }
}
