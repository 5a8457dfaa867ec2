//! Direct convolution on a channel-blocked layout for batch-norm-folded inference.
//!
//! Principal types: [`BlockedMap`] (activations as `[n][c/8][h + 2b][w + 2b][8]`: channel
//! blocks of [`LANES`], a zero border of `b` pixels so padded taps need no bounds checks) and
//! [`PackedConv`] (weights as `[c_out/8][c_in/8][ky][kx][8 in][8 out]`, bias, residual and ReLU
//! in the epilogue). Volumes (`[n][c/8][d + 2b][h + 2b][w + 2b][8]`, the 3-D ResNet) take the
//! same kernel with one more loop, over the kernel's slices: a 2-D map is a volume of one slice
//! with no depth border, and a 2-D convolution one of kernel depth 1, so a 2-D output's sums
//! and their order are those of the 2-D code. This is the layout onnxruntime's MLAS uses ("NCHWc"): an output pixel's
//! eight channels are one vector, built by broadcasting one input value at a time against eight
//! weights, so no im2col matrix is ever written and narrow layers (8–64 channels, where the
//! GEMM route spent its time lowering) run at the vector unit's rate.
//!
//! A register tile holds `CB` output blocks × `R` output pixels; pixels are numbered across
//! rows (and slices) and images, so 2×2 maps of a batch fill tiles as well as 64×64 maps do.
//! Every output value is accumulated in the same order — input block, (kernel slice,) kernel
//! row, kernel column, input lane — by lane-wise fused multiply-adds, whatever the tile shape,
//! back-end ([`Backend`]), thread count or batch composition, so an image's outputs are bit-identical across all of these.

use super::fastconv::{Geometry, min_chunks_per_task};
use super::lanes::{Backend, LANES, Lanes, Scalar};
use candle_core::Result;
use rayon::prelude::*;

/// Activations in the blocked layout.
#[derive(Debug, Clone)]
pub(crate) struct BlockedMap {
    data: Vec<f32>,
    n: usize,
    c: usize,
    /// Channels per block in memory: [`LANES`], or the channel count itself for a network
    /// input of fewer channels (a 1- or 3-channel image is not padded to 8).
    cib: usize,
    /// Slices: 1 for a 2-D map.
    d: usize,
    h: usize,
    w: usize,
    border: usize,
    /// A volume: its slices have a border of `border` too (a 2-D map has none, whatever `d`).
    volumetric: bool,
}

impl BlockedMap {
    /// A 2-D map of these dimensions with no values yet (`data` empty): its layout only.
    fn empty(n: usize, c: usize, cib: usize, (h, w): (usize, usize), border: usize) -> Self {
        BlockedMap {
            data: Vec::new(),
            n,
            c,
            cib,
            d: 1,
            h,
            w,
            border,
            volumetric: false,
        }
    }

    /// A map with this map's kind (2-D or volume) and these dimensions, `data` empty; `d` is
    /// ignored for a 2-D map.
    fn empty_like(&self, c: usize, cib: usize, (d, h, w): Extent, border: usize) -> Self {
        let mut map = BlockedMap::empty(self.n, c, cib, (h, w), border);
        if self.volumetric {
            map.d = d;
            map.volumetric = true;
        }
        map
    }

    /// A zero map.
    fn zeros(n: usize, c: usize, cib: usize, (h, w): (usize, usize), border: usize) -> Self {
        BlockedMap::empty(n, c, cib, (h, w), border).filled()
    }

    /// This layout with zero values.
    fn filled(mut self) -> Self {
        self.data = vec![0.0; self.n * self.image()];
        self
    }

    /// A map of `LANES`-channel blocks to be filled by a convolution: only its border is
    /// written here (zeros); the caller writes every interior value, lanes past `c` included,
    /// before [`Unwritten::assume_written`]. A convolution's output is written in full anyway,
    /// and zeroing it first was a serial pass over memory as large as the output (about 45 MB
    /// for one ResNet-50 image, by its layer sizes).
    fn unwritten(n: usize, c: usize, (h, w): (usize, usize), border: usize) -> Unwritten {
        BlockedMap::empty(n, c, LANES, (h, w), border).unwritten_layout()
    }

    /// [`BlockedMap::unwritten`] for this layout (channel block [`LANES`]).
    fn unwritten_layout(self) -> Unwritten {
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
        let mut volume = BlockedMap::empty(n, c, cib, (h, w), border);
        (volume.d, volume.volumetric) = (d, true);
        volume.with_values(x)
    }

    /// This layout holding `x` (channel-major: NCHW, or NCDHW for a volume), zero elsewhere.
    fn with_values(self, x: &[f32]) -> Result<Self> {
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
    fn blocks(&self) -> usize {
        self.c.div_ceil(self.cib)
    }
    /// Values per padded row.
    fn row(&self) -> usize {
        (self.w + 2 * self.border) * self.cib
    }
    /// Values per padded slice (a 2-D map's whole channel block).
    fn slice(&self) -> usize {
        (self.h + 2 * self.border) * self.row()
    }
    /// Values per channel block.
    fn plane(&self) -> usize {
        (self.d + 2 * self.depth_border()) * self.slice()
    }
    /// Border slices on each side: `border` for a volume, none for a 2-D map.
    fn depth_border(&self) -> usize {
        if self.volumetric { self.border } else { 0 }
    }
    /// Values per image.
    fn image(&self) -> usize {
        self.blocks() * self.plane()
    }

    /// Offset within an image of channel `ch` at pixel (`y`, `x`), border excluded.
    fn offset(&self, ch: usize, y: usize, x: usize) -> usize {
        self.offset3(ch, 0, y, x)
    }

    /// Offset within an image of channel `ch` at voxel (`z`, `y`, `x`) (`z` = 0 in a 2-D map),
    /// border excluded.
    fn offset3(&self, ch: usize, z: usize, y: usize, x: usize) -> usize {
        (ch / self.cib) * self.plane()
            + (z + self.depth_border()) * self.slice()
            + (y + self.border) * self.row()
            + (x + self.border) * self.cib
            + ch % self.cib
    }

    /// Whether `other` has this map's kind, dimensions, channel block and border (so one
    /// offset addresses the same value in both, as a residual needs).
    fn same_layout(&self, other: &BlockedMap) -> bool {
        self.dims() == other.dims()
            && (self.d, self.volumetric) == (other.d, other.volumetric)
            && self.cib == other.cib
            && self.border == other.border
    }

    /// Batch size, channels and spatial size (of one slice, for a volume).
    pub(crate) fn dims(&self) -> (usize, usize, usize, usize) {
        (self.n, self.c, self.h, self.w)
    }

    /// Slices: 1 for a 2-D map.
    pub(crate) fn depth(&self) -> usize {
        self.d
    }

    /// Back to NCHW values (NCDHW for a volume: the U-Net's logits; tests).
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
struct Unwritten {
    /// The map; its `data` has the full capacity but length 0 until written.
    map: BlockedMap,
}

impl Unwritten {
    /// The map's layout (dimensions, strides), for computing where to write.
    fn layout(&self) -> &BlockedMap {
        &self.map
    }

    /// Where its values start.
    fn as_mut_ptr(&mut self) -> *mut f32 {
        self.map.data.as_mut_ptr()
    }

    /// The map, once every value is written.
    ///
    /// # Safety
    /// Every interior value of every channel block (padded lanes included) was written
    /// through [`Unwritten::as_mut_ptr`].
    unsafe fn assume_written(mut self) -> BlockedMap {
        let len = self.map.n * self.map.image();
        // SAFETY: the border was written by `unwritten`, the interior by the caller, and
        // `unwritten` reserved exactly this length.
        unsafe { self.map.data.set_len(len) };
        self.map
    }
}

/// A folded convolution packed for [`BlockedMap`] inputs of a given channel block.
#[derive(Debug, Clone)]
pub(crate) struct PackedConv {
    /// `[c_out/8/P][c_in blocks][kz][ky][kx][cib][P][8]` (no `kz` in 2-D) with `P` =
    /// [`panel_blocks`]: the weights
    /// of `P` output blocks side by side, so a tile walks them with one pointer. Zero where a
    /// channel does not exist.
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
        let od = if self.volumetric {
            g.out_size(x.d, x.w)?.0
        } else {
            1
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

#[path = "blocked_kernel.rs"]
mod kernel;
#[cfg(target_arch = "x86_64")]
use kernel::{run_avx2, run_avx512};
use kernel::{run_tiles, zmm_tile_pixels};
#[path = "blocked_concat.rs"]
mod concat;
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
