//! A fused inference convolution for the CPU: convolution + bias (+ residual) (+ ReLU) in one
//! candle custom op, used by batch-norm-folded networks in evaluation mode.
//!
//! Principal type: [`FusedConv`]. candle's own CPU convolution converts every input to NHWC on
//! one thread, re-packs the kernel on every call, writes its output through a transposing copy,
//! and then bias, residual addition and ReLU each take another pass over memory. Here each image
//! is lowered to an im2col matrix straight from NCHW (1×1 stride-1 convolutions skip it), one
//! packed `gemm` (the crate candle itself uses) writes `[c_out, h·w]` directly into the NCHW
//! output, and one epilogue pass adds bias and residual and clamps. Batches are split over
//! images (one image per task, single-threaded gemm); a single image uses gemm's own threads.
//! Each output element is one dot product computed in gemm's fixed k order, so results do not
//! depend on the thread count. This is the standard im2col + GEMM lowering (Chellapilla et al.
//! 2006, "High performance convolutional neural networks for document processing").

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// Convolution weights folded for inference, with the epilogue settings.
#[derive(Debug, Clone)]
pub struct FusedConv {
    /// `[c_out, c_in·k·k]`, row-major (PyTorch's `[c_out, c_in, k, k]` flattened).
    weight: Vec<f32>,
    bias: Vec<f32>,
    c_in: usize,
    c_out: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
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
            c_in,
            c_out,
            kernel: kh,
            stride: stride.max(1),
            padding,
        })
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

    fn out_size(&self, h: usize, w: usize) -> Result<(usize, usize)> {
        let span = |n: usize| {
            (n + 2 * self.padding)
                .checked_sub(self.kernel)
                .map(|d| d / self.stride + 1)
        };
        match (span(h), span(w)) {
            (Some(oh), Some(ow)) => Ok((oh, ow)),
            _ => candle_core::bail!(
                "fused conv: input {h}×{w} smaller than the kernel {}",
                self.kernel
            ),
        }
    }

    fn run(
        &self,
        input: &[f32],
        dims: (usize, usize, usize, usize),
        residual: Option<&[f32]>,
        relu: bool,
    ) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = dims;
        if c != self.c_in {
            candle_core::bail!(
                "fused conv: {c} input channels, weights expect {}",
                self.c_in
            )
        }
        let (oh, ow) = self.out_size(h, w)?;
        let (in_len, out_len) = (c * h * w, self.c_out * oh * ow);
        let mut out = vec![0f32; b * out_len];
        if let Some(r) = residual
            && r.len() != out.len()
        {
            candle_core::bail!(
                "fused conv: residual has {} values, output {}",
                r.len(),
                out.len()
            )
        }
        let threads = candle_core::utils::get_num_threads();
        let item = |i: usize, dst: &mut [f32], par: gemm::Parallelism| {
            let x = &input[i * in_len..(i + 1) * in_len];
            let res = residual.map(|r| &r[i * out_len..(i + 1) * out_len]);
            self.run_image(x, (h, w), (oh, ow), dst, (res, relu), par);
        };
        if b >= threads || threads <= 1 {
            out.par_chunks_mut(out_len)
                .enumerate()
                .for_each(|(i, dst)| item(i, dst, gemm::Parallelism::None));
        } else {
            for (i, dst) in out.chunks_mut(out_len).enumerate() {
                item(i, dst, gemm::Parallelism::Rayon(threads));
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((b, self.c_out, oh, ow))))
    }

    fn run_image(
        &self,
        x: &[f32],
        (h, w): (usize, usize),
        (oh, ow): (usize, usize),
        dst: &mut [f32],
        (residual, relu): (Option<&[f32]>, bool),
        par: gemm::Parallelism,
    ) {
        let k = self.kernel;
        let depth = self.c_in * k * k;
        let pixels = oh * ow;
        let direct = k == 1 && self.stride == 1 && self.padding == 0;
        let col;
        let rhs: &[f32] = if direct {
            x
        } else {
            col = self.im2col(x, (h, w), (oh, ow));
            &col
        };
        // dst[c_out, pixels] = weight[c_out, depth] · rhs[depth, pixels]; all row-major.
        // SAFETY: the pointers cover c_out·depth, depth·pixels and c_out·pixels values with the
        // strides given, and dst is exclusively borrowed.
        unsafe {
            gemm::gemm(
                self.c_out,
                pixels,
                depth,
                dst.as_mut_ptr(),
                1,
                pixels as isize,
                false,
                self.weight.as_ptr(),
                1,
                depth as isize,
                rhs.as_ptr(),
                1,
                pixels as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                par,
            );
        }
        for (co, row) in dst.chunks_mut(pixels).enumerate() {
            let b = self.bias[co];
            match residual {
                Some(r) => {
                    for (v, r) in row.iter_mut().zip(&r[co * pixels..(co + 1) * pixels]) {
                        *v += b + r;
                    }
                }
                None => row.iter_mut().for_each(|v| *v += b),
            }
            if relu {
                // `max` keeps NaN out of ReLU's output as candle's relu does.
                row.iter_mut().for_each(|v| *v = v.max(0.0));
            }
        }
    }

    /// `[c_in·k·k, oh·ow]` patches of one NCHW image, zero outside it.
    fn im2col(&self, x: &[f32], (h, w): (usize, usize), (oh, ow): (usize, usize)) -> Vec<f32> {
        let k = self.kernel;
        let (s, p) = (self.stride, self.padding as isize);
        let pixels = oh * ow;
        let mut col = vec![0f32; self.c_in * k * k * pixels];
        for ci in 0..self.c_in {
            let plane = &x[ci * h * w..(ci + 1) * h * w];
            for ky in 0..k {
                for kx in 0..k {
                    let row = ((ci * k + ky) * k + kx) * pixels;
                    let dst = &mut col[row..row + pixels];
                    // Output columns whose input column lies inside the image.
                    let first = ((p - kx as isize).max(0) as usize).div_ceil(s);
                    let right = w as isize + p - kx as isize;
                    let last = if right <= 0 {
                        0
                    } else {
                        (right as usize).div_ceil(s).min(ow)
                    };
                    for oy in 0..oh {
                        let iy = (oy * s) as isize + ky as isize - p;
                        if iy < 0 || iy >= h as isize || first >= last {
                            continue;
                        }
                        let src = &plane[iy as usize * w..(iy as usize + 1) * w];
                        let out = &mut dst[oy * ow..(oy + 1) * ow];
                        let x0 = (first * s + kx) as isize - p;
                        if s == 1 {
                            out[first..last]
                                .copy_from_slice(&src[x0 as usize..x0 as usize + last - first]);
                        } else {
                            for (j, o) in out[first..last].iter_mut().enumerate() {
                                *o = src[x0 as usize + j * s];
                            }
                        }
                    }
                }
            }
        }
        col
    }
}

fn contiguous_f32<'a>(storage: &'a CpuStorage, layout: &Layout) -> Result<&'a [f32]> {
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
