//! Winograd F(2×2, 3×3) convolution on the channel-blocked layout, for the 3×3, stride-1,
//! padding-1 convolutions of a folded ResNet.
//!
//! Principal type: [`WinogradConv`]. Each 2×2 block of outputs ("tile") is computed from the
//! 4×4 input patch around it as `Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A` (Lavin & Gray 2016): 16
//! multiply-adds per input channel and tile instead of 36, 2.25× fewer. The 16 element-wise
//! products, summed over input channels, are 16 independent 1×1 convolutions over the tiles,
//! which the blocked direct convolution's register tiles compute ([`PackedConv`]).
//!
//! Tiles are numbered across rows and images and taken in chunks that fit in cache: transform
//! the chunk's patches (`Bᵀ d B`, additions only), run the 16 products, transform back (`Aᵀ M A`,
//! additions only) and add bias, residual and ReLU. Every output is computed by the same
//! sequence of roundings whatever the chunk, the thread or the back-end, so, as with the
//! direct convolution, results are bit-identical across back-ends, thread counts and batch
//! compositions. They differ from the direct convolution's in the last bits.

use super::{BlockedMap, PackedConv, Raw, serial_below_macs};
use crate::models::cnn::lanes::{Backend, LANES, Lanes, Scalar};
use candle_core::Result;
use rayon::prelude::*;

/// Transform points: a 4×4 patch per tile.
const POINTS: usize = 16;

/// Tiles per chunk: the chunk's transformed inputs and products (16 × tiles × channels) stay
/// in the second-level cache for the channel counts of ResNet's early stages.
const CHUNK_TILES: usize = 60;

/// Chunks are never smaller than this (two register tiles of pixels), however many threads.
const MIN_CHUNK_TILES: usize = 10;

/// A folded 3×3, stride-1, padding-1 convolution in Winograd form.
#[derive(Debug, Clone)]
pub(crate) struct WinogradConv {
    /// One 1×1 convolution per transform point, weights `(G g Gᵀ)[point]`, zero bias.
    points: Vec<PackedConv>,
    /// `[c_out/8 · 8]`, zero past `c_out`.
    bias: Vec<f32>,
    c_in: usize,
    c_out: usize,
}

/// The scratch of one chunk: transformed inputs and products, one map per point, each
/// `[channel blocks][tiles][8]`.
#[derive(Default)]
struct Scratch {
    inputs: Vec<BlockedMap>,
    products: Vec<BlockedMap>,
}

impl BlockedMap {
    /// Reshapes a scratch map to one row of `width` pixels and `c` channels without a border,
    /// keeping its allocation. Values are left as they were: callers overwrite all of them.
    fn refit(&mut self, c: usize, width: usize) {
        self.n = 1;
        self.c = c;
        self.cib = LANES;
        self.h = 1;
        self.w = width;
        self.border = 0;
        self.data.resize(c.div_ceil(LANES) * width * LANES, 0.0);
    }
}

impl Scratch {
    fn fit(&mut self, c_in: usize, c_out: usize, width: usize) {
        let empty = || BlockedMap::zeros(1, LANES, LANES, (1, 0), 0);
        self.inputs.resize_with(POINTS, empty);
        self.products.resize_with(POINTS, empty);
        for map in &mut self.inputs {
            map.refit(c_in, width);
        }
        for map in &mut self.products {
            map.refit(c_out, width);
        }
    }
}

/// What a chunk reads and writes.
struct Layer<'a> {
    x: &'a BlockedMap,
    residual: Option<&'a BlockedMap>,
    relu: bool,
    out: Raw,
    out_border: usize,
    out_row: usize,
    out_plane: usize,
    out_image: usize,
    /// Tiles per row and per image.
    tw: usize,
    per_image: usize,
}

impl Layer<'_> {
    /// Image, output row and column of tile `t`'s top-left output.
    fn tile(&self, t: usize) -> (usize, usize, usize) {
        let (i, q) = (t / self.per_image, t % self.per_image);
        (i, 2 * (q / self.tw), 2 * (q % self.tw))
    }
}

impl WinogradConv {
    /// From PyTorch-ordered weights `[c_out, c_in, 3, 3]` and `bias` `[c_out]`.
    pub(crate) fn pack(
        weight: &[f32],
        bias: &[f32],
        (c_out, c_in): (usize, usize),
    ) -> Result<WinogradConv> {
        if weight.len() != c_out * c_in * 9 || bias.len() != c_out {
            candle_core::bail!("winograd conv: weights do not match {c_out}×{c_in}×3²")
        }
        // G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]]; U = G g Gᵀ, in f64 then rounded.
        const G: [[f64; 3]; 4] = [
            [1.0, 0.0, 0.0],
            [0.5, 0.5, 0.5],
            [0.5, -0.5, 0.5],
            [0.0, 0.0, 1.0],
        ];
        let mut per_point = vec![vec![0f32; c_out * c_in]; POINTS];
        for (pair, g) in weight.chunks(9).enumerate() {
            for (a, ga) in G.iter().enumerate() {
                for (b, gb) in G.iter().enumerate() {
                    let mut u = 0f64;
                    for ky in 0..3 {
                        for kx in 0..3 {
                            u += ga[ky] * g[ky * 3 + kx] as f64 * gb[kx];
                        }
                    }
                    per_point[a * 4 + b][pair] = u as f32;
                }
            }
        }
        let zeros = vec![0f32; c_out];
        let points = per_point
            .iter()
            .map(|w| PackedConv::pack(w, &zeros, (c_out, c_in, 1), (1, 0), LANES))
            .collect::<Result<_>>()?;
        let mut padded_bias = vec![0f32; c_out.div_ceil(LANES) * LANES];
        padded_bias[..c_out].copy_from_slice(bias);
        Ok(WinogradConv {
            points,
            bias: padded_bias,
            c_in,
            c_out,
        })
    }

    /// Convolution of `x`, plus bias, plus `residual` (same shape and border as the output),
    /// then ReLU when `relu`; the output gets a zero border of `border` pixels.
    pub(crate) fn forward(
        &self,
        x: &BlockedMap,
        residual: Option<&BlockedMap>,
        relu: bool,
        border: usize,
    ) -> Result<BlockedMap> {
        self.forward_chunked(Backend::detect(), x, residual, relu, border, CHUNK_TILES)
    }

    /// As [`WinogradConv::forward`] on a chosen back-end with chunks of `chunk` tiles.
    pub(crate) fn forward_chunked(
        &self,
        backend: Backend,
        x: &BlockedMap,
        residual: Option<&BlockedMap>,
        relu: bool,
        border: usize,
        chunk: usize,
    ) -> Result<BlockedMap> {
        if x.c != self.c_in || x.cib != LANES || x.border < 1 {
            candle_core::bail!(
                "winograd conv: input of {} channels (block {}, border {}) for a convolution of \
                 {} (block {LANES}, padding 1)",
                x.c,
                x.cib,
                x.border,
                self.c_in
            )
        }
        let mut out = BlockedMap::unwritten(x.n, self.c_out, (x.h, x.w), border);
        if residual.is_some_and(|r| !out.layout().same_layout(r)) {
            candle_core::bail!("winograd conv: residual does not match the output")
        }
        let (th, tw) = (x.h.div_ceil(2), x.w.div_ceil(2));
        let layer = Layer {
            x,
            residual,
            relu,
            out: Raw(out.as_mut_ptr()),
            out_border: border,
            out_row: out.layout().row(),
            out_plane: out.layout().plane(),
            out_image: out.layout().image(),
            tw,
            per_image: th * tw,
        };
        let tiles = x.n * th * tw;
        let macs = tiles * POINTS * self.c_in * self.c_out;
        let serial = macs < serial_below_macs();
        // At least two chunks per thread when there are enough tiles (the chunk size does not
        // change any value, only which thread computes it).
        let threads = if serial {
            1
        } else {
            rayon::current_num_threads()
        };
        // (A requested chunk below the floor is kept as asked: the tests use that.)
        let floor = MIN_CHUNK_TILES.min(chunk).max(1);
        let chunk = chunk.min(tiles.div_ceil(2 * threads)).max(floor);
        let chunks = tiles.div_ceil(chunk);
        let span = |c: usize| (c * chunk, ((c + 1) * chunk).min(tiles));
        if serial {
            let mut scratch = Scratch::default();
            for c in 0..chunks {
                self.chunk(backend, &layer, span(c), &mut scratch, false);
            }
        } else if chunks >= 2 {
            (0..chunks)
                .into_par_iter()
                .for_each_init(Scratch::default, |scratch, c| {
                    self.chunk(backend, &layer, span(c), scratch, false)
                });
        } else {
            // One small chunk: each phase split over threads.
            self.chunk(backend, &layer, (0, tiles), &mut Scratch::default(), true);
        }
        // SAFETY: the chunks cover every tile, and each tile's output transform writes its
        // in-range pixels of every output block, all lanes.
        Ok(unsafe { out.assume_written() })
    }

    /// Tiles `first..last`: input transform, the 16 products, output transform; each phase
    /// split over threads when `parallel`.
    fn chunk(
        &self,
        backend: Backend,
        layer: &Layer<'_>,
        (first, last): (usize, usize),
        scratch: &mut Scratch,
        parallel: bool,
    ) {
        scratch.fit(self.c_in, self.c_out, last - first);
        let (in_blocks, out_blocks) = (self.c_in.div_ceil(LANES), self.c_out.div_ceil(LANES));
        let inputs: [Raw; POINTS] =
            std::array::from_fn(|p| Raw(scratch.inputs[p].data.as_mut_ptr()));
        let transform_in = |b: usize| {
            // SAFETY: block `b` of every input map is written by this call alone; `layer` was
            // validated by `forward_chunked`.
            unsafe { dispatch_in(backend, layer, (first, last), b, &inputs) }
        };
        let products = |(p, (input, product)): (usize, (&BlockedMap, &mut BlockedMap))| {
            self.points[p].pointwise_serial(backend, input, product)
        };
        let transform_out = |products: &[BlockedMap], b: usize| {
            // SAFETY: output block `b` of these tiles is written by this call alone.
            unsafe { dispatch_out(backend, layer, (first, last), b, products, &self.bias) }
        };
        if parallel {
            (0..in_blocks).into_par_iter().for_each(transform_in);
            scratch
                .inputs
                .par_iter()
                .zip(scratch.products.par_iter_mut())
                .enumerate()
                .for_each(products);
            let done = &scratch.products;
            (0..out_blocks)
                .into_par_iter()
                .for_each(|b| transform_out(done, b));
        } else {
            (0..in_blocks).for_each(transform_in);
            scratch
                .inputs
                .iter()
                .zip(scratch.products.iter_mut())
                .enumerate()
                .for_each(products);
            let done = &scratch.products;
            (0..out_blocks).for_each(|b| transform_out(done, b));
        }
    }
}

/// Runs the input transform of channel block `block` on `backend`.
unsafe fn dispatch_in(
    backend: Backend,
    layer: &Layer<'_>,
    span: (usize, usize),
    block: usize,
    inputs: &[Raw; POINTS],
) {
    // SAFETY: the back-end's features are present (it was detected); the rest is the caller's.
    unsafe {
        match backend {
            #[cfg(target_arch = "x86_64")]
            Backend::Avx512 | Backend::Avx2 => input_avx2(layer, span, block, inputs),
            _ => input_transform::<Scalar>(layer, span, block, inputs),
        }
    }
}

/// Runs the output transform of output block `block` on `backend`.
unsafe fn dispatch_out(
    backend: Backend,
    layer: &Layer<'_>,
    span: (usize, usize),
    block: usize,
    products: &[BlockedMap],
    bias: &[f32],
) {
    // SAFETY: as in `dispatch_in`.
    unsafe {
        match backend {
            #[cfg(target_arch = "x86_64")]
            Backend::Avx512 | Backend::Avx2 => output_avx2(layer, span, block, products, bias),
            _ => output_transform::<Scalar>(layer, span, block, products, bias),
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn input_avx2(layer: &Layer<'_>, span: (usize, usize), block: usize, inputs: &[Raw; 16]) {
    // SAFETY: the caller checked the features.
    unsafe { input_transform::<super::super::lanes::Avx>(layer, span, block, inputs) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn output_avx2(
    layer: &Layer<'_>,
    span: (usize, usize),
    block: usize,
    products: &[BlockedMap],
    bias: &[f32],
) {
    // SAFETY: the caller checked the features.
    unsafe { output_transform::<super::super::lanes::Avx>(layer, span, block, products, bias) }
}

/// `Bᵀ d B` of every tile in `first..last`, channel block `block`, into the points' input maps
/// (`[blocks][tiles][8]`). `Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]]`.
#[inline(always)]
unsafe fn input_transform<V: Lanes>(
    layer: &Layer<'_>,
    (first, last): (usize, usize),
    block: usize,
    inputs: &[Raw; POINTS],
) {
    let x = layer.x;
    let (row, plane, image, b) = (x.row(), x.plane(), x.image(), x.border);
    let width = last - first;
    let src = x.data.as_ptr();
    for t in first..last {
        let (i, oy, ox) = layer.tile(t);
        // The patch starts one pixel up and left of the tile (padding 1, inside the border);
        // taps past the bottom or right edge are the padding's zeros.
        let base = i * image + block * plane + (oy + b - 1) * row + (ox + b - 1) * LANES;
        // SAFETY: taps inside the map or its border are in bounds; the others are not read.
        let d: [[V; 4]; 4] = std::array::from_fn(|r| {
            std::array::from_fn(|c| {
                if oy + r > x.h || ox + c > x.w {
                    unsafe { V::zero() }
                } else {
                    unsafe { V::load(src.add(base + r * row + c * LANES)) }
                }
            })
        });
        // SAFETY (below): lane-wise arithmetic on loaded values; stores stay in the chunk's maps.
        let rows: [[V; 4]; 4] = unsafe {
            let col = |c: usize| {
                [
                    V::sub(d[0][c], d[2][c]),
                    V::add(d[1][c], d[2][c]),
                    V::sub(d[2][c], d[1][c]),
                    V::sub(d[1][c], d[3][c]),
                ]
            };
            let e = [col(0), col(1), col(2), col(3)];
            // e[c][r]: row-combined value r of column c.
            std::array::from_fn(|r| {
                [
                    V::sub(e[0][r], e[2][r]),
                    V::add(e[1][r], e[2][r]),
                    V::sub(e[2][r], e[1][r]),
                    V::sub(e[1][r], e[3][r]),
                ]
            })
        };
        let at = (block * width + (t - first)) * LANES;
        for (r, vr) in rows.iter().enumerate() {
            for (c, v) in vr.iter().enumerate() {
                unsafe { v.store(inputs[r * 4 + c].0.add(at)) };
            }
        }
    }
}

/// `Aᵀ M A` of every tile in `first..last`, output block `block`, plus bias, residual and ReLU,
/// into the output map (outputs past the bottom or right edge are dropped).
/// `Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]]`.
#[inline(always)]
unsafe fn output_transform<V: Lanes>(
    layer: &Layer<'_>,
    (first, last): (usize, usize),
    block: usize,
    products: &[BlockedMap],
    bias: &[f32],
) {
    let (h, w) = (layer.x.h, layer.x.w);
    let width = last - first;
    // SAFETY (whole body): offsets are inside the chunk's product maps, the bias and the
    // output map (only in-range outputs are stored).
    unsafe {
        let bias = V::load(bias.as_ptr().add(block * LANES));
        for t in first..last {
            let at = (block * width + (t - first)) * LANES;
            let m: [V; POINTS] =
                std::array::from_fn(|p| V::load(products[p].data.as_ptr().add(at)));
            // Rows first: s[c] = m0c + m1c + m2c, d[c] = m1c − m2c − m3c.
            let s: [V; 4] = std::array::from_fn(|c| V::add(V::add(m[c], m[4 + c]), m[8 + c]));
            let d: [V; 4] = std::array::from_fn(|c| V::sub(V::sub(m[4 + c], m[8 + c]), m[12 + c]));
            let y = [
                [
                    V::add(V::add(s[0], s[1]), s[2]),
                    V::sub(V::sub(s[1], s[2]), s[3]),
                ],
                [
                    V::add(V::add(d[0], d[1]), d[2]),
                    V::sub(V::sub(d[1], d[2]), d[3]),
                ],
            ];
            let (i, oy, ox) = layer.tile(t);
            for (r, yr) in y.iter().enumerate() {
                if oy + r >= h {
                    break;
                }
                for (c, &v) in yr.iter().enumerate() {
                    if ox + c >= w {
                        break;
                    }
                    let off = i * layer.out_image
                        + block * layer.out_plane
                        + (oy + r + layer.out_border) * layer.out_row
                        + (ox + c + layer.out_border) * LANES;
                    let mut v = V::add(v, bias);
                    if let Some(res) = layer.residual {
                        v = V::add(v, V::load(res.data.as_ptr().add(off)));
                    }
                    if layer.relu {
                        v = V::max(v, V::zero());
                    }
                    v.store(layer.out.0.add(off));
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "winograd_tests.rs"]
mod tests;
