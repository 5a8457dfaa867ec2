//! Pooling on the channel-blocked layout ([`super::BlockedMap`]): the stem's 3×3 stride-2 max
//! pool and the global average pool before the head.

use super::{BlockedMap, min_chunks_per_task};
use crate::models::cnn::lanes::{Backend, LANES, Lanes, Scalar};
use candle_core::Result;
use rayon::prelude::*;

impl BlockedMap {
    /// Global average pooling: `[n][c]`, each mean summed over rows then columns in order.
    pub(crate) fn global_avg_pool(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.n * self.c];
        let count = (self.h * self.w) as f32;
        for (i, dst) in out.chunks_mut(self.c).enumerate() {
            let img = &self.data[i * self.image()..(i + 1) * self.image()];
            for (ch, v) in dst.iter_mut().enumerate() {
                let mut sum = 0f32;
                for y in 0..self.h {
                    let base = self.offset(ch, y, 0);
                    for x in 0..self.w {
                        sum += img[base + x * self.cib];
                    }
                }
                *v = sum / count;
            }
        }
        out
    }

    /// Max pooling over 3×3 windows with stride 2 and padding 1 (padded taps ignored), as the
    /// ImageNet stem uses; output border `border`. Needs full channel blocks (a convolution's
    /// output always has them).
    pub(crate) fn max_pool_3x3_s2(&self, border: usize) -> Result<BlockedMap> {
        if self.cib != LANES {
            candle_core::bail!("max pool: channel block {} (needs {LANES})", self.cib)
        }
        let (oh, ow) = ((self.h - 1) / 2 + 1, (self.w - 1) / 2 + 1);
        let mut out = BlockedMap::zeros(self.n, self.c, LANES, (oh, ow), border);
        let (in_plane, out_plane) = (self.plane(), out.plane());
        let (in_row, out_row) = (self.row(), out.row());
        let backend = Backend::detect();
        out.data
            .par_chunks_mut(out_plane)
            .with_min_len(min_chunks_per_task(in_plane))
            .zip(self.data.par_chunks(in_plane))
            .for_each(|(dst, src)| {
                for oy in 0..oh {
                    let ys = (2 * oy).saturating_sub(1)..(2 * oy + 2).min(self.h);
                    let from =
                        |y: usize, x: usize| (y + self.border) * in_row + (x + self.border) * LANES;
                    let at = (oy + border) * out_row + border * LANES;
                    let taps = |ox: usize| {
                        let xs = (2 * ox).saturating_sub(1)..(2 * ox + 2).min(self.w);
                        ys.clone()
                            .flat_map(move |y| xs.clone().map(move |x| (y, x)))
                    };
                    // SAFETY: taps lie inside the plane, outputs inside the output row.
                    let row = &mut dst[at..at + ow * LANES];
                    match backend {
                        #[cfg(target_arch = "x86_64")]
                        Backend::Avx512 | Backend::Avx2 => unsafe {
                            pool_row_avx2(src, row, ow, |ox| taps(ox).map(|(y, x)| from(y, x)))
                        },
                        _ => unsafe {
                            pool_row::<Scalar, _>(src, row, ow, |ox| {
                                taps(ox).map(|(y, x)| from(y, x))
                            })
                        },
                    }
                }
            });
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
