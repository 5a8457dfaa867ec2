//! Pooling on the channel-blocked layout ([`super::BlockedMap`]): the 3×3 stride-2 max pool
//! (ResNet and Inception stems, Inception's grid reduction), the 2×2 max pool (U-Net), the 3×3
//! stride-1 average pool (Inception's pool branch), the global average pool before a head, and
//! the subsampling a strided 1×1 convolution reads.

use super::{BlockedMap, Extent, min_chunks_per_task};
use crate::models::cnn::lanes::{Backend, LANES, Lanes, Scalar};
use candle_core::Result;
use rayon::prelude::*;

impl BlockedMap {
    /// Global average pooling: `[n][c]`, each mean summed over slices (a volume's), rows, then
    /// columns in order. A block's lanes are summed side by side, each in that order.
    pub(crate) fn global_avg_pool(&self) -> Vec<f32> {
        let (blocks, cib, plane) = (self.blocks(), self.cib, self.plane());
        let mut out = vec![0f32; self.n * self.c];
        let count = (self.d * self.h * self.w) as f32;
        for (i, dst) in out.chunks_mut(self.c).enumerate() {
            let img = &self.data[i * self.image()..(i + 1) * self.image()];
            for b in 0..blocks {
                let mut sum = [0f32; LANES];
                for z in 0..self.d {
                    for y in 0..self.h {
                        let start = b * plane + self.offset3(0, z, y, 0);
                        for px in img[start..start + self.w * cib].chunks_exact(cib) {
                            for (s, v) in sum.iter_mut().zip(px) {
                                *s += v;
                            }
                        }
                    }
                }
                let lanes = (self.c - b * cib).min(cib);
                for (d, s) in dst[b * cib..b * cib + lanes].iter_mut().zip(sum) {
                    *d = s / count;
                }
            }
        }
        out
    }

    /// Every `stride`-th pixel of each row and column (and slice, in a volume) from the first,
    /// as a map of `(od, oh, ow)` pixels (`od` = 1 in 2-D) with no border: the only input
    /// values a 1×1 convolution of that stride (and no padding) reads, packed so that it can
    /// run as a stride-1 one.
    ///
    /// A strided 1×1 tile takes each pixel's channels from its own cache line, twice as far
    /// apart as the pixels of a stride-1 tile, and measured slower per multiply-add than the
    /// copy costs (ResNet-50's 1024→2048 shortcut at 7×7, 2 threads: 1.55 → 1.09 ms with it).
    pub(crate) fn subsampled(&self, stride: usize, (od, oh, ow): Extent) -> BlockedMap {
        debug_assert!((oh - 1) * stride < self.h && (ow - 1) * stride < self.w);
        debug_assert!((od - 1) * stride < self.d);
        let mut out = self.empty_like(self.c, self.cib, (od, oh, ow), 0);
        let mut data = Vec::with_capacity(out.n * out.image());
        let (cib, plane) = (self.cib, self.plane());
        for image in self.data.chunks_exact(self.image()) {
            for block in image.chunks_exact(plane) {
                for z in 0..out.d {
                    for y in 0..oh {
                        let line = self.offset3(0, z * stride, y * stride, 0);
                        for x in 0..ow {
                            let at = line + x * stride * cib;
                            data.extend_from_slice(&block[at..at + cib]);
                        }
                    }
                }
            }
        }
        out.data = data;
        out
    }

    /// Max pooling over 3×3 windows with stride 2 and padding 1 (padded taps ignored), as the
    /// ImageNet stem uses; output border `border`. A volume is pooled over 3×3×3 windows
    /// likewise. Needs full channel blocks (a convolution's output always has them).
    pub(crate) fn max_pool_3x3_s2(&self, border: usize) -> Result<BlockedMap> {
        if self.cib != LANES {
            candle_core::bail!("max pool: channel block {} (needs {LANES})", self.cib)
        }
        let half = |n: usize| (n - 1) / 2 + 1;
        let (od, oh, ow) = (half(self.d), half(self.h), half(self.w));
        let mut out = self
            .empty_like(self.c, LANES, (od, oh, ow), border)
            .filled();
        let (in_plane, out_plane) = (self.plane(), out.plane());
        let backend = Backend::detect();
        // Input rows and columns a window at output index `o` covers, padding excluded.
        let window = |o: usize, n: usize| (2 * o).saturating_sub(1)..(2 * o + 2).min(n);
        let mut data = std::mem::take(&mut out.data);
        data.par_chunks_mut(out_plane)
            .with_min_len(min_chunks_per_task(in_plane))
            .zip(self.data.par_chunks(in_plane))
            .for_each(|(dst, src)| {
                for (oz, oy) in (0..out.d).flat_map(|z| (0..oh).map(move |y| (z, y))) {
                    // Where each input row of the window starts (at most 3 × 3 in a volume, 3 in
                    // a 2-D map); the columns are then a run along each row.
                    let mut lines = [0usize; 9];
                    let mut count = 0;
                    for z in window(oz, self.d) {
                        for y in window(oy, self.h) {
                            lines[count] = self.offset3(0, z, y, 0);
                            count += 1;
                        }
                    }
                    let lines = &lines[..count];
                    let at = out.offset3(0, oz, oy, 0);
                    let taps = |ox: usize| {
                        let xs = window(ox, self.w);
                        lines
                            .iter()
                            .flat_map(move |&line| xs.clone().map(move |x| line + x * LANES))
                    };
                    // SAFETY: taps lie inside the plane, outputs inside the output row.
                    let row = &mut dst[at..at + ow * LANES];
                    match backend {
                        #[cfg(target_arch = "x86_64")]
                        Backend::Avx512 | Backend::Avx2 => unsafe {
                            pool_row_avx2(src, row, ow, taps)
                        },
                        _ => unsafe { pool_row::<Scalar, _>(src, row, ow, taps) },
                    }
                }
            });
        out.data = data;
        Ok(out)
    }
}

/// One output row of the max pool: for each of `ow` pixels, the lane-wise maximum of the
/// input vectors at the offsets `taps(ox)` yields.
#[inline(always)]
unsafe fn pool_row<V: Lanes, I: Iterator<Item = usize>>(
    src: &[f32],
    row: &mut [f32],
    ow: usize,
    taps: impl Fn(usize) -> I,
) {
    for ox in 0..ow {
        // SAFETY: the caller's offsets are in bounds for 8 values.
        unsafe {
            let mut m = V::splat(&f32::NEG_INFINITY);
            for off in taps(ox) {
                m = V::max(V::load(src.as_ptr().add(off)), m);
            }
            m.store(row.as_mut_ptr().add(ox * LANES));
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn pool_row_avx2<I: Iterator<Item = usize>>(
    src: &[f32],
    row: &mut [f32],
    ow: usize,
    taps: impl Fn(usize) -> I,
) {
    // SAFETY: the caller checked the features.
    unsafe { pool_row::<crate::models::cnn::lanes::Avx, _>(src, row, ow, taps) }
}

impl BlockedMap {
    /// Average pooling over 3×3 windows with stride 1 and padding 1, counting the padded zeros
    /// (PyTorch's default `count_include_pad`), as the Inception blocks' pool branch uses; the
    /// input needs a zero border of at least 1. Summed as the training path sums
    /// (`layers::avg_pool_3x3_s1_p1`): rows `(y − 1 + y) + y + 1`, then columns likewise, then
    /// divided by 9, lane by lane.
    pub(crate) fn avg_pool_3x3_s1(&self, border: usize) -> Result<BlockedMap> {
        if self.border < 1 {
            candle_core::bail!("average pool: input border {} (needs 1)", self.border)
        }
        let (h, w, cib) = (self.h, self.w, self.cib);
        let mut out = BlockedMap::zeros(self.n, self.c, cib, (h, w), border);
        let (in_plane, out_plane) = (self.plane(), out.plane());
        let (in_row, out_row) = (self.row(), out.row());
        let b = self.border;
        // Vertical sums of one row, columns −1..=w.
        let span = (w + 2) * cib;
        out.data
            .par_chunks_mut(out_plane)
            .with_min_len(min_chunks_per_task(in_plane))
            .zip(self.data.par_chunks(in_plane))
            .for_each_init(
                || vec![0f32; span],
                |rows, (dst, src)| {
                    for y in 0..h {
                        let start = |dy: usize| (y + b + dy - 1) * in_row + (b - 1) * cib;
                        let (up, mid, down) = (
                            &src[start(0)..start(0) + span],
                            &src[start(1)..start(1) + span],
                            &src[start(2)..start(2) + span],
                        );
                        for (((r, u), m), d) in rows.iter_mut().zip(up).zip(mid).zip(down) {
                            *r = (u + m) + d;
                        }
                        let at = (y + border) * out_row + border * cib;
                        let dst_row = &mut dst[at..at + w * cib];
                        let (left, centre, right) = (
                            &rows[..w * cib],
                            &rows[cib..(w + 1) * cib],
                            &rows[2 * cib..],
                        );
                        for (((o, l), c), r) in dst_row.iter_mut().zip(left).zip(centre).zip(right)
                        {
                            *o = ((l + c) + r) / 9.0;
                        }
                    }
                },
            );
        Ok(out)
    }

    /// Max pooling over 2×2 windows with stride 2 (the U-Net's down-sampling), output
    /// `⌊h/2⌋ × ⌊w/2⌋` with a zero border of `border`. The maximum follows `maxps`' rule
    /// (`a > b ? a : b`), taps in row order.
    pub(crate) fn max_pool_2x2_s2(&self, border: usize) -> Result<BlockedMap> {
        let (oh, ow, cib) = (self.h / 2, self.w / 2, self.cib);
        if oh == 0 || ow == 0 {
            candle_core::bail!("max pool 2×2: map {}×{} is too small", self.h, self.w)
        }
        let mut out = BlockedMap::zeros(self.n, self.c, cib, (oh, ow), border);
        let (in_plane, out_plane) = (self.plane(), out.plane());
        let (in_row, out_row) = (self.row(), out.row());
        let b = self.border;
        out.data
            .par_chunks_mut(out_plane)
            .with_min_len(min_chunks_per_task(in_plane))
            .zip(self.data.par_chunks(in_plane))
            .for_each(|(dst, src)| {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let at = (oy + border) * out_row + (ox + border) * cib;
                        let tap = |dy: usize, dx: usize| {
                            let from = (2 * oy + dy + b) * in_row + (2 * ox + dx + b) * cib;
                            &src[from..from + cib]
                        };
                        let (t0, t1, t2, t3) = (tap(0, 0), tap(0, 1), tap(1, 0), tap(1, 1));
                        for (l, d) in dst[at..at + cib].iter_mut().enumerate() {
                            let mut m = t0[l];
                            for t in [t1[l], t2[l], t3[l]] {
                                m = if t > m { t } else { m };
                            }
                            *d = m;
                        }
                    }
                }
            });
        Ok(out)
    }
}
