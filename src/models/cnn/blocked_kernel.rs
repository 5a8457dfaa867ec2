//! The register-tile kernels of [`super::PackedConv`]: which tile shapes each back-end runs
//! ([`run_avx512`], [`run_avx2`], [`run_tiles`]), and the tile loop itself ([`tiles`]).

use super::order::{PixelOrder, TapWindow};
use super::{Job, LANES, Lanes, PREFETCH_AHEAD, Tiles};

/// Pixels per tile of [`Backend::Avx512`]'s 16-lane tiles (one or two vectors per pixel) for
/// a job of `pixels` output pixels: whichever of 8, 7 and 4 computes the fewest padding pixels,
/// the larger on a tie. Eight pixel pointers still fit the general registers (twelve were
/// spilled to the stack), and 2 × 8 tiles beat 2 × 6 and equal the eight-lane 4 × 5 tiles they
/// replaced on the wider nets; 7 fits a 7 × 7 map at batch 1, 4 a 2 × 2 one.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(super) fn zmm_tile_pixels(pixels: usize) -> usize {
    [8, 7, 4]
        .into_iter()
        .min_by_key(|&r| pixels.div_ceil(r) * r)
        .unwrap_or(8)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
pub(super) unsafe fn run_avx512(job: &Job<'_>, t: Tiles) {
    use crate::models::cnn::lanes::{Avx, Zmm};
    // SAFETY: the caller checked the features; `job` was validated by `forward_with`. Each
    // shape `dispatch` can pick for this back-end has its arm (see `run_tiles`).
    unsafe {
        match (t.cb, t.r) {
            (4, 8) => tiles::<Zmm, 2, 8>(job, t),
            (2, 8) => tiles::<Zmm, 1, 8>(job, t),
            (4, 7) => tiles::<Zmm, 2, 7>(job, t),
            (2, 7) => tiles::<Zmm, 1, 7>(job, t),
            (4, 4) => tiles::<Zmm, 2, 4>(job, t),
            (2, 4) => tiles::<Zmm, 1, 4>(job, t),
            (1, 4) => tiles::<Avx, 1, 4>(job, t),
            (1, 8) => tiles::<Avx, 1, 8>(job, t),
            shape => no_arm(shape),
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn run_avx2(job: &Job<'_>, t: Tiles) {
    // SAFETY: as in `run_avx512`.
    unsafe { run_tiles::<crate::models::cnn::lanes::Avx>(job, t) }
}

/// Runs `t` with the tile shape monomorphised.
#[inline(always)]
pub(super) unsafe fn run_tiles<V: Lanes>(job: &Job<'_>, t: Tiles) {
    // SAFETY (all arms): `job` was validated by `forward_with`, so every offset is in bounds.
    unsafe {
        match (t.cb, t.r) {
            (2, 6) => tiles::<V, 2, 6>(job, t),
            (1, 8) => tiles::<V, 1, 8>(job, t),
            (2, 4) => tiles::<V, 2, 4>(job, t),
            (1, 4) => tiles::<V, 1, 4>(job, t),
            shape => no_arm(shape),
        }
    }
}

/// A tile shape that `Job::run` offers but no kernel table has. Running another shape instead
/// would number pixels for one `R` and compute another, covering the wrong pixels, so this is
/// a panic in every build, not a fallback.
#[cold]
fn no_arm((cb, r): (usize, usize)) -> ! {
    panic!("blocked convolution: no kernel for {cb}-block × {r}-pixel tiles")
}

/// Computes tiles `t.first..t.last` of block group `t.group`: `R` pixels × `CB` vectors of
/// `V::BLOCKS` output blocks each (`t.cb` blocks in all).
#[inline(always)]
unsafe fn tiles<V: Lanes, const CB: usize, const R: usize>(job: &Job<'_>, t: Tiles) {
    // SAFETY: as the caller's.
    unsafe {
        if banded(job, R) {
            tiles_in::<V, CB, R, true>(job, t)
        } else {
            tiles_in::<V, CB, R, false>(job, t)
        }
    }
}

/// Whether a job's tiles of `r` pixels take the banded order and skip taps outside the map
/// (see `order`): kernels larger than 1×1, on batches of at least half a tile, whose corner
/// regions fill half a tile or more. Elsewhere the plain order and every tap: at batch 1 the
/// banded order's tiles mostly straddle regions and skip little, and measured 7–15 % slower
/// on the width-16 ResNet-18; the per-tile window alone, in the plain order, cost ResNet-50
/// 3–5 %.
fn banded(job: &Job<'_>, r: usize) -> bool {
    job.conv.geom.kernel > 1 && 2 * job.x.n >= r
}

/// [`tiles`] in the banded order with skipped taps (`BANDED`), or in the plain order with
/// every tap.
#[inline(always)]
unsafe fn tiles_in<V: Lanes, const CB: usize, const R: usize, const BANDED: bool>(
    job: &Job<'_>,
    t: Tiles,
) {
    debug_assert_eq!((CB * V::BLOCKS, R), (t.cb, t.r));
    let conv = job.conv;
    let x = job.x;
    let (k, s, cib) = (conv.geom.kernel, job.stride, conv.cib);
    let (cbn, taps, kd) = (x.blocks(), conv.taps(), conv.kernel_depth());
    let (in_row, in_slice, in_plane, in_image) = (x.row(), x.slice(), x.plane(), x.image());
    let panel = conv.panel;
    let w_step = panel * LANES;
    let origin = x.border - conv.geom.padding;
    // A volume's first slice read (a 2-D map has one slice and no depth border: 0).
    let origin_d = if conv.volumetric {
        x.depth_border() - conv.geom.padding
    } else {
        0
    };
    let last_pixel = job.pixels() - 1;
    let out_depth_border = if conv.volumetric { job.border } else { 0 };
    let ob0 = t.group * t.cb;
    let (pg, jp) = (ob0 / panel, ob0 % panel);
    // The tile's first weight: panel `pg`, block `jp` within it.
    let w0 = conv
        .weight
        .as_ptr()
        .wrapping_add(pg * cbn * taps * cib * w_step + jp * LANES);
    let xp = x.data.as_ptr();
    // Pixels in the banded order or the plain one (see `order`). The cursor steps one pixel at
    // a time: two divisions per pixel cost 3–7 % of a narrow layer's time (the width-16
    // ResNet's stem and 3×3s).
    let p = conv.geom.padding;
    let (outs, ins) = ((job.od, job.oh, job.ow), (x.d, x.h, x.w));
    let order = if BANDED {
        PixelOrder::banded(x.n, outs, ins, (kd, k, s, p))
    } else {
        PixelOrder::plain(x.n, outs)
    };
    let mut c = order.seek(t.first * R);
    for tile in t.first..t.last {
        let mut px = [xp; R];
        let mut out_off = [0usize; R];
        // The tile's smallest and largest slice, row and column.
        let mut lo = (usize::MAX, usize::MAX, usize::MAX);
        let mut hi = (0, 0, 0);
        for r in 0..R {
            if tile * R + r > last_pixel {
                // Pixels past the end repeat the last one (computed, never stored).
                px[r] = px[r - 1];
                out_off[r] = out_off[r - 1];
                continue;
            }
            let (i, oz, oy, ox) = (c.i, c.z, c.y, c.x);
            px[r] = xp.wrapping_add(
                i * in_image
                    + (oz * s + origin_d) * in_slice
                    + (oy * s + origin) * in_row
                    + (ox * s + origin) * cib,
            );
            out_off[r] = i * job.out_image
                + (oz + out_depth_border) * job.out_slice
                + (oy + job.border) * job.out_row
                + (ox + job.border) * LANES;
            if BANDED {
                lo = (lo.0.min(oz), lo.1.min(oy), lo.2.min(ox));
                hi = (hi.0.max(oz), hi.1.max(oy), hi.2.max(ox));
            }
            order.step(&mut c);
        }
        let window = if BANDED {
            TapWindow::of_extent(lo, hi, ins, (kd, k, s, p))
        } else {
            TapWindow {
                z: (0, kd),
                y: (0, k),
                x: (0, k),
            }
        };
        // SAFETY: every pointer below stays inside `x` (border ≥ padding, pixels clamped to
        // the batch) or inside the packed weights.
        let mut acc = [[unsafe { V::zero() }; R]; CB];
        let ((kz0, kz1), (ky0, ky1), (kx0, kx1)) = (window.z, window.y, window.x);
        let row_values = kx1.saturating_sub(kx0) * cib;
        // The window's first value in each input block and its first weight; pointers then
        // step, as per-row index arithmetic cost a 1×1 tile (16 values a row) a few percent.
        let first_x = kz0 * in_slice + ky0 * in_row + kx0 * cib;
        let (row_w, slice_w) = (k * cib * w_step, k * k * cib * w_step);
        let mut block_w = w0.wrapping_add(((kz0 * k + ky0) * k + kx0) * cib * w_step);
        for cb in 0..cbn {
            if k == 1 {
                // A 1×1 tile reads its pixels from as many planes as there are input blocks,
                // and does little work per value; hardware prefetchers do not follow that many
                // streams (see `dispatch`), so ask for the next tiles' lines ahead of time.
                let ahead = px[0].wrapping_add(cb * in_plane + PREFETCH_AHEAD * s);
                for line in 0..3 * s {
                    V::prefetch(ahead.wrapping_add(line * 16));
                }
            }
            // A kernel row's taps are adjacent in both the input row (pixel-major, lanes inside)
            // and the packed weights (`[ky][kx][lane]`), so one pass over its taps' values
            // makes the same multiply-adds in the same order as tap by tap, with less loop
            // overhead (most for the stem, whose input block has 1 or 3 lanes). Slices, rows
            // and columns outside the tile's window only add zero products, and are skipped.
            let mut slice_x = cb * in_plane + first_x;
            let mut slice_wp = block_w;
            for _ in kz0..kz1 {
                let (mut xo, mut w) = (slice_x, slice_wp);
                for _ in ky0..ky1 {
                    let xs: [*const f32; R] = std::array::from_fn(|r| px[r].wrapping_add(xo));
                    unsafe { accumulate::<V, CB, R>(&xs, w, w_step, row_values, &mut acc) };
                    xo += in_row;
                    w = w.wrapping_add(row_w);
                }
                slice_x += in_slice;
                slice_wp = slice_wp.wrapping_add(slice_w);
            }
            block_w = block_w.wrapping_add(kd * slice_w);
        }
        let stored = (last_pixel + 1 - tile * R).min(R);
        let plane = job.out_plane;
        for (j, acc_j) in acc.iter().enumerate() {
            let ob = ob0 + j * V::BLOCKS;
            let bias = unsafe { V::load(conv.bias.as_ptr().add(ob * LANES)) };
            for (r, &a) in acc_j.iter().enumerate().take(stored) {
                let at = ob * plane + out_off[r];
                let mut y = unsafe { V::add(a, bias) };
                if let Some(res) = job.residual {
                    y = unsafe { V::add(y, V::load_blocks(res.data.as_ptr().add(at), plane)) };
                }
                if job.relu {
                    y = unsafe { V::max(y, V::zero()) };
                }
                unsafe { y.store_blocks(job.out.0.add(at), plane) };
            }
        }
    }
}

/// The innermost loop: for each of `cib` consecutive input values (the lanes of a kernel row's
/// taps), `CB` weight vectors (one pointer, `w_step` apart per value) against the `R` pixels'
/// broadcast inputs.
#[inline(always)]
unsafe fn accumulate<V: Lanes, const CB: usize, const R: usize>(
    xs: &[*const f32; R],
    w: *const f32,
    w_step: usize,
    cib: usize,
    acc: &mut [[V; R]; CB],
) {
    let mut w = w;
    for ci in 0..cib {
        // SAFETY: the caller keeps `xs[r] + ci` and vector `j`'s weights (`8 · BLOCKS` values
        // from `w + j · 8 · BLOCKS`) in bounds.
        let wv: [V; CB] = std::array::from_fn(|j| unsafe { V::load(w.add(j * V::BLOCKS * LANES)) });
        for r in 0..R {
            let xv = unsafe { V::splat(xs[r].add(ci)) };
            for j in 0..CB {
                acc[j][r] = unsafe { V::fma(xv, wv[j], acc[j][r]) };
            }
        }
        w = w.wrapping_add(w_step);
    }
}
