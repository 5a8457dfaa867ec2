//! A fused inference convolution for the CPU: convolution + bias (+ residual) (+ ReLU) in one
//! candle custom op, used by batch-norm-folded networks in evaluation mode (Inception, U-Net;
//! a folded 2-D ResNet runs on [`super::blocked`] instead).
//!
//! Principal type: [`FusedConv`]. candle's own CPU convolution converts every input to NHWC on one
//! thread, re-packs the kernel on every call, writes its output through a transposing copy, and
//! then bias, residual addition and ReLU each take another pass over memory. Here each image is
//! lowered to an im2col matrix straight from NCHW (1×1 stride-1 convolutions skip it), one packed
//! `gemm` (the crate candle itself uses, called through the `matmul` module) writes `[c_out, h·w]`
//! directly into the NCHW output, and one epilogue pass adds bias and residual and clamps. Batches
//! of large maps are split over images (one image per task, single-threaded gemm; a single image
//! uses gemm's own threads); small maps (< 1024 output pixels) run the whole batch as one wide
//! GEMM, since a GEMM of a few dozen columns per image is mostly overhead. gemm's k blocking
//! depends on the matrix shape, so an image's outputs can differ in the last bits between batch
//! sizes (never between thread counts or reruns of the same batches). Each output element is one
//! dot product computed in gemm's fixed k order, so results do not depend on the thread count. This
//! is the standard im2col + GEMM lowering (Chellapilla et al. 2006, "High performance convolutional
//! neural networks for document processing").

use super::im2col::Scratch;
use super::matmul::{gemm_parallelism, matmul};
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
        match (self.out_len(h), self.out_len(w)) {
            (Some(oh), Some(ow)) => Ok((oh, ow)),
            _ => candle_core::bail!(
                "conv: input {h}×{w} smaller than the kernel {}",
                self.kernel
            ),
        }
    }

    /// Output length along an axis of `n` input values, `None` when the kernel does not fit.
    pub(crate) fn out_len(&self, n: usize) -> Option<usize> {
        (n + 2 * self.padding)
            .checked_sub(self.kernel)
            .map(|d| d / self.stride + 1)
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

/// Below this many values a memory-bound loop (im2col, an epilogue) stays on one thread.
const PARALLEL_MIN_VALUES: usize = 1 << 15;

/// The least number of `chunk`-value chunks one rayon task should take, so that small loops do
/// not split at all.
pub(crate) fn min_chunks_per_task(chunk: usize) -> usize {
    PARALLEL_MIN_VALUES.div_ceil(chunk.max(1))
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
