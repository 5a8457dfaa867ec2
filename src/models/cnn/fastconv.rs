//! A fused inference convolution for the CPU: convolution + bias (+ residual) (+ ReLU) in one
//! candle custom op, used by batch-norm-folded networks in evaluation mode (Inception, U-Net;
//! a folded 2-D ResNet runs on [`super::blocked`] instead).
//!
//! Principal type: [`FusedConv`]. candle's own CPU convolution converts every input to NHWC on
//! one thread, re-packs the kernel on every call, writes its output through a transposing copy,
//! and then bias, residual addition and ReLU each take another pass over memory. Here each image
//! is lowered to an im2col matrix straight from NCHW (1×1 stride-1 convolutions skip it), one
//! packed `gemm` (the crate candle itself uses) writes `[c_out, h·w]` directly into the NCHW
//! output, and one epilogue pass adds bias and residual and clamps. Batches of large maps are
//! split over images (one image per task, single-threaded gemm; a single image uses gemm's own
//! threads); small maps (< 1024 output pixels) run the whole batch as one wide GEMM, since a
//! GEMM of a few dozen columns per image is mostly overhead. gemm's k blocking depends on the
//! matrix shape, so an image's outputs can differ in the last bits between batch sizes (never
//! between thread counts or reruns of the same batches).
//! Each output element is one dot product computed in gemm's fixed k order, so results do not
//! depend on the thread count. This is the standard im2col + GEMM lowering (Chellapilla et al.
//! 2006, "High performance convolutional neural networks for document processing").

use super::im2col::Scratch;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// The shape of a 2-D convolution with a square kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub(crate) c_in: usize,
    pub(crate) c_out: usize,
    pub(crate) kernel: usize,
    pub(crate) stride: usize,
    pub(crate) padding: usize,
}

/// Convolution weights folded for inference, with the epilogue settings.
#[derive(Debug, Clone)]
pub struct FusedConv {
    /// `[c_out, c_in·k·k]`, row-major (PyTorch's `[c_out, c_in, k, k]` flattened).
    weight: Vec<f32>,
    bias: Vec<f32>,
    geom: Geometry,
}

/// One application of a [`FusedConv`], with or without the ReLU.
struct Call<'a> {
    conv: &'a FusedConv,
    relu: bool,
}

impl FusedConv {
    /// From a `[c_out, c_in, k, k]` weight and `[c_out]` bias.
    pub fn new(weight: &Tensor, bias: &Tensor, stride: usize, padding: usize) -> Result<FusedConv> {
        let (c_out, c_in, kh, kw) = weight.dims4()?;
        if kh != kw {
            candle_core::bail!("fused conv: square kernels only, got {kh}×{kw}")
        }
        Ok(FusedConv {
            weight: weight
                .flatten_all()?
                .to_dtype(candle_core::DType::F32)?
                .to_vec1()?,
            bias: bias.to_dtype(candle_core::DType::F32)?.to_vec1()?,
            geom: Geometry {
                c_in,
                c_out,
                kernel: kh,
                stride: stride.max(1),
                padding,
            },
        })
    }

    /// The same convolution packed for the channel-blocked layout, for inputs whose channel
    /// block is `cib`.
    pub(crate) fn packed(&self, cib: usize) -> Result<super::blocked::PackedConv> {
        let g = self.geom;
        super::blocked::PackedConv::pack(
            &self.weight,
            &self.bias,
            (g.c_out, g.c_in, g.kernel),
            (g.stride, g.padding),
            cib,
        )
    }

    /// The same convolution in Winograd form (blocked layout), if it is 3×3 with stride 1 and
    /// padding 1.
    pub(crate) fn winograd(&self) -> Option<Result<super::blocked::winograd::WinogradConv>> {
        let g = self.geom;
        (g.kernel == 3 && g.stride == 1 && g.padding == 1).then(|| {
            super::blocked::winograd::WinogradConv::pack(
                &self.weight,
                &self.bias,
                (g.c_out, g.c_in),
            )
        })
    }

    /// Input channels.
    pub(crate) fn in_channels(&self) -> usize {
        self.geom.c_in
    }

    /// Zero padding on each side.
    pub(crate) fn padding(&self) -> usize {
        self.geom.padding
    }

    /// Convolution and bias of `xs` `[b, c_in, h, w]`, then ReLU when `relu`.
    pub fn forward(&self, xs: &Tensor, relu: bool) -> Result<Tensor> {
        xs.contiguous()?
            .apply_op1_no_bwd(&Call { conv: self, relu })
    }

    /// As [`FusedConv::forward`], adding `residual` (of the output's shape) before the ReLU.
    pub fn forward_residual(&self, xs: &Tensor, residual: &Tensor, relu: bool) -> Result<Tensor> {
        xs.contiguous()?
            .apply_op2_no_bwd(&residual.contiguous()?, &Call { conv: self, relu })
    }

    fn run(
        &self,
        input: &[f32],
        dims: (usize, usize, usize, usize),
        residual: Option<&[f32]>,
        relu: bool,
    ) -> Result<(CpuStorage, Shape)> {
        let epilogue = Epilogue {
            bias: Some(&self.bias),
            residual,
            relu,
        };
        let (out, shape) = self.geom.forward(input, dims, &self.weight, epilogue)?;
        Ok((CpuStorage::F32(out), shape))
    }
}

/// Feature maps with fewer output pixels than this run as one whole-batch GEMM.
const WIDE_BELOW_PIXELS: usize = 1024;

/// What is applied to the raw convolution output, in this order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Epilogue<'a> {
    pub(crate) bias: Option<&'a [f32]>,
    pub(crate) residual: Option<&'a [f32]>,
    pub(crate) relu: bool,
}

impl Geometry {
    pub(crate) fn out_size(&self, h: usize, w: usize) -> Result<(usize, usize)> {
        let span = |n: usize| {
            (n + 2 * self.padding)
                .checked_sub(self.kernel)
                .map(|d| d / self.stride + 1)
        };
        match (span(h), span(w)) {
            (Some(oh), Some(ow)) => Ok((oh, ow)),
            _ => candle_core::bail!(
                "conv: input {h}×{w} smaller than the kernel {}",
                self.kernel
            ),
        }
    }

    /// Rows of the im2col matrix: `c_in·k·k`.
    pub(crate) fn depth(&self) -> usize {
        self.c_in * self.kernel * self.kernel
    }

    /// True when the convolution is a plain matrix product over channels.
    pub(crate) fn is_pointwise(&self) -> bool {
        self.kernel == 1 && self.stride == 1 && self.padding == 0
    }

    /// Convolution of NCHW `input` (`dims`) with `weight` `[c_out, depth]`, then `epilogue`.
    pub(crate) fn forward(
        &self,
        input: &[f32],
        dims: (usize, usize, usize, usize),
        weight: &[f32],
        epilogue: Epilogue<'_>,
    ) -> Result<(Vec<f32>, Shape)> {
        let (b, c, h, w) = dims;
        if c != self.c_in || weight.len() != self.c_out * self.depth() {
            candle_core::bail!(
                "conv: {c} input channels and {} weights for geometry {self:?}",
                weight.len()
            )
        }
        let (oh, ow) = self.out_size(h, w)?;
        let (in_len, out_len) = (c * h * w, self.c_out * oh * ow);
        let mut out = vec![0f32; b * out_len];
        if let Some(r) = epilogue.residual
            && r.len() != out.len()
        {
            candle_core::bail!(
                "conv: residual has {} values, output {}",
                r.len(),
                out.len()
            )
        }
        if b > 1 && oh * ow < WIDE_BELOW_PIXELS {
            self.forward_wide(input, (b, h, w), (oh, ow), weight, &mut out, epilogue)?;
            return Ok((out, Shape::from((b, self.c_out, oh, ow))));
        }
        let item = |i: usize, dst: &mut [f32], par: gemm::Parallelism| {
            let x = &input[i * in_len..(i + 1) * in_len];
            let image_epilogue = Epilogue {
                residual: epilogue
                    .residual
                    .map(|r| &r[i * out_len..(i + 1) * out_len]),
                ..epilogue
            };
            self.forward_image(x, (h, w), (oh, ow), weight, dst, image_epilogue, par)
        };
        for_each_image(&mut out, out_len, b, item)?;
        Ok((out, Shape::from((b, self.c_out, oh, ow))))
    }

    /// The whole batch as one GEMM over side-by-side im2col matrices (`[depth, b·P]`), for
    /// small feature maps where a per-image GEMM of `P` columns would be mostly overhead; the
    /// epilogue runs while scattering `[c_out, b·P]` back to NCHW.
    fn forward_wide(
        &self,
        input: &[f32],
        (b, h, w): (usize, usize, usize),
        (oh, ow): (usize, usize),
        weight: &[f32],
        out: &mut [f32],
        epilogue: Epilogue<'_>,
    ) -> Result<()> {
        let pixels = oh * ow;
        let (in_len, out_len, wide) = (self.c_in * h * w, self.c_out * pixels, b * pixels);
        let mut cols = Scratch::take(self.depth() * wide);
        let lowering = self.lowering((h, w), (oh, ow));
        cols.par_chunks_mut(wide)
            .with_min_len(min_chunks_per_task(wide))
            .enumerate()
            .for_each(|(r, row)| {
                for (i, seg) in row.chunks_mut(pixels).enumerate() {
                    lowering.row(&input[i * in_len..(i + 1) * in_len], r, seg);
                }
            });
        let mut product = Scratch::take(self.c_out * wide);
        matmul(
            (self.c_out, wide, self.depth()),
            &mut product,
            (weight, 1, self.depth()),
            (&cols, 1, wide),
            gemm_parallelism(self.c_out, wide, self.depth()),
        )?;
        out.par_chunks_mut(out_len)
            .with_min_len(min_chunks_per_task(out_len))
            .enumerate()
            .for_each(|(i, dst)| {
                for (co, row) in dst.chunks_mut(pixels).enumerate() {
                    let src = &product[co * wide + i * pixels..co * wide + (i + 1) * pixels];
                    let b = epilogue.bias.map_or(0.0, |b| b[co]);
                    let res = epilogue
                        .residual
                        .map(|r| &r[i * out_len + co * pixels..i * out_len + (co + 1) * pixels]);
                    for (j, v) in row.iter_mut().enumerate() {
                        let mut y = src[j] + b;
                        if let Some(r) = res {
                            y += r[j];
                        }
                        *v = if epilogue.relu { y.max(0.0) } else { y };
                    }
                }
            });
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn forward_image(
        &self,
        x: &[f32],
        (h, w): (usize, usize),
        (oh, ow): (usize, usize),
        weight: &[f32],
        dst: &mut [f32],
        epilogue: Epilogue<'_>,
        par: gemm::Parallelism,
    ) -> Result<()> {
        let pixels = oh * ow;
        let col;
        let rhs: &[f32] = if self.is_pointwise() {
            x
        } else {
            let mut buf = Scratch::take(self.depth() * pixels);
            self.im2col(x, (h, w), (oh, ow), &mut buf, pixels);
            col = buf;
            &col
        };
        let par = match par {
            gemm::Parallelism::None => gemm::Parallelism::None,
            _ => gemm_parallelism(self.c_out, pixels, self.depth()),
        };
        // dst[c_out, pixels] = weight[c_out, depth] · rhs[depth, pixels]; all row-major.
        matmul(
            (self.c_out, pixels, self.depth()),
            dst,
            (weight, 1, self.depth()),
            (rhs, 1, pixels),
            par,
        )?;
        for (co, row) in dst.chunks_mut(pixels).enumerate() {
            let b = epilogue.bias.map_or(0.0, |b| b[co]);
            match epilogue.residual {
                Some(r) => {
                    for (v, r) in row.iter_mut().zip(&r[co * pixels..(co + 1) * pixels]) {
                        *v += b + r;
                    }
                }
                None if b != 0.0 => row.iter_mut().for_each(|v| *v += b),
                None => {}
            }
            if epilogue.relu {
                // `max` keeps NaN out of ReLU's output as candle's relu does.
                row.iter_mut().for_each(|v| *v = v.max(0.0));
            }
        }
        Ok(())
    }

    /// Output columns `first..last` whose input column `ox·s + kx − p` lies inside `0..w`.
    pub(super) fn valid_columns(&self, kx: usize, w: usize, ow: usize) -> (usize, usize) {
        let (s, p) = (self.stride, self.padding as isize);
        let first = ((p - kx as isize).max(0) as usize).div_ceil(s);
        let right = w as isize + p - kx as isize;
        let last = if right <= 0 {
            0
        } else {
            (right as usize).div_ceil(s).min(ow)
        };
        (first, last.max(first))
    }

    /// Writes the `[depth, oh·ow]` patches of one NCHW image into `col`, whose rows are
    /// `row_stride` apart (so several images can sit side by side); zero outside the image.
    pub(crate) fn im2col(
        &self,
        x: &[f32],
        (h, w): (usize, usize),
        (oh, ow): (usize, usize),
        col: &mut [f32],
        row_stride: usize,
    ) {
        let lowering = self.lowering((h, w), (oh, ow));
        for r in 0..self.depth() {
            lowering.row(x, r, &mut col[r * row_stride..r * row_stride + oh * ow]);
        }
    }

    /// The adjoint of [`Geometry::im2col`]: adds each patch entry of `col` (rows `row_stride`
    /// apart) back onto the image position it came from, in a fixed order.
    pub(crate) fn col2im_add(
        &self,
        col: &[f32],
        row_stride: usize,
        (h, w): (usize, usize),
        (oh, ow): (usize, usize),
        x: &mut [f32],
    ) {
        let k = self.kernel;
        let (s, p) = (self.stride, self.padding as isize);
        for ci in 0..self.c_in {
            let plane = &mut x[ci * h * w..(ci + 1) * h * w];
            for ky in 0..k {
                for kx in 0..k {
                    let row = ((ci * k + ky) * k + kx) * row_stride;
                    let src = &col[row..row + oh * ow];
                    let (first, last) = self.valid_columns(kx, w, ow);
                    if first == last {
                        continue;
                    }
                    let x0 = ((first * s + kx) as isize - p) as usize;
                    for oy in 0..oh {
                        let iy = (oy * s) as isize + ky as isize - p;
                        if iy < 0 || iy >= h as isize {
                            continue;
                        }
                        let dst = &mut plane[iy as usize * w..(iy as usize + 1) * w];
                        let from = &src[oy * ow + first..oy * ow + last];
                        for (j, v) in from.iter().enumerate() {
                            dst[x0 + j * s] += v;
                        }
                    }
                }
            }
        }
    }
}

/// Runs `item(i, chunk, parallelism)` for every image `i` of a batch: one image per task with a
/// single-threaded gemm when there are at least as many images as threads, otherwise image by
/// image with gemm's own threads. Each output depends on one task only, so the split does not
/// change any value.
pub(crate) fn for_each_image(
    out: &mut [f32],
    per_image: usize,
    batch: usize,
    item: impl Fn(usize, &mut [f32], gemm::Parallelism) -> Result<()> + Sync,
) -> Result<()> {
    let threads = candle_core::utils::get_num_threads();
    if batch >= threads || threads <= 1 {
        out.par_chunks_mut(per_image.max(1))
            .enumerate()
            .try_for_each(|(i, dst)| item(i, dst, gemm::Parallelism::None))
    } else {
        for (i, dst) in out.chunks_mut(per_image.max(1)).enumerate() {
            item(i, dst, gemm::Parallelism::Rayon(threads))?;
        }
        Ok(())
    }
}

/// Below this many multiply-adds a GEMM runs on the calling thread: waking gemm's workers for
/// a small product costs more than it saves (a width-16 ResNet-18 at batch 1 ran twice as slow
/// on 2 threads as on 1). gemm's result does not depend on its thread count, so neither does
/// any value here.
const PARALLEL_MIN_MACS: usize = 1 << 21;

/// Below this many values a memory-bound loop (im2col, an epilogue) stays on one thread.
const PARALLEL_MIN_VALUES: usize = 1 << 15;

/// gemm's threading for an `m×k · k×n` product.
pub(crate) fn gemm_parallelism(m: usize, n: usize, k: usize) -> gemm::Parallelism {
    let threads = candle_core::utils::get_num_threads();
    if threads > 1 && m.saturating_mul(n).saturating_mul(k) >= PARALLEL_MIN_MACS {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    }
}

/// The least number of `chunk`-value chunks one rayon task should take, so that small loops do
/// not split at all.
pub(crate) fn min_chunks_per_task(chunk: usize) -> usize {
    PARALLEL_MIN_VALUES.div_ceil(chunk.max(1))
}

/// `dst[m, n] = lhs[m, k] · rhs[k, n]` (overwriting dst, row-major `[m, n]`), with each operand
/// given as (values, column stride, row stride).
pub(crate) fn matmul(
    mnk: (usize, usize, usize),
    dst: &mut [f32],
    lhs: (&[f32], usize, usize),
    rhs: (&[f32], usize, usize),
    par: gemm::Parallelism,
) -> Result<()> {
    gemm_into(mnk, dst, false, lhs, rhs, par)
}

/// As [`matmul`], adding the product to `dst` when `accumulate`.
pub(crate) fn gemm_into(
    mnk: (usize, usize, usize),
    dst: &mut [f32],
    accumulate: bool,
    lhs: (&[f32], usize, usize),
    rhs: (&[f32], usize, usize),
    par: gemm::Parallelism,
) -> Result<()> {
    gemm_rows_into(mnk, (dst, mnk.1), accumulate, lhs, rhs, par)
}

/// As [`gemm_into`], with the rows of `dst` `dst.1` values apart (a block of a larger
/// row-major matrix). The values do not depend on the stride.
pub(crate) fn gemm_rows_into(
    (m, n, k): (usize, usize, usize),
    (dst, dst_rs): (&mut [f32], usize),
    accumulate: bool,
    lhs: (&[f32], usize, usize),
    rhs: (&[f32], usize, usize),
    par: gemm::Parallelism,
) -> Result<()> {
    let extent = |(v, cs, rs): (&[f32], usize, usize), rows: usize, cols: usize| {
        rows == 0 || cols == 0 || (rows - 1) * rs + (cols - 1) * cs < v.len()
    };
    if dst_rs < n || !extent((dst, 1, dst_rs), m, n) || !extent(lhs, m, k) || !extent(rhs, k, n) {
        candle_core::bail!("conv matmul: operands of {m}×{k}·{k}×{n} out of bounds")
    }
    let depth = pinned_depth_blocks((m, n, k), dst_rs, (lhs.1, lhs.2), (rhs.1, rhs.2));
    for block in 0..k.div_ceil(depth).max(1) {
        let start = block * depth;
        let kb = depth.min(k - start);
        // The first block overwrites dst (unless accumulating); later ones add to it, as
        // gemm's own loop over depth blocks does.
        let add = accumulate || block > 0;
        // SAFETY: the check above keeps every strided access inside the slices (this block's
        // columns of lhs and rows of rhs are a part of them), and dst is exclusively borrowed.
        unsafe {
            gemm::gemm(
                m,
                n,
                kb,
                dst.as_mut_ptr(),
                1,
                dst_rs as isize,
                add,
                lhs.0.as_ptr().wrapping_add(start * lhs.1),
                lhs.1 as isize,
                lhs.2 as isize,
                rhs.0.as_ptr().wrapping_add(start * rhs.2),
                rhs.1 as isize,
                rhs.2 as isize,
                if add { 1.0 } else { 0.0 },
                1.0,
                false,
                false,
                false,
                par,
            );
        }
    }
    Ok(())
}

/// The most depth (k) gemm sums in one block before adding the block to the output, on a
/// first-level data cache of 32 kB, 8-way (Zen 2–4, Intel cores before Ice Lake).
const GEMM_DEPTH_BLOCK: usize = 512;

/// How much of the depth `k` one gemm call may sum at once so that the product's value does
/// not depend on the CPU it runs on: `k` itself, or an even split into blocks of at most
/// [`GEMM_DEPTH_BLOCK`]. Strides are (column, row), as gemm takes them.
///
/// gemm splits a long depth into blocks and adds each block's partial products to the output,
/// so a value's rounding depends on where the blocks end. On its general path it sizes them
/// from the first-level cache it detects: 512 on a 32 kB 8-way cache, 1024 on a 48 kB 12-way
/// one (Zen 5, Intel cores since Ice Lake), so one convolution gave different bits on the two.
/// Split here as gemm splits on a 32 kB cache, every block is at most 512 deep, which gemm
/// sums whole on any cache. Calls that take gemm's other paths (see
/// [`gemm_sizes_depth_by_cache`]) block by fixed sizes and are left whole.
fn pinned_depth_blocks(
    (m, n, k): (usize, usize, usize),
    dst_rs: usize,
    lhs: (usize, usize),
    rhs: (usize, usize),
) -> usize {
    if k > GEMM_DEPTH_BLOCK && gemm_sizes_depth_by_cache((m, n, k), dst_rs, lhs, rhs) {
        k.div_ceil(k.div_ceil(GEMM_DEPTH_BLOCK))
    } else {
        k.max(1)
    }
}

/// Whether gemm 0.19 (f32, x86-64 with FMA) takes its general path for this call (row-major
/// destination, column stride 1), whose depth blocks follow the detected cache, rather than
/// one of the paths it tries first: the depth ≤ 2 outer product, the dot-product kernels for at
/// most 256 outputs, matrix–vector products, and at most 64 × 64 outputs (fixed blocks of 512).
/// Mirrors `gemm_basic_generic`'s order of tests, after gemm transposes a problem whose
/// destination has rows longer than one value.
fn gemm_sizes_depth_by_cache(
    (m, n, k): (usize, usize, usize),
    dst_rs: usize,
    (lhs_cs, lhs_rs): (usize, usize),
    (rhs_cs, rhs_rs): (usize, usize),
) -> bool {
    let (m, n, dst_cs, dst_rs, lhs_cs, lhs_rs, rhs_cs, rhs_rs) = if 1 < dst_rs {
        (n, m, dst_rs, 1, rhs_rs, rhs_cs, lhs_rs, lhs_cs)
    } else {
        (m, n, 1, dst_rs, lhs_cs, lhs_rs, rhs_cs, rhs_rs)
    };
    let horizontal = lhs_cs == 1 && rhs_rs == 1 && m * n <= 256;
    let gemv = (n <= 1 && ((lhs_rs == 1 && dst_rs == 1) || (lhs_cs == 1 && rhs_rs == 1)))
        || (m <= 1 && ((rhs_cs == 1 && dst_cs == 1) || (rhs_rs == 1 && lhs_cs == 1)));
    m > 0 && n > 0 && k > 2 && !horizontal && !gemv && (m > 64 || n > 64)
}

/// The values of a contiguous f32 storage.
pub(crate) fn contiguous_f32<'a>(storage: &'a CpuStorage, layout: &Layout) -> Result<&'a [f32]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&storage.as_slice::<f32>()?[start..end]),
        None => candle_core::bail!("fused conv: input must be contiguous"),
    }
}

impl CustomOp1 for Call<'_> {
    fn name(&self) -> &'static str {
        "radbench-fused-conv"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let dims = layout.shape().dims4()?;
        self.conv
            .run(contiguous_f32(storage, layout)?, dims, None, self.relu)
    }
}

impl CustomOp2 for Call<'_> {
    fn name(&self) -> &'static str {
        "radbench-fused-conv-residual"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let residual = contiguous_f32(s2, l2)?;
        let dims = l1.shape().dims4()?;
        self.conv
            .run(contiguous_f32(s1, l1)?, dims, Some(residual), self.relu)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    fn max_rel(a: &Tensor, b: &Tensor) -> f32 {
        let d: f32 = (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar()
            .unwrap();
        let m: f32 = b.abs().unwrap().max_all().unwrap().to_scalar().unwrap();
        d / m.max(1e-6)
    }

    /// `dst (+)= lhs · rhs` summed as gemm sums on any FMA CPU once the depth is pinned:
    /// within a depth block one fused multiply-add chain per value from zero, then the block
    /// added to the output.
    fn blocked_depth_reference(
        (m, n, k): (usize, usize, usize),
        dst: &[f32],
        accumulate: bool,
        lhs: &[f32],
        rhs: &[f32],
        depth: usize,
    ) -> Vec<f32> {
        let mut out = dst.to_vec();
        for (block, start) in (0..k).step_by(depth).enumerate() {
            for i in 0..m {
                for j in 0..n {
                    let mut acc = 0f32;
                    for kk in start..(start + depth).min(k) {
                        acc = lhs[i * k + kk].mul_add(rhs[kk * n + j], acc);
                    }
                    let o = &mut out[i * n + j];
                    *o = if accumulate || block > 0 {
                        *o + acc
                    } else {
                        acc
                    };
                }
            }
        }
        out
    }

    #[test]
    fn long_products_sum_in_the_same_depth_blocks_on_every_cpu() {
        // 100 × 70 outputs of depth 1100: gemm's general path, which on its own blocks the
        // depth by the detected cache (512 or 1024); pinned, it is three blocks of 367, 367, 366.
        let (m, n, k) = (100, 70, 1100);
        assert_eq!(pinned_depth_blocks((m, n, k), n, (1, k), (1, n)), 367);
        let mut rng = crate::seed::rng_for(7, &["gemm-depth-test"]);
        let mut values = |len: usize| -> Vec<f32> {
            (0..len)
                .map(|_| rand::RngExt::random_range(&mut rng, -1.0f32..1.0))
                .collect()
        };
        let (lhs, rhs, start) = (values(m * k), values(k * n), values(m * n));
        for accumulate in [false, true] {
            let want = blocked_depth_reference((m, n, k), &start, accumulate, &lhs, &rhs, 367);
            for par in [gemm::Parallelism::None, gemm::Parallelism::Rayon(2)] {
                let mut dst = start.clone();
                gemm_into(
                    (m, n, k),
                    &mut dst,
                    accumulate,
                    (&lhs, 1, k),
                    (&rhs, 1, n),
                    par,
                )
                .unwrap();
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert!(
                    bits(&dst) == bits(&want),
                    "accumulate {accumulate}, {par:?}"
                );
            }
        }
    }

    #[test]
    fn only_gemms_general_path_is_pinned() {
        let pinned = |mnk, dst_rs, lhs, rhs| pinned_depth_blocks(mnk, dst_rs, lhs, rhs);
        // A training convolution's weight gradient: 64 × 576 outputs of depth 2048.
        assert_eq!(pinned((64, 576, 2048), 576, (2048, 1), (576, 1)), 512);
        // Depth at most 512, or at most 64 × 64 outputs (fixed blocks of 512): whole.
        assert_eq!(pinned((100, 100, 512), 100, (1, 512), (1, 100)), 512);
        assert_eq!(pinned((64, 64, 4096), 64, (1, 4096), (1, 64)), 4096);
        // Dot products (≤ 256 outputs, lhs rows and rhs columns contiguous) and
        // matrix–vector products: whole.
        assert_eq!(pinned((2, 100, 4096), 100, (1, 4096), (4096, 1)), 4096);
        assert_eq!(pinned((1, 300, 4096), 300, (1, 4096), (1, 300)), 4096);
        // The same 2 × 100 product with a row-major rhs takes the general path.
        assert_eq!(pinned((2, 100, 4096), 100, (1, 4096), (1, 100)), 512);
    }

    #[test]
    fn matches_candle_conv_bias_residual_relu() {
        let dev = Device::Cpu;
        for (c_in, c_out, k, stride, pad, hw) in [
            (3, 8, 7, 2, 3, 17),
            (4, 6, 3, 1, 1, 9),
            (5, 7, 3, 2, 1, 8),
            (6, 4, 1, 1, 0, 5),
            (6, 4, 1, 2, 0, 7),
            (2, 3, 5, 1, 2, 4),
            // ≥ 1024 output pixels: the per-image path also for batches.
            (2, 3, 3, 1, 1, 33),
        ] {
            for batch in [1, 3] {
                let x = Tensor::randn(0f32, 1.0, (batch, c_in, hw, hw + 1), &dev).unwrap();
                let w = Tensor::randn(0f32, 1.0, (c_out, c_in, k, k), &dev).unwrap();
                let b = Tensor::randn(0f32, 1.0, c_out, &dev).unwrap();
                let reference = x
                    .conv2d(&w, pad, stride, 1, 1)
                    .unwrap()
                    .broadcast_add(&b.reshape((1, c_out, 1, 1)).unwrap())
                    .unwrap();
                let conv = FusedConv::new(&w, &b, stride, pad).unwrap();
                let plain = conv.forward(&x, false).unwrap();
                assert_eq!(plain.dims(), reference.dims());
                assert!(
                    max_rel(&plain, &reference) < 1e-5,
                    "{c_in} {c_out} {k} {stride} {pad}"
                );
                let r = Tensor::randn(0f32, 1.0, reference.dims(), &dev).unwrap();
                let fused = conv.forward_residual(&x, &r, true).unwrap();
                let want = (reference + r).unwrap().relu().unwrap();
                assert!(
                    max_rel(&fused, &want) < 1e-5,
                    "{c_in} {c_out} {k} {stride} {pad} residual"
                );
            }
        }
    }
}
