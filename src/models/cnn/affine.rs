//! Small in-plane affine resampling (rotation, isotropic zoom, translation) for augmentation.
//!
//! Principal items: [`AffineParams`], [`affine_plane`]. Output pixel `(y, x)` reads the input
//! at `c + R(−θ)·((y, x) − c − t)/s` (inverse mapping, so every output pixel gets exactly one
//! value), where `c` is the plane's centre `((h−1)/2, (w−1)/2)`, `t` the shift and `s` the zoom,
//! with bilinear interpolation and zero outside the plane (inputs are normalised, so zero reads
//! as background, like the patch padding). Identity parameters reproduce the input exactly.

/// One draw of the small affine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AffineParams {
    /// Counter-clockwise rotation in radians (rows pointing down, columns right).
    pub angle: f64,
    /// Isotropic zoom factor (> 1 enlarges).
    pub zoom: f64,
    /// Shift in pixels along rows and columns.
    pub shift: [f64; 2],
}

impl AffineParams {
    /// No movement.
    pub const IDENTITY: AffineParams = AffineParams {
        angle: 0.0,
        zoom: 1.0,
        shift: [0.0, 0.0],
    };
}

/// Resamples one row-major `h × w` plane `src` into `dst` under `params`.
pub fn affine_plane(src: &[f32], (h, w): (usize, usize), params: &AffineParams, dst: &mut [f32]) {
    let (cy, cx) = ((h as f64 - 1.0) / 2.0, (w as f64 - 1.0) / 2.0);
    let (sin, cos) = params.angle.sin_cos();
    let zoom = if params.zoom > 0.0 { params.zoom } else { 1.0 };
    let at = |y: isize, x: isize| -> f64 {
        if y < 0 || x < 0 || y >= h as isize || x >= w as isize {
            0.0
        } else {
            src[y as usize * w + x as usize] as f64
        }
    };
    for y in 0..h {
        for x in 0..w {
            let (dy, dx) = (
                (y as f64 - cy - params.shift[0]) / zoom,
                (x as f64 - cx - params.shift[1]) / zoom,
            );
            // Inverse rotation of the offset (a counter-clockwise turn of the image moves the
            // pixel at offset (dy, dx) to (cos·dy − sin·dx, sin·dy + cos·dx) with y down).
            let sy = cy + cos * dy + sin * dx;
            let sx = cx - sin * dy + cos * dx;
            let (y0, x0) = (sy.floor(), sx.floor());
            let (fy, fx) = (sy - y0, sx - x0);
            let (y0, x0) = (y0 as isize, x0 as isize);
            let mut v = 0.0;
            // Taps of zero weight are skipped so that exact grid positions read one pixel.
            for (yy, wy) in [(y0, 1.0 - fy), (y0 + 1, fy)] {
                for (xx, wx) in [(x0, 1.0 - fx), (x0 + 1, fx)] {
                    let weight = wy * wx;
                    if weight != 0.0 {
                        v += weight * at(yy, xx);
                    }
                }
            }
            dst[y * w + x] = v as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plane(h: usize, w: usize) -> Vec<f32> {
        (0..h * w).map(|v| (v * 7 % 11) as f32 + 0.5).collect()
    }

    #[test]
    fn identity_reproduces_the_plane() {
        let src = plane(5, 7);
        let mut dst = vec![0.0; 35];
        affine_plane(&src, (5, 7), &AffineParams::IDENTITY, &mut dst);
        assert_eq!(dst, src);
    }

    #[test]
    fn whole_pixel_shift_moves_and_pads_with_zero() {
        let src = plane(4, 5);
        let mut dst = vec![0.0; 20];
        let p = AffineParams {
            shift: [1.0, -2.0],
            ..AffineParams::IDENTITY
        };
        affine_plane(&src, (4, 5), &p, &mut dst);
        for y in 0..4 {
            for x in 0..5 {
                let (sy, sx) = (y as isize - 1, x as isize + 2);
                let want = if sy < 0 || sx >= 5 {
                    0.0
                } else {
                    src[sy as usize * 5 + sx as usize]
                };
                assert!((dst[y * 5 + x] - want).abs() < 1e-6, "({y}, {x})");
            }
        }
    }

    #[test]
    fn quarter_turn_matches_a_permutation_and_half_pixel_interpolates() {
        // A 90° turn of a square plane about its centre lands on the grid: pixel (y, x) of
        // the output comes from (x, w − 1 − y) (the counter-clockwise turn of augment.rs).
        let src = plane(5, 5);
        let mut dst = vec![0.0; 25];
        let p = AffineParams {
            angle: std::f64::consts::FRAC_PI_2,
            ..AffineParams::IDENTITY
        };
        affine_plane(&src, (5, 5), &p, &mut dst);
        for y in 0..5 {
            for x in 0..5 {
                let want = src[x * 5 + (4 - y)];
                assert!((dst[y * 5 + x] - want).abs() < 1e-5, "({y}, {x})");
            }
        }
        // Half a pixel along columns: the mean of two neighbours.
        let p = AffineParams {
            shift: [0.0, 0.5],
            ..AffineParams::IDENTITY
        };
        affine_plane(&src, (5, 5), &p, &mut dst);
        assert!((dst[7] - (src[6] + src[7]) / 2.0).abs() < 1e-6);
        // Zoom 2 about the centre of a 5×5 plane: output (0, 0) reads input (1, 1).
        let p = AffineParams {
            zoom: 2.0,
            ..AffineParams::IDENTITY
        };
        affine_plane(&src, (5, 5), &p, &mut dst);
        assert!((dst[0] - src[6]).abs() < 1e-6);
    }
}
