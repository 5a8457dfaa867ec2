//! Direct convolution on a channel-blocked layout for batch-norm-folded inference.
//!
//! Principal types: [`BlockedMap`] (activations as `[n][c/8][h + 2b][w + 2b][8]`: channel
//! blocks of [`LANES`], a zero border of `b` pixels so padded taps need no bounds checks) and
//! [`PackedConv`] (weights as `[c_out/8][c_in/8][ky][kx][8 in][8 out]`, bias, residual and ReLU
//! in the epilogue). This is the layout onnxruntime's MLAS uses ("NCHWc"): an output pixel's
//! eight channels are one vector, built by broadcasting one input value at a time against eight
//! weights, so no im2col matrix is ever written and narrow layers (8–64 channels, where the
//! GEMM route spent its time lowering) run at the vector unit's rate.
//!
//! Volumes (`[n][c/8][d + 2b][h + 2b][w + 2b][8]`, the 3-D ResNet) take the same kernel with
//! one more loop, over the kernel's slices. A 2-D map is a volume of one slice without a depth
//! border and a 2-D convolution one of kernel depth 1, so 2-D outputs keep their sums, in
//! their order.
//!
//! A register tile holds `CB` output blocks × `R` output pixels; pixels are numbered across
//! rows (and slices) and images, so 2×2 maps of a batch fill tiles as well as 64×64 maps do.
//! In a batch they go band by band (corners, edges, interiors of all images; see `order`), and
//! each tile skips the kernel taps that read only the zero border for all its pixels.
//! Every output value is accumulated in the same order — input block, (kernel slice,) kernel
//! row, kernel column, input lane — by lane-wise fused multiply-adds, whatever the tile shape,
//! back-end ([`Backend`]), thread count or batch composition, so an image's outputs are
//! bit-identical across all of these.

use super::fastconv::{Geometry, min_chunks_per_task};
use super::lanes::{Backend, LANES, Lanes, Scalar};
use candle_core::Result;
use rayon::prelude::*;

/// A folded convolution packed for [`BlockedMap`] inputs of a given channel block.
#[derive(Debug, Clone)]
pub(crate) struct PackedConv {
    /// `[c_out/8/P][c_in blocks][kz][ky][kx][cib][P][8]` (no `kz` in 2-D) with `P` =
    /// [`panel_blocks`]: the weights of `P` output blocks side by side, so a tile walks them
    /// with one pointer. Zero where a channel does not exist.
    weight: Vec<f32>,
    /// `[c_out/8 · 8]`, zero past `c_out`.
    bias: Vec<f32>,
    geom: Geometry,
    /// Channels per input block (see [`BlockedMap`]).
    cib: usize,
    /// [`panel_blocks`] of the output blocks.
    panel: usize,
    /// A 3-D convolution, cubic: kernel, stride and padding along depth as along rows.
    volumetric: bool,
}

/// A map's slices, rows and columns.
type Extent = (usize, usize, usize);

/// Where one register tile reads and writes.
struct Job<'a> {
    conv: &'a PackedConv,
    x: &'a BlockedMap,
    residual: Option<&'a BlockedMap>,
    relu: bool,
    out: Raw,
    /// The stride `x` is read with: the convolution's, or 1 where `x` was subsampled for it.
    stride: usize,
    /// Output geometry: `(od, oh, ow)` (`od` = 1 in 2-D), border, values per row, per slice,
    /// per block plane, per image.
    od: usize,
    oh: usize,
    ow: usize,
    border: usize,
    out_row: usize,
    out_slice: usize,
    out_plane: usize,
    out_image: usize,
}

/// The output buffer, written by disjoint tiles from several threads.
#[derive(Clone, Copy)]
struct Raw(*mut f32);
// SAFETY: each (output block, pixel) is written by exactly one tile, and the buffer outlives
// the parallel loop that writes it.
unsafe impl Send for Raw {}
unsafe impl Sync for Raw {}

/// Output blocks packed side by side: 4, 2 or 1, the largest dividing `obn`. Register tiles
/// take at most this many blocks.
fn panel_blocks(obn: usize) -> usize {
    [4, 2, 1]
        .into_iter()
        .find(|p| obn.is_multiple_of(*p))
        .unwrap_or(1)
}

/// Input bytes of one tile range: about a quarter of a second-level cache (1 MB on Zen 4,
/// 1–2 MB on recent Intel cores), leaving room for the weight panel of a block group.
const RANGE_INPUT_BYTES: usize = 256 << 10;

/// How far ahead of a tile's first input pixel its next tiles' lines are prefetched, in
/// values: two tiles of five 8-lane pixels.
const PREFETCH_AHEAD: usize = 2 * 5 * LANES;

impl PackedConv {
    /// From PyTorch-ordered weights `[c_out, c_in, k, k]` and `bias` `[c_out]`, for inputs whose
    /// channel block is `cib` (see [`BlockedMap`]).
    pub(crate) fn pack(
        weight: &[f32],
        bias: &[f32],
        dims: (usize, usize, usize),
        (stride, padding): (usize, usize),
        cib: usize,
    ) -> Result<PackedConv> {
        PackedConv::pack_taps(weight, bias, dims, (stride, padding), cib, false)
    }

    /// As [`PackedConv::pack`] for a cubic 3-D convolution: weights `[c_out, c_in, k, k, k]`,
    /// the same stride and padding along every axis, for volume inputs.
    pub(crate) fn pack_volume(
        weight: &[f32],
        bias: &[f32],
        dims: (usize, usize, usize),
        (stride, padding): (usize, usize),
        cib: usize,
    ) -> Result<PackedConv> {
        PackedConv::pack_taps(weight, bias, dims, (stride, padding), cib, true)
    }

    fn pack_taps(
        weight: &[f32],
        bias: &[f32],
        (c_out, c_in, kernel): (usize, usize, usize),
        (stride, padding): (usize, usize),
        cib: usize,
        volumetric: bool,
    ) -> Result<PackedConv> {
        let kd = if volumetric { kernel } else { 1 };
        let taps = kd * kernel * kernel;
        if weight.len() != c_out * c_in * taps || bias.len() != c_out || cib == 0 {
            candle_core::bail!("packed conv: weights do not match {c_out}×{c_in}×{taps} taps")
        }
        let (obn, cbn) = (c_out.div_ceil(LANES), c_in.div_ceil(cib));
        let panel = panel_blocks(obn);
        let mut packed = vec![0f32; obn * cbn * taps * cib * LANES];
        for co in 0..c_out {
            let (ob, lane) = (co / LANES, co % LANES);
            let (pg, jp) = (ob / panel, ob % panel);
            for ci in 0..c_in {
                let (cb, il) = (ci / cib, ci % cib);
                for t in 0..taps {
                    let row = ((pg * cbn + cb) * taps + t) * cib + il;
                    packed[(row * panel + jp) * LANES + lane] = weight[(co * c_in + ci) * taps + t];
                }
            }
        }
        let mut padded_bias = vec![0f32; obn * LANES];
        padded_bias[..c_out].copy_from_slice(bias);
        Ok(PackedConv {
            weight: packed,
            bias: padded_bias,
            geom: Geometry {
                c_in,
                c_out,
                kernel,
                stride: stride.max(1),
                padding,
            },
            cib,
            panel,
            volumetric,
        })
    }

    /// Kernel slices: the kernel size for a 3-D convolution, 1 for a 2-D one.
    fn kernel_depth(&self) -> usize {
        if self.volumetric { self.geom.kernel } else { 1 }
    }

    /// Taps per input channel.
    fn taps(&self) -> usize {
        self.kernel_depth() * self.geom.kernel * self.geom.kernel
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
        self.forward_with(Backend::detect(), x, residual, relu, border)
    }

    /// As [`PackedConv::forward`] on a chosen back-end.
    pub(crate) fn forward_with(
        &self,
        backend: Backend,
        x: &BlockedMap,
        residual: Option<&BlockedMap>,
        relu: bool,
        border: usize,
    ) -> Result<BlockedMap> {
        let g = self.geom;
        if x.volumetric != self.volumetric {
            candle_core::bail!(
                "packed conv: a {} input for a {} convolution",
                if x.volumetric { "3-D" } else { "2-D" },
                if self.volumetric { "3-D" } else { "2-D" }
            )
        }
        if x.c != g.c_in || x.cib != self.cib || x.border < g.padding {
            candle_core::bail!(
                "packed conv: input of {} channels (block {}, border {}) for a convolution of {} \
                 (block {}, padding {})",
                x.c,
                x.cib,
                x.border,
                g.c_in,
                self.cib,
                g.padding
            )
        }
        let (oh, ow) = g.out_size(x.h, x.w)?;
        let od = match (self.volumetric, g.out_len(x.d)) {
            (false, _) => 1,
            (true, Some(od)) => od,
            (true, None) => candle_core::bail!(
                "packed conv: {} slices, fewer than the kernel {}",
                x.d,
                g.kernel
            ),
        };
        let mut out = x
            .empty_like(g.c_out, LANES, (od, oh, ow), border)
            .unwritten_layout();
        if residual.is_some_and(|r| !out.layout().same_layout(r)) {
            candle_core::bail!("packed conv: residual does not match the output")
        }
        // A strided 1×1 convolution runs as a stride-1 one on the pixels it reads: each output
        // value is the same sum in the same order, so no bit changes.
        let subsampled;
        let (x, stride) = if g.kernel == 1 && g.stride > 1 && g.padding == 0 {
            subsampled = x.subsampled(g.stride, (od, oh, ow));
            (&subsampled, 1)
        } else {
            (x, g.stride)
        };
        let job = Job {
            conv: self,
            x,
            residual,
            relu,
            stride,
            out: Raw(out.as_mut_ptr()),
            od,
            oh,
            ow,
            border,
            out_row: out.layout().row(),
            out_slice: out.layout().slice(),
            out_plane: out.layout().plane(),
            out_image: out.layout().image(),
        };
        job.run(backend, job.pixels() * g.c_out * g.c_in * self.taps());
        // SAFETY: the job's tiles cover every (output block, pixel) of the batch, all lanes.
        Ok(unsafe { out.assume_written() })
    }

    /// Zero padding on each side (the border its input must carry).
    pub(crate) fn padding(&self) -> usize {
        self.geom.padding
    }

    /// `out = x ⊛ self + bias` for a 1×1, stride-1 convolution without padding, on the calling
    /// thread, into `out` (the output's shape, already allocated): Winograd's transform-domain
    /// products ([`winograd`]).
    fn pointwise_serial(&self, backend: Backend, x: &BlockedMap, out: &mut BlockedMap) {
        debug_assert!(self.geom.kernel == 1 && self.geom.stride == 1 && self.geom.padding == 0);
        debug_assert!(x.c == self.geom.c_in && x.cib == self.cib && !x.volumetric);
        debug_assert!(out.dims() == (x.n, self.geom.c_out, x.h, x.w) && out.cib == LANES);
        let job = Job {
            conv: self,
            x,
            residual: None,
            relu: false,
            out: Raw(out.data.as_mut_ptr()),
            stride: 1,
            od: 1,
            oh: x.h,
            ow: x.w,
            border: out.border,
            out_row: out.row(),
            out_slice: out.slice(),
            out_plane: out.plane(),
            out_image: out.image(),
        };
        job.run(backend, 0);
    }
}

/// A group of `cb` output blocks, and a range of tiles of `r` pixels.
#[derive(Debug, Clone, Copy)]
struct Tiles {
    cb: usize,
    r: usize,
    group: usize,
    first: usize,
    last: usize,
}

impl Job<'_> {
    /// Runs the job on `backend`: on the calling thread when it has fewer than
    /// [`SERIAL_BELOW_MACS`] multiply-adds, else in parallel.
    fn run(&self, backend: Backend, macs: usize) {
        match backend {
            #[cfg(target_arch = "x86_64")]
            Backend::Avx512 => {
                // SAFETY: `Backend::Avx512` is only chosen when the CPU has these features.
                let run = |t| unsafe { run_avx512(self, t) };
                let r = zmm_tile_pixels(self.pixels());
                let one_block = if r == 4 { 4 } else { 8 };
                self.dispatch(&[(4, r), (2, r), (1, one_block)], macs, run)
            }
            #[cfg(target_arch = "x86_64")]
            Backend::Avx2 => {
                // SAFETY: `Backend::Avx2` is only chosen when the CPU has AVX2 and FMA.
                let run = |t| unsafe { run_avx2(self, t) };
                // A job of at most four pixels (a ResNet's last stage at batch 1) gets 4-pixel
                // tiles: in larger ones, most multiply-adds would be for padding pixels.
                if self.pixels() <= 4 {
                    self.dispatch(&[(2, 4), (1, 4)], macs, run)
                } else {
                    self.dispatch(&[(2, 6), (1, 8)], macs, run)
                }
            }
            _ => {
                // SAFETY: the scalar back-end needs no CPU feature.
                let run = |t| unsafe { run_tiles::<Scalar>(self, t) };
                self.dispatch(&[(1, 4)], macs, run)
            }
        }
    }

    /// Output pixels (voxels) of the job, all images.
    fn pixels(&self) -> usize {
        self.x.n * self.od * self.oh * self.ow
    }

    /// Splits the work into items of (tile range, span of block groups) — tile shape the first
    /// of `shapes` whose block count divides the output blocks — and runs them, in parallel when
    /// large. Within an item every group sweeps the same tiles, so a range's input is read from
    /// cache by all groups but the first (the groups of a 1×1 convolution with many input
    /// channels otherwise each streamed the whole input from memory, at 8–16 G multiply-adds/s
    /// instead of 30–50). How many ranges and spans: [`item_split`].
    fn dispatch(&self, shapes: &[(usize, usize)], macs: usize, run: impl Fn(Tiles) + Sync) {
        let g = self.conv.geom;
        let obn = g.c_out.div_ceil(LANES);
        let (cb, r) = shapes
            .iter()
            .copied()
            .find(|&(cb, _)| self.conv.panel.is_multiple_of(cb))
            .unwrap_or((1, shapes[shapes.len() - 1].1));
        let pixels = self.pixels();
        let tiles = pixels.div_ceil(r);
        let groups = obn / cb;
        let serial = macs < serial_below_macs();
        let threads = if serial {
            1
        } else {
            rayon::current_num_threads()
        };
        // Input values a tile reads (taps overlap, strides skip: pixels × stride² × channels,
        // stride³ for a volume).
        let in_values = self.x.blocks() * self.x.cib;
        let strides = self.stride.pow(if self.conv.volumetric { 3 } else { 2 });
        let tile_bytes = r * strides * in_values * 4;
        let group_weight_bytes = in_values * self.conv.taps() * cb * LANES * 4;
        // About eight items per thread, so uneven items still balance.
        let (ranges, spans) = item_split(ItemSplit {
            tiles,
            groups,
            max_per_range: (RANGE_INPUT_BYTES / tile_bytes).max(1),
            items: 8 * threads,
            input_bytes: tiles * tile_bytes,
            weight_bytes: groups * group_weight_bytes,
        });
        // Ranges and spans as even as whole tiles and groups allow.
        let item = |k: usize| {
            let (range, span) = (k / spans, k % spans);
            let (first, last) = (range * tiles / ranges, (range + 1) * tiles / ranges);
            for group in span * groups / spans..(span + 1) * groups / spans {
                run(Tiles {
                    cb,
                    r,
                    group,
                    first,
                    last,
                });
            }
        };
        if serial {
            (0..ranges * spans).for_each(item);
        } else {
            (0..ranges * spans).into_par_iter().for_each(item);
        }
    }
}

#[path = "blocked_map.rs"]
mod map;
pub(crate) use map::BlockedMap;
#[path = "blocked_kernel.rs"]
mod kernel;
#[cfg(target_arch = "x86_64")]
use kernel::{run_avx2, run_avx512};
use kernel::{run_tiles, zmm_tile_pixels};
#[path = "blocked_concat.rs"]
mod concat;
#[path = "blocked_order.rs"]
mod order;
#[path = "blocked_threads.rs"]
mod threads;
use threads::{ItemSplit, item_split};
pub(crate) use threads::{Unsplit, batch_pass, serial_below_macs};
#[path = "blocked_pool.rs"]
mod pool;
#[path = "winograd.rs"]
pub(crate) mod winograd;

#[cfg(test)]
#[path = "blocked_tests.rs"]
mod tests;
#[cfg(test)]
#[path = "blocked_volume_tests.rs"]
mod volume_tests;
