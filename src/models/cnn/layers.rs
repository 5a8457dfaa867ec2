//! Building blocks shared by the architectures: convolution + batch norm with inference-time
//! folding, and the [`ClassifierNet`] trait that every classification network implements.
//!
//! Principal types: [`ConvBn`], [`ClassifierNet`]. Batch-norm folding follows the standard
//! identity `w' = w·γ/√(σ²+ε)`, `b' = β − μ·γ/√(σ²+ε)` (as onnxruntime's Conv+BN fusion), done
//! once by [`ClassifierNet::fold_batch_norm`] after training so that inference runs one
//! fused convolution ([`FusedConv`]: bias, residual and ReLU in its epilogue) instead of conv,
//! subtract, divide, multiply, add and ReLU. In training, batch norm and a following ReLU run
//! as one op, [`batch_norm_train`], with candle-nn's arithmetic.

use super::fastconv::FusedConv;
use super::trainbn::batch_norm_train;
use candle_core::{Module, ModuleT, Result, Tensor};
use candle_nn::{BatchNorm, BatchNormConfig, Conv2d, Conv2dConfig, VarBuilder};

/// A bias-free convolution followed by batch norm; `vb_conv` and `vb_bn` name the two
/// parameter groups (torchvision's ResNet keeps them as siblings, `conv1` / `bn1`).
#[derive(Debug, Clone)]
pub struct ConvBn {
    conv: Conv2d,
    bn: BatchNorm,
    folded: Option<FusedConv>,
}

/// Geometry of one convolution.
#[derive(Debug, Clone, Copy)]
pub struct ConvShape {
    /// Input channels.
    pub c_in: usize,
    /// Output channels.
    pub c_out: usize,
    /// Square kernel size.
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
    /// Zero padding on each side.
    pub padding: usize,
}

impl ConvShape {
    /// A `kernel`×`kernel` convolution with "same" padding at stride 1.
    pub fn same(c_in: usize, c_out: usize, kernel: usize, stride: usize) -> ConvShape {
        ConvShape {
            c_in,
            c_out,
            kernel,
            stride,
            padding: kernel / 2,
        }
    }
}

impl ConvBn {
    /// Builds (or loads) `vb_conv.weight` and `vb_bn.{weight,bias,running_mean,running_var}`.
    pub fn new(
        shape: ConvShape,
        bn_eps: f64,
        vb_conv: VarBuilder,
        vb_bn: VarBuilder,
    ) -> Result<ConvBn> {
        let cfg = Conv2dConfig {
            padding: shape.padding,
            stride: shape.stride,
            ..Default::default()
        };
        let conv = candle_nn::conv2d_no_bias(shape.c_in, shape.c_out, shape.kernel, cfg, vb_conv)?;
        let bn_cfg = BatchNormConfig {
            eps: bn_eps,
            ..Default::default()
        };
        let bn = candle_nn::batch_norm(shape.c_out, bn_cfg, vb_bn)?;
        Ok(ConvBn {
            conv,
            bn,
            folded: None,
        })
    }

    /// Convolution then batch norm (batch statistics when `train`, running ones otherwise;
    /// the folded, fused convolution when [`ConvBn::fold`] was called and `!train`).
    pub fn forward_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        match (&self.folded, train) {
            (Some(folded), false) => folded.forward(xs, false),
            (_, true) => batch_norm_train(&self.bn, &self.conv_t(xs)?, false),
            (None, false) => self.bn.forward_t(&self.conv_t(xs)?, false),
        }
    }

    /// The bare convolution, with gradients (radbench's GEMM convolution, not candle's).
    fn conv_t(&self, xs: &Tensor) -> Result<Tensor> {
        let cfg = self.conv.config();
        super::trainconv::conv2d(xs, self.conv.weight(), cfg.stride, cfg.padding)
    }

    /// `relu(forward_t(xs))`, fused into the convolution when folded and `!train`.
    pub fn forward_relu_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        match (&self.folded, train) {
            (Some(folded), false) => folded.forward(xs, true),
            (_, true) => batch_norm_train(&self.bn, &self.conv_t(xs)?, true),
            (None, false) => self.forward_t(xs, false)?.relu(),
        }
    }

    /// `relu(forward_t(xs) + residual)`, fused into the convolution when folded and `!train`.
    pub fn forward_residual_relu_t(
        &self,
        xs: &Tensor,
        residual: &Tensor,
        train: bool,
    ) -> Result<Tensor> {
        match (&self.folded, train) {
            (Some(folded), false) => folded.forward_residual(xs, residual, true),
            _ => (self.forward_t(xs, train)? + residual)?.relu(),
        }
    }

    /// The folded convolution, once [`ConvBn::fold`] has run.
    pub(crate) fn folded(&self) -> Option<&FusedConv> {
        self.folded.as_ref()
    }

    /// Folds the current batch-norm statistics into a detached, fused convolution with bias.
    pub fn fold(&mut self) -> Result<()> {
        let folded = self.conv.absorb_bn(&self.bn)?;
        let bias = match folded.bias() {
            Some(b) => b.clone(),
            None => candle_core::bail!("folded convolution has no bias"),
        };
        let cfg = folded.config();
        self.folded = Some(FusedConv::new(
            folded.weight(),
            &bias,
            cfg.stride,
            cfg.padding,
        )?);
        Ok(())
    }
}

/// A classification network: pooled features, then a linear head (`fc`).
pub trait ClassifierNet: Send + Sync {
    /// Pooled penultimate features, `[batch, embed_dim]`.
    fn features_t(&self, xs: &Tensor, train: bool) -> Result<Tensor>;

    /// The linear head.
    fn head(&self) -> &candle_nn::Linear;

    /// Class logits, `[batch, classes]`.
    fn forward_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        self.head().forward(&self.features_t(xs, train)?)
    }

    /// Length of the embedding returned by [`ClassifierNet::features_t`].
    fn embed_dim(&self) -> usize;

    /// Parameter-name prefixes of each stage, from the stem (stage 0) to the last stage before
    /// the head; freezing "up to stage k" freezes the names starting with the prefixes of
    /// stages 0..=k.
    fn stage_prefixes(&self) -> Vec<Vec<String>>;

    /// Folds batch norm into the convolutions for inference (call after training).
    fn fold_batch_norm(&mut self) -> Result<()>;
}

/// Global average pooling over the two spatial axes: `[b, c, h, w]` → `[b, c]`.
pub fn global_avg_pool(xs: &Tensor) -> Result<Tensor> {
    xs.mean(3)?.mean(2)
}

/// 3×3 max pooling, stride 2, padding 1 (torchvision's ResNet stem), output
/// `⌊(h − 1)/2⌋ + 1` per axis.
///
/// Built from strided views and element-wise maxima, separably (rows, then columns), because
/// candle's `max_pool2d` has no padding and no backward pass when kernel ≠ stride. The input
/// follows a ReLU, so zero padding equals PyTorch's −∞ padding. Where several window entries
/// tie, candle's `maximum` splits the gradient between them (PyTorch routes it to the first);
/// both are valid subgradients. Inputs that need no gradient take candle's own pool instead
/// (bit-identical: a maximum involves no rounding).
pub fn max_pool_3x3_s2_p1(xs: &Tensor) -> Result<Tensor> {
    if !xs.track_op() {
        // No gradient needed (inference): one pass, equal to pooling the zero-padded input.
        return super::fastpool::max_pool_3x3_s2_zero_pad(xs);
    }
    if xs.dtype() == candle_core::DType::F32 && xs.device().is_cpu() {
        // The same arithmetic as `max_pool_separable`, in one sweep each way.
        return super::trainpool::max_pool_3x3_s2_p1_train(xs);
    }
    max_pool_separable(xs)
}

/// The differentiable pool as candle tensor ops (see [`max_pool_3x3_s2_p1`]); the reference
/// that [`super::trainpool`] reproduces bit for bit.
pub(crate) fn max_pool_separable(xs: &Tensor) -> Result<Tensor> {
    let (_, _, h, w) = xs.dims4()?;
    let (oh, ow) = ((h.max(1) - 1) / 2 + 1, (w.max(1) - 1) / 2 + 1);
    let xp = xs
        .pad_with_zeros(2, 1, 2 * oh + 1 - h)?
        .pad_with_zeros(3, 1, 2 * ow + 1 - w)?;
    let max3 = |dim: usize, n: usize, x: &Tensor| -> Result<Tensor> {
        every_second(x, dim, 0, n)?
            .maximum(&every_second(x, dim, 1, n)?)?
            .maximum(&every_second(x, dim, 2, n)?)
    };
    let rows = max3(2, oh, &xp)?;
    max3(3, ow, &rows)
}

/// Elements `offset, offset + 2, …` (`n` of them) along `dim`.
fn every_second(x: &Tensor, dim: usize, offset: usize, n: usize) -> Result<Tensor> {
    let t = x.narrow(dim, offset, 2 * n)?;
    let mut shape = t.dims().to_vec();
    shape[dim] = n;
    shape.insert(dim + 1, 2);
    t.reshape(shape)?.narrow(dim + 1, 0, 1)?.squeeze(dim + 1)
}

/// 3×3 average pooling, stride 1, padding 1, counting the zero padding (PyTorch's default
/// `count_include_pad=True`), as shifted sums (candle's `avg_pool2d` has no backward pass when
/// kernel ≠ stride).
pub fn avg_pool_3x3_s1_p1(xs: &Tensor) -> Result<Tensor> {
    if !xs.track_op() {
        return xs
            .pad_with_zeros(2, 1, 1)?
            .pad_with_zeros(3, 1, 1)?
            .avg_pool2d_with_stride(3, 1);
    }
    let (_, _, h, w) = xs.dims4()?;
    let xp = xs.pad_with_zeros(2, 1, 1)?.pad_with_zeros(3, 1, 1)?;
    let rows = ((xp.narrow(2, 0, h)? + xp.narrow(2, 1, h)?)? + xp.narrow(2, 2, h)?)?;
    let sum = ((rows.narrow(3, 0, w)? + rows.narrow(3, 1, w)?)? + rows.narrow(3, 2, w)?)?;
    sum / 9.0
}

/// A forward pass where the stages listed as frozen run in evaluation mode (their batch-norm
/// statistics are not updated), the others in `train` mode.
pub fn stage_train(train: bool, stage: usize, frozen_stages: Option<usize>) -> bool {
    train && frozen_stages.is_none_or(|k| stage > k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    #[test]
    fn pools_match_candle_where_candle_can_pool() {
        for (h, w) in [(8, 8), (7, 9), (1, 2)] {
            // A variable takes the differentiable path; the plain tensor candle's pool.
            let v = candle_core::Var::rand(0f32, 1.0, (2, 3, h, w), &Device::Cpu).unwrap();
            let x = v.as_tensor().detach();
            let ours = max_pool_3x3_s2_p1(v.as_tensor()).unwrap();
            assert_eq!(max_pool_3x3_s2_p1(&x).unwrap().dims(), ours.dims());
            // Reference: candle's own pool on an explicitly zero-padded input.
            let padded = x
                .pad_with_zeros(2, 1, 1)
                .unwrap()
                .pad_with_zeros(3, 1, 1)
                .unwrap();
            let theirs = padded.max_pool2d_with_stride(3, 2).unwrap();
            assert_eq!(ours.dims(), theirs.dims(), "{h}×{w}");
            let diff: f32 = (&ours - &theirs)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar()
                .unwrap();
            assert_eq!(diff, 0.0, "{h}×{w}");
            let avg = avg_pool_3x3_s1_p1(v.as_tensor()).unwrap();
            let theirs = padded.avg_pool2d_with_stride(3, 1).unwrap();
            let diff: f32 = (&avg - &theirs)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar()
                .unwrap();
            assert!(diff < 1e-6, "{h}×{w}: {diff}");
        }
        // Both have gradients.
        let v = candle_core::Var::ones((1, 1, 4, 4), DType::F32, &Device::Cpu).unwrap();
        let y = (max_pool_3x3_s2_p1(v.as_tensor())
            .unwrap()
            .sum_all()
            .unwrap()
            + avg_pool_3x3_s1_p1(v.as_tensor())
                .unwrap()
                .sum_all()
                .unwrap())
        .unwrap();
        assert!(y.backward().unwrap().get(v.as_tensor()).is_some());
    }
}
