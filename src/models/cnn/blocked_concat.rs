//! Channel rearrangements on the channel-blocked layout ([`super::BlockedMap`]): concatenation
//! along channels (Inception's branches, the U-Net's skip connections) and the 2×2 pixel
//! shuffle that turns a 1×1 product into a 2×2 stride-2 transposed convolution (U-Net).
//!
//! Both only copy values, so they add no rounding.

use super::{BlockedMap, min_chunks_per_task};
use crate::models::cnn::lanes::LANES;
use candle_core::Result;
use rayon::prelude::*;

impl BlockedMap {
    /// The maps `parts` (same batch and spatial size, full channel blocks) concatenated along
    /// channels, in order, with a zero border of `border`.
    pub(crate) fn concat(parts: &[&BlockedMap], border: usize) -> Result<BlockedMap> {
        let Some(first) = parts.first() else {
            candle_core::bail!("concat: no maps")
        };
        let (n, _, h, w) = first.dims();
        for p in parts {
            if (p.n, p.h, p.w) != (n, h, w) || p.cib != LANES {
                candle_core::bail!(
                    "concat: map {:?} (block {}) does not match {:?}",
                    p.dims(),
                    p.cib,
                    first.dims()
                )
            }
        }
        let c = parts.iter().map(|p| p.c).sum();
        let mut out = BlockedMap::zeros(n, c, LANES, (h, w), border);
        let img = out.image();
        let mut data = std::mem::take(&mut out.data);
        data.par_chunks_mut(img)
            .with_min_len(min_chunks_per_task(img))
            .enumerate()
            .for_each(|(i, dst)| {
                let mut at = 0usize;
                for p in parts {
                    let src = &p.data[i * p.image()..(i + 1) * p.image()];
                    if at.is_multiple_of(LANES) {
                        // Whole blocks, a row at a time (their padded lanes are zero, and a later
                        // unaligned part overwrites them).
                        for b in 0..p.blocks() {
                            for y in 0..h {
                                let from = p.offset(b * LANES, y, 0);
                                let to = out.offset(at + b * LANES, y, 0);
                                dst[to..to + w * LANES]
                                    .copy_from_slice(&src[from..from + w * LANES]);
                            }
                        }
                    } else {
                        for ch in 0..p.c {
                            for y in 0..h {
                                let (from, to) = (p.offset(ch, y, 0), out.offset(at + ch, y, 0));
                                for x in 0..w {
                                    dst[to + x * LANES] = src[from + x * LANES];
                                }
                            }
                        }
                    }
                    at += p.c;
                }
            });
        out.data = data;
        Ok(out)
    }

    /// A 2×2 stride-2 transposed convolution's output from the 1×1 product that computes it:
    /// this map has `4 · c_out` channels, channel `(2·dy + dx) · c_out + co` holding output
    /// channel `co` at offset (`dy`, `dx`) of each input pixel's 2×2 block. The result is
    /// `c_out` channels at twice the size, with a zero border of `border`.
    pub(crate) fn pixel_shuffle_2x2(&self, c_out: usize, border: usize) -> Result<BlockedMap> {
        if self.c != 4 * c_out || self.cib != LANES {
            candle_core::bail!(
                "pixel shuffle: {} channels (block {}) for {c_out} outputs",
                self.c,
                self.cib
            )
        }
        let (h, w) = (self.h, self.w);
        let mut out = BlockedMap::zeros(self.n, c_out, LANES, (2 * h, 2 * w), border);
        let img = out.image();
        let mut data = std::mem::take(&mut out.data);
        data.par_chunks_mut(img)
            .with_min_len(min_chunks_per_task(img))
            .enumerate()
            .for_each(|(i, dst)| {
                let src = &self.data[i * self.image()..(i + 1) * self.image()];
                for q in 0..4 {
                    let (dy, dx) = (q / 2, q % 2);
                    if c_out.is_multiple_of(LANES) {
                        for b in 0..c_out / LANES {
                            for y in 0..h {
                                let from = self.offset(q * c_out + b * LANES, y, 0);
                                let to = out.offset(b * LANES, 2 * y + dy, dx);
                                for x in 0..w {
                                    let (f, t) = (from + x * LANES, to + 2 * x * LANES);
                                    dst[t..t + LANES].copy_from_slice(&src[f..f + LANES]);
                                }
                            }
                        }
                    } else {
                        for co in 0..c_out {
                            for y in 0..h {
                                let from = self.offset(q * c_out + co, y, 0);
                                let to = out.offset(co, 2 * y + dy, dx);
                                for x in 0..w {
                                    dst[to + 2 * x * LANES] = src[from + x * LANES];
                                }
                            }
                        }
                    }
                }
            });
        out.data = data;
        Ok(out)
    }
}
