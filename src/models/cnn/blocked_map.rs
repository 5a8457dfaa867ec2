//! The channel-blocked activation layout of [`super`]: [`BlockedMap`] (2-D maps and volumes,
//! their zero borders, strides and offsets, conversion from and to channel-major values) and
//! [`Unwritten`], a map whose interior a convolution is about to write.

use super::{Extent, min_chunks_per_task};
use crate::models::cnn::lanes::LANES;
use candle_core::Result;
use rayon::prelude::*;

/// Activations in the blocked layout.
#[derive(Debug, Clone)]
pub(crate) struct BlockedMap {
    pub(super) data: Vec<f32>,
    pub(super) n: usize,
    pub(super) c: usize,
    /// Channels per block in memory: [`LANES`], or the channel count itself for a network
    /// input of fewer channels (a 1- or 3-channel image is not padded to 8).
    pub(super) cib: usize,
    /// Slices: 1 for a 2-D map.
    pub(super) d: usize,
    pub(super) h: usize,
    pub(super) w: usize,
    pub(super) border: usize,
    /// A volume: its slices have a border of `border` too (a 2-D map has none, whatever `d`).
    pub(super) volumetric: bool,
}

impl BlockedMap {
    /// A 2-D map of these dimensions with no values yet (`data` empty): its layout only.
    pub(super) fn empty(
        n: usize,
        c: usize,
        cib: usize,
        (h, w): (usize, usize),
        border: usize,
    ) -> Self {
        BlockedMap::layout(n, (c, cib), (1, h, w), border, false)
    }

    /// A map's layout, `data` empty: a volume of `d` slices, or (`volumetric` false) a 2-D map,
    /// whose `d` is 1 whatever is passed.
    fn layout(
        n: usize,
        (c, cib): (usize, usize),
        (d, h, w): Extent,
        border: usize,
        volumetric: bool,
    ) -> Self {
        BlockedMap {
            data: Vec::new(),
            n,
            c,
            cib,
            d: if volumetric { d } else { 1 },
            h,
            w,
            border,
            volumetric,
        }
    }

    /// A map with this map's kind (2-D or volume) and these dimensions, `data` empty; `d` is
    /// ignored for a 2-D map.
    pub(super) fn empty_like(
        &self,
        c: usize,
        cib: usize,
        (d, h, w): Extent,
        border: usize,
    ) -> Self {
        BlockedMap::layout(self.n, (c, cib), (d, h, w), border, self.volumetric)
    }

    /// A zero map.
    pub(super) fn zeros(
        n: usize,
        c: usize,
        cib: usize,
        (h, w): (usize, usize),
        border: usize,
    ) -> Self {
        BlockedMap::empty(n, c, cib, (h, w), border).filled()
    }

    /// This layout with zero values.
    pub(super) fn filled(mut self) -> Self {
        self.data = vec![0.0; self.n * self.image()];
        self
    }

    /// A map of `LANES`-channel blocks to be filled by a convolution: only its border is
    /// written here (zeros); the caller writes every interior value, lanes past `c` included,
    /// before [`Unwritten::assume_written`]. A convolution's output is written in full anyway,
    /// and zeroing it first was a serial pass over memory as large as the output (about 45 MB
    /// for one ResNet-50 image, by its layer sizes).
    pub(super) fn unwritten(
        n: usize,
        c: usize,
        (h, w): (usize, usize),
        border: usize,
    ) -> Unwritten {
        BlockedMap::empty(n, c, LANES, (h, w), border).unwritten_layout()
    }

    /// [`BlockedMap::unwritten`] for this layout (channel block [`LANES`]).
    pub(super) fn unwritten_layout(self) -> Unwritten {
        debug_assert_eq!(self.cib, LANES);
        let (h, border) = (self.h, self.border);
        let mut map = self;
        let len = map.n * map.image();
        let mut data = Vec::with_capacity(len);
        let spare = &mut data.spare_capacity_mut()[..len];
        // Debug builds (the tests) fill the interior with NaN, so a value a convolution failed
        // to write cannot pass for a result.
        if cfg!(debug_assertions) {
            spare.fill(std::mem::MaybeUninit::new(f32::NAN));
        }
        if border > 0 {
            let zero = std::mem::MaybeUninit::new(0.0);
            let (row, slice, depth_border) = (map.row(), map.slice(), map.depth_border());
            for plane in spare.chunks_exact_mut(map.plane()) {
                // A volume's first and last `border` slices are all border.
                let (front, rest) = plane.split_at_mut(depth_border * slice);
                let (slices, back) = rest.split_at_mut(map.d * slice);
                if depth_border > 0 {
                    front.fill(zero);
                    back.fill(zero);
                }
                for slice in slices.chunks_exact_mut(slice) {
                    let (top, rest) = slice.split_at_mut(border * row);
                    let (middle, bottom) = rest.split_at_mut(h * row);
                    top.fill(zero);
                    bottom.fill(zero);
                    // Each line's edges, one border pixel (a fixed-size store) at a time: a
                    // fill of a run-time length called memset twice per line.
                    for line in middle.chunks_exact_mut(row) {
                        for b in 0..border {
                            line[b * LANES..][..LANES].copy_from_slice(&[zero; LANES]);
                            line[row - (b + 1) * LANES..][..LANES].copy_from_slice(&[zero; LANES]);
                        }
                    }
                }
            }
        }
        map.data = data;
        Unwritten { map }
    }

    /// From NCHW values `x` of `dims`, with a zero border of `border` pixels.
    pub(crate) fn from_nchw(
        x: &[f32],
        (n, c, h, w): (usize, usize, usize, usize),
        border: usize,
    ) -> Result<Self> {
        let cib = if c < LANES { c } else { LANES };
        BlockedMap::empty(n, c, cib, (h, w), border).with_values(x)
    }

    /// A volume from NCDHW values `x` of `dims`, with a zero border of `border` voxels on
    /// every side.
    pub(crate) fn from_ncdhw(
        x: &[f32],
        (n, c, d, h, w): (usize, usize, usize, usize, usize),
        border: usize,
    ) -> Result<Self> {
        let cib = if c < LANES { c } else { LANES };
        BlockedMap::layout(n, (c, cib), (d, h, w), border, true).with_values(x)
    }

    /// This layout holding `x` (channel-major: NCHW, or NCDHW for a volume), zero elsewhere.
    pub(super) fn with_values(self, x: &[f32]) -> Result<Self> {
        let (n, c, d, h, w) = (self.n, self.c, self.d, self.h, self.w);
        if x.len() != n * c * d * h * w || c == 0 {
            candle_core::bail!("blocked map: {} values for {n}×{c}×{d}×{h}×{w}", x.len())
        }
        let mut map = self.filled();
        let (img, cib) = (map.image(), map.cib);
        let mut data = std::mem::take(&mut map.data);
        data.par_chunks_mut(img)
            .with_min_len(min_chunks_per_task(img))
            .zip(x.par_chunks(c * d * h * w))
            .for_each(|(dst, src)| {
                for (ch, src_plane) in src.chunks(d * h * w).enumerate() {
                    for (z, src_slice) in src_plane.chunks(h * w).enumerate() {
                        for (y, src_row) in src_slice.chunks(w).enumerate() {
                            let base = map.offset3(ch, z, y, 0);
                            if cib == 1 {
                                // One channel per block (a grey-level image): rows are runs.
                                dst[base..base + w].copy_from_slice(src_row);
                                continue;
                            }
                            for (xx, &v) in src_row.iter().enumerate() {
                                dst[base + xx * cib] = v;
                            }
                        }
                    }
                }
            });
        map.data = data;
        Ok(map)
    }

    /// Channel blocks.
    pub(super) fn blocks(&self) -> usize {
        self.c.div_ceil(self.cib)
    }
    /// Values per padded row.
    pub(super) fn row(&self) -> usize {
        (self.w + 2 * self.border) * self.cib
    }
    /// Values per padded slice (a 2-D map's whole channel block).
    pub(super) fn slice(&self) -> usize {
        (self.h + 2 * self.border) * self.row()
    }
    /// Values per channel block.
    pub(super) fn plane(&self) -> usize {
        (self.d + 2 * self.depth_border()) * self.slice()
    }
    /// Border slices on each side: `border` for a volume, none for a 2-D map.
    pub(super) fn depth_border(&self) -> usize {
        if self.volumetric { self.border } else { 0 }
    }
    /// Values per image.
    pub(super) fn image(&self) -> usize {
        self.blocks() * self.plane()
    }

    /// Offset within an image of channel `ch` at pixel (`y`, `x`), border excluded.
    pub(super) fn offset(&self, ch: usize, y: usize, x: usize) -> usize {
        self.offset3(ch, 0, y, x)
    }

    /// Offset within an image of channel `ch` at voxel (`z`, `y`, `x`) (`z` = 0 in a 2-D map),
    /// border excluded.
    pub(super) fn offset3(&self, ch: usize, z: usize, y: usize, x: usize) -> usize {
        (ch / self.cib) * self.plane()
            + (z + self.depth_border()) * self.slice()
            + (y + self.border) * self.row()
            + (x + self.border) * self.cib
            + ch % self.cib
    }

    /// Whether `other` has this map's kind, dimensions, channel block and border (so one
    /// offset addresses the same value in both, as a residual needs).
    pub(super) fn same_layout(&self, other: &BlockedMap) -> bool {
        self.dims() == other.dims()
            && (self.d, self.volumetric) == (other.d, other.volumetric)
            && self.cib == other.cib
            && self.border == other.border
    }

    /// Batch size, channels and spatial size (of one slice, for a volume).
    pub(crate) fn dims(&self) -> (usize, usize, usize, usize) {
        (self.n, self.c, self.h, self.w)
    }

    /// Slices: 1 for a 2-D map (tests).
    #[cfg(test)]
    pub(crate) fn depth(&self) -> usize {
        self.d
    }

    /// Back to NCHW values, NCDHW for a volume (the U-Net's logits; tests).
    pub(crate) fn to_nchw(&self) -> Vec<f32> {
        let (n, c, h, w) = self.dims();
        let mut out = Vec::with_capacity(n * c * self.d * h * w);
        for i in 0..n {
            for ch in 0..c {
                for z in 0..self.d {
                    for y in 0..h {
                        for x in 0..w {
                            out.push(self.data[i * self.image() + self.offset3(ch, z, y, x)]);
                        }
                    }
                }
            }
        }
        out
    }
}

/// A [`BlockedMap`] whose interior is still to be written (see [`BlockedMap::unwritten`]).
pub(super) struct Unwritten {
    /// The map; its `data` has the full capacity but length 0 until written.
    map: BlockedMap,
}

impl Unwritten {
    /// The map's layout (dimensions, strides), for computing where to write.
    pub(super) fn layout(&self) -> &BlockedMap {
        &self.map
    }

    /// Where its values start.
    pub(super) fn as_mut_ptr(&mut self) -> *mut f32 {
        self.map.data.as_mut_ptr()
    }

    /// The map, once every value is written.
    ///
    /// # Safety
    /// Every interior value of every channel block (padded lanes included) was written
    /// through [`Unwritten::as_mut_ptr`].
    pub(super) unsafe fn assume_written(mut self) -> BlockedMap {
        let len = self.map.n * self.map.image();
        // SAFETY: the border was written by `unwritten`, the interior by the caller, and
        // `unwritten` reserved exactly this length.
        unsafe { self.map.data.set_len(len) };
        self.map
    }
}
