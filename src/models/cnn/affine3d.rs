//! Small volumetric affine resampling (rotation about all three axes, isotropic zoom,
//! translation) for augmenting 3-D crops.
//!
//! Principal items: [`AffineParams3d`], [`affine_volume`]. Coordinates are voxel indices
//! `(z, y, x)` = (slice, row, column). Output voxel `p` reads the input at `c + B·(p − c − t)/s`
//! (inverse mapping), where `c` is the volume's centre, `t` the shift, `s` the zoom and
//! `B = A_yx(angles[0]) · A_zx(angles[1]) · A_zy(angles[2])` a product of plane rotations; with
//! `angles[1] = angles[2] = 0`, zoom 1 and no shift along z every slice moves exactly as the
//! in-plane affine of [`super::affine::affine_plane`] moves it (a unit test checks this; the
//! zoom is volumetric, so with zoom ≠ 1 only the centre slice keeps that equivalence). Trilinear
//! interpolation, zero outside the volume (inputs are normalised, so zero reads as background);
//! taps of zero weight are skipped, so identity parameters reproduce the input exactly. The
//! rotation acts in voxel space: for anisotropic voxels it is a rotation of the index grid, not
//! of the patient (as for nnU-Net's augmentation of isotropic-ish patches).

/// One draw of the small volumetric affine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AffineParams3d {
    /// Rotations in radians: in the (y, x) plane (about the slice axis, as the in-plane
    /// affine), in the (z, x) plane and in the (z, y) plane.
    pub angles: [f64; 3],
    /// Isotropic zoom factor (> 1 enlarges).
    pub zoom: f64,
    /// Shift in voxels along z, y and x.
    pub shift: [f64; 3],
}

impl AffineParams3d {
    /// No movement.
    pub const IDENTITY: AffineParams3d = AffineParams3d {
        angles: [0.0; 3],
        zoom: 1.0,
        shift: [0.0; 3],
    };

    /// The matrix `B` that maps an output offset to an input offset (before zoom).
    fn inverse_rotation(&self) -> [[f64; 3]; 3] {
        // A plane rotation acting on axes (a, b): [[cos, sin], [−sin, cos]] (the in-plane
        // affine's inverse map for (y, x)); identity elsewhere.
        let plane = |angle: f64, a: usize, b: usize| {
            let (sin, cos) = angle.sin_cos();
            let mut m = [[0.0; 3]; 3];
            for (i, row) in m.iter_mut().enumerate() {
                row[i] = 1.0;
            }
            m[a][a] = cos;
            m[a][b] = sin;
            m[b][a] = -sin;
            m[b][b] = cos;
            m
        };
        let mul = |p: [[f64; 3]; 3], q: [[f64; 3]; 3]| {
            let mut r = [[0.0; 3]; 3];
            for (i, row) in r.iter_mut().enumerate() {
                for (j, v) in row.iter_mut().enumerate() {
                    *v = (0..3).map(|k| p[i][k] * q[k][j]).sum();
                }
            }
            r
        };
        mul(
            mul(plane(self.angles[0], 1, 2), plane(self.angles[1], 0, 2)),
            plane(self.angles[2], 0, 1),
        )
    }
}

/// Resamples one `d × h × w` volume `src` (slice-major, then row-major) into `dst`.
pub fn affine_volume(
    src: &[f32],
    (d, h, w): (usize, usize, usize),
    params: &AffineParams3d,
    dst: &mut [f32],
) {
    let centre = [d, h, w].map(|n| (n as f64 - 1.0) / 2.0);
    let dims = [d as isize, h as isize, w as isize];
    let zoom = if params.zoom > 0.0 { params.zoom } else { 1.0 };
    let b = params.inverse_rotation();
    let at = |z: isize, y: isize, x: isize| -> f64 {
        if z < 0 || y < 0 || x < 0 || z >= dims[0] || y >= dims[1] || x >= dims[2] {
            0.0
        } else {
            src[(z as usize * h + y as usize) * w + x as usize] as f64
        }
    };
    for z in 0..d {
        for y in 0..h {
            for x in 0..w {
                let p = [z as f64, y as f64, x as f64];
                let o: [f64; 3] =
                    std::array::from_fn(|a| (p[a] - centre[a] - params.shift[a]) / zoom);
                let s: [f64; 3] = std::array::from_fn(|a| {
                    centre[a] + b[a][0] * o[0] + b[a][1] * o[1] + b[a][2] * o[2]
                });
                let base = s.map(f64::floor);
                let frac: [f64; 3] = std::array::from_fn(|a| s[a] - base[a]);
                let base = base.map(|v| v as isize);
                let mut v = 0.0;
                for (zz, wz) in [(base[0], 1.0 - frac[0]), (base[0] + 1, frac[0])] {
                    if wz == 0.0 {
                        continue;
                    }
                    for (yy, wy) in [(base[1], 1.0 - frac[1]), (base[1] + 1, frac[1])] {
                        if wy == 0.0 {
                            continue;
                        }
                        for (xx, wx) in [(base[2], 1.0 - frac[2]), (base[2] + 1, frac[2])] {
                            if wx != 0.0 {
                                v += wz * wy * wx * at(zz, yy, xx);
                            }
                        }
                    }
                }
                dst[(z * h + y) * w + x] = v as f32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::affine::{AffineParams, affine_plane};
    use super::*;

    fn volume(d: usize, h: usize, w: usize) -> Vec<f32> {
        (0..d * h * w).map(|v| (v * 7 % 13) as f32 + 0.5).collect()
    }

    #[test]
    fn identity_reproduces_the_volume() {
        let src = volume(3, 4, 5);
        let mut dst = vec![0.0; 60];
        affine_volume(&src, (3, 4, 5), &AffineParams3d::IDENTITY, &mut dst);
        assert_eq!(dst, src);
    }

    #[test]
    fn in_plane_parameters_match_the_plane_affine_slice_by_slice() {
        let (d, h, w) = (3, 6, 7);
        let src = volume(d, h, w);
        for zoom in [1.0, 1.1] {
            let p3 = AffineParams3d {
                angles: [0.3, 0.0, 0.0],
                zoom,
                shift: [0.0, 0.7, -1.2],
            };
            let p2 = AffineParams {
                angle: 0.3,
                zoom,
                shift: [0.7, -1.2],
            };
            let mut got = vec![0.0; d * h * w];
            affine_volume(&src, (d, h, w), &p3, &mut got);
            // A volumetric zoom also moves the slices away from the centre one.
            let slices = if zoom == 1.0 { 0..d } else { 1..2 };
            for k in slices {
                let mut want = vec![0.0; h * w];
                affine_plane(&src[k * h * w..(k + 1) * h * w], (h, w), &p2, &mut want);
                for (a, b) in got[k * h * w..(k + 1) * h * w].iter().zip(&want) {
                    assert!((a - b).abs() < 1e-5, "slice {k}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn out_of_plane_quarter_turn_and_depth_shift_land_on_the_grid() {
        // A 90° turn in the (z, x) plane of a cube: output (z, y, x) reads input
        // (c + (x − c), y, c − (z − c)) = (x, y, n − 1 − z).
        let n = 5;
        let src = volume(n, n, n);
        let mut dst = vec![0.0; n * n * n];
        let p = AffineParams3d {
            angles: [0.0, std::f64::consts::FRAC_PI_2, 0.0],
            ..AffineParams3d::IDENTITY
        };
        affine_volume(&src, (n, n, n), &p, &mut dst);
        for z in 0..n {
            for y in 0..n {
                for x in 0..n {
                    let want = src[(x * n + y) * n + (n - 1 - z)];
                    assert!((dst[(z * n + y) * n + x] - want).abs() < 1e-5);
                }
            }
        }
        // One slice along z: slice 0 is empty, slice k reads slice k − 1.
        let p = AffineParams3d {
            shift: [1.0, 0.0, 0.0],
            ..AffineParams3d::IDENTITY
        };
        affine_volume(&src, (n, n, n), &p, &mut dst);
        assert!(dst[..n * n].iter().all(|&v| v == 0.0));
        assert_eq!(dst[n * n..], src[..(n - 1) * n * n]);
    }

    #[test]
    fn rotation_matrix_is_orthogonal() {
        let p = AffineParams3d {
            angles: [0.2, -0.4, 0.7],
            ..AffineParams3d::IDENTITY
        };
        let b = p.inverse_rotation();
        for i in 0..3 {
            for j in 0..3 {
                let dot: f64 = (0..3).map(|k| b[i][k] * b[j][k]).sum();
                assert!((dot - f64::from(u8::from(i == j))).abs() < 1e-12);
            }
        }
    }
}
