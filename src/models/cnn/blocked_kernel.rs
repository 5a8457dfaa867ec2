//! The register-tile kernels of [`super::PackedConv`]: which tile shapes each back-end runs
//! ([`run_avx512`], [`run_avx2`], [`run_tiles`]), and the tile loop itself ([`tiles`]).

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
    let per_slice = job.oh * job.ow;
    let per_image = job.od * per_slice;
    let last_pixel = x.n * per_image - 1;
    let out_depth_border = if conv.volumetric { job.border } else { 0 };
    let ob0 = t.group * t.cb;
    let (pg, jp) = (ob0 / panel, ob0 % panel);
    // The tile's first weight: panel `pg`, block `jp` within it.
    let w0 = conv
        .weight
        .as_ptr()
        .wrapping_add(pg * cbn * taps * cib * w_step + jp * LANES);
    let xp = x.data.as_ptr();
    // The next pixel's image, slice, row and column, stepped one pixel at a time: two
    // divisions per pixel cost 3–7 % of a narrow layer's time (the width-16 ResNet's stem and
    // 3×3s).
    let first = t.first * R;
    let (mut i, q) = (first / per_image, first % per_image);
    let (mut oz, q) = (q / per_slice, q % per_slice);
    let (mut oy, mut ox) = (q / job.ow, q % job.ow);
    for tile in t.first..t.last {
        let mut px = [xp; R];
        let mut out_off = [0usize; R];
        for r in 0..R {
            if tile * R + r > last_pixel {
                // Pixels past the end repeat the last one (computed, never stored).
                px[r] = px[r - 1];
                out_off[r] = out_off[r - 1];
                continue;
            }
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
            ox += 1;
            if ox == job.ow {
                ox = 0;
                oy += 1;
                if oy == job.oh {
                    oy = 0;
                    oz += 1;
                    if oz == job.od {
                        oz = 0;
                        i += 1;
                    }
                }
            }
        }
        // SAFETY: every pointer below stays inside `x` (border ≥ padding, pixels clamped to
        // the batch) or inside the packed weights.
        let mut acc = [[unsafe { V::zero() }; R]; CB];
        let mut w = w0;
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
            // and the packed weights (`[ky][kx][lane]`), so one pass over its `k · cib` values
            // makes the same multiply-adds in the same order as tap by tap, with less loop
            // overhead (most for the stem, whose input block has 1 or 3 lanes).
            for kz in 0..kd {
                for ky in 0..k {
                    let xo = cb * in_plane + kz * in_slice + ky * in_row;
                    let xs: [*const f32; R] = std::array::from_fn(|r| px[r].wrapping_add(xo));
                    unsafe { accumulate::<V, CB, R>(&xs, w, w_step, k * cib, &mut acc) };
                    w = w.wrapping_add(k * cib * w_step);
                }
            }
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
