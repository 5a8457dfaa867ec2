//! A trainable CPU convolution (forward and backward) as a candle custom op.
//!
//! Principal type: [`TrainConv`], applied by [`conv2d`]. candle 0.11 computes the input gradient
//! of a convolution with its direct `conv_transpose2d` loop (one dot product over input
//! channels per output pixel and kernel tap), which dominated a ResNet training step. Here both
//! gradients are single GEMMs over the im2col lowering of the whole batch laid side by side
//! ([`super::fastconv`]): `∂W = ∂Y·colsᵀ` (the sum over images and pixels is gemm's k loop,
//! whose order does not depend on the thread count: gemm splits only the m and n axes) and
//! `∂x = col2im(Wᵀ·∂Y)`, scattered back image by image in a fixed order. The two gradients run
//! side by side (`rayon::join`), each GEMM on its own share of the threads. Reference:
//! Chellapilla et al. 2006 (im2col lowering); the gradients are the usual adjoints of that
//! linear map.

use super::fastconv::{Epilogue, Geometry, contiguous_f32};
use super::matmul::{gemm_parallelism, matmul};
use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// A convolution with square kernel, stride and zero padding, no bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrainConv {
    /// Stride.
    pub stride: usize,
    /// Zero padding on each side.
    pub padding: usize,
}

/// Convolution of `xs` `[b, c_in, h, w]` by `weight` `[c_out, c_in, k, k]`, with gradients for
/// both (f32, CPU).
pub fn conv2d(xs: &Tensor, weight: &Tensor, stride: usize, padding: usize) -> Result<Tensor> {
    xs.contiguous()?.apply_op2(
        &weight.contiguous()?,
        TrainConv {
            stride: stride.max(1),
            padding,
        },
    )
}

impl TrainConv {
    fn geometry(&self, weight: &Shape) -> Result<Geometry> {
        let (c_out, c_in, kh, kw) = weight.dims4()?;
        if kh != kw {
            candle_core::bail!("conv: square kernels only, got {kh}×{kw}")
        }
        Ok(Geometry {
            c_in,
            c_out,
            kernel: kh,
            stride: self.stride,
            padding: self.padding,
        })
    }
}

impl CustomOp2 for TrainConv {
    fn name(&self) -> &'static str {
        "radbench-conv2d"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let geom = self.geometry(l2.shape())?;
        let epilogue = Epilogue {
            bias: None,
            residual: None,
            relu: false,
        };
        let x = contiguous_f32(s1, l1)?;
        let w = contiguous_f32(s2, l2)?;
        let (out, shape) = geom.forward(x, l1.shape().dims4()?, w, epilogue)?;
        Ok((CpuStorage::F32(out), shape))
    }

    fn bwd(
        &self,
        xs: &Tensor,
        weight: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let geom = self.geometry(weight.shape())?;
        let (b, c, h, w) = xs.dims4()?;
        let (_, _, oh, ow) = grad.dims4()?;
        let x = xs.flatten_all()?.to_vec1::<f32>()?;
        let wt = weight.flatten_all()?.to_vec1::<f32>()?;
        let g = grad.flatten_all()?.to_vec1::<f32>()?;
        let (depth, pixels) = (geom.depth(), oh * ow);
        let (in_len, out_len) = (c * h * w, geom.c_out * pixels);
        // Wᵀ as a [depth, c_out] operand of the row-major [c_out, depth] weight.
        let w_t = (wt.as_slice(), depth, 1);

        // The whole batch side by side: column i·P + p is pixel p of image i. One GEMM per
        // gradient then sums over images and pixels inside gemm's fixed k order.
        let wide = b * pixels;
        let mut g_wide = vec![0f32; geom.c_out * wide];
        g_wide
            .par_chunks_mut(wide)
            .enumerate()
            .for_each(|(co, row)| {
                for (i, seg) in row.chunks_mut(pixels).enumerate() {
                    let start = i * out_len + co * pixels;
                    seg.copy_from_slice(&g[start..start + pixels]);
                }
            });
        // The two gradients share only ∂Y and are computed side by side: ∂W from the lowering of
        // x, ∂x from Wᵀ·∂Y. Their GEMMs have the same c_out·depth·b·P multiply-adds, and a
        // small-m product (m = c_out) split across threads inside gemm ran slower than on one
        // thread (gemm packs the left operand serially, then synchronises once per k block).
        // gemm's value does not depend on how it is threaded, so neither does any result.
        let threads = candle_core::utils::get_num_threads();
        let (both, par) = if xs.track_op() && threads > 1 {
            let half = threads / 2;
            let par = if half > 1 {
                gemm::Parallelism::Rayon(half)
            } else {
                gemm::Parallelism::None
            };
            (true, par)
        } else {
            (false, gemm_parallelism(geom.c_out, depth, wide))
        };
        let weight_grad = || -> Result<Vec<f32>> {
            let mut cols = vec![0f32; depth * wide];
            let lowering = geom.lowering((h, w), (oh, ow));
            cols.par_chunks_mut(wide).enumerate().for_each(|(r, row)| {
                for (i, seg) in row.chunks_mut(pixels).enumerate() {
                    lowering.row(&x[i * in_len..(i + 1) * in_len], r, seg);
                }
            });
            // ∂W[c_out, depth] = ∂Y[c_out, b·P] · colsᵀ[b·P, depth].
            let mut grad_w = vec![0f32; geom.c_out * depth];
            matmul(
                (geom.c_out, depth, wide),
                &mut grad_w,
                (&g_wide, 1, wide),
                (&cols, wide, 1),
                par,
            )?;
            Ok(grad_w)
        };
        let input_grad = || -> Result<Vec<f32>> {
            // ∂cols[depth, b·P] = Wᵀ[depth, c_out] · ∂Y[c_out, b·P], then back onto each image.
            let mut dcols = vec![0f32; depth * wide];
            matmul(
                (depth, wide, geom.c_out),
                &mut dcols,
                w_t,
                (&g_wide, 1, wide),
                par,
            )?;
            let mut grad_x = vec![0f32; b * in_len];
            grad_x
                .par_chunks_mut(in_len)
                .enumerate()
                .for_each(|(i, dst)| {
                    geom.col2im_add(&dcols[i * pixels..], wide, (h, w), (oh, ow), dst);
                });
            Ok(grad_x)
        };
        let (grad_w, grad_x) = if both {
            let (grad_w, grad_x) = rayon::join(weight_grad, input_grad);
            (grad_w?, Some(grad_x?))
        } else if xs.track_op() {
            (weight_grad()?, Some(input_grad()?))
        } else {
            // The network's input (a plain tensor, not a variable) needs no gradient: skipping
            // it saves the stem's largest product and its scatter.
            (weight_grad()?, None)
        };
        let grad_x = grad_x
            .map(|v| Tensor::from_vec(v, xs.shape(), xs.device()))
            .transpose()?;
        Ok((
            grad_x,
            Some(Tensor::from_vec(grad_w, weight.shape(), weight.device())?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

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
    fn forward_and_gradients_match_candle() {
        let dev = Device::Cpu;
        for (c_in, c_out, k, stride, pad, hw) in [
            (3, 8, 7, 2, 3, 13),
            (4, 6, 3, 1, 1, 9),
            (5, 7, 3, 2, 1, 8),
            (6, 4, 1, 1, 0, 5),
            (6, 4, 1, 2, 0, 7),
        ] {
            let x = Var::randn(0f32, 1.0, (3, c_in, hw, hw + 2), &dev).unwrap();
            let w = Var::randn(0f32, 1.0, (c_out, c_in, k, k), &dev).unwrap();
            let ours = conv2d(x.as_tensor(), w.as_tensor(), stride, pad).unwrap();
            let theirs = x
                .as_tensor()
                .conv2d(w.as_tensor(), pad, stride, 1, 1)
                .unwrap();
            assert!(
                max_rel(&ours, &theirs) < 1e-5,
                "forward {c_in} {c_out} {k} {stride} {pad}"
            );
            // A weighted sum makes every output position's gradient distinct.
            let weights = Tensor::randn(0f32, 1.0, theirs.dims(), &dev).unwrap();
            let g_ours = (ours * &weights)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let g_theirs = (theirs * &weights)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            for (name, v) in [("x", &x), ("w", &w)] {
                let a = g_ours.get(v.as_tensor()).unwrap();
                let b = g_theirs.get(v.as_tensor()).unwrap();
                assert!(
                    max_rel(a, b) < 1e-5,
                    "grad {name}: {c_in} {c_out} {k} {stride} {pad}"
                );
            }
        }
    }
}
