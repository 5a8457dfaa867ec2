//! Building blocks shared by the architectures: convolution + batch norm with inference-time
//! folding, and the [`ClassifierNet`] trait that every classification network implements.
//!
//! Principal types: [`ConvBn`], [`ClassifierNet`]. Batch-norm folding follows the standard
//! identity `w' = w·γ/√(σ²+ε)`, `b' = β − μ·γ/√(σ²+ε)` (as onnxruntime's Conv+BN fusion), done
//! once by [`ClassifierNet::fold_batch_norm`] after training so that inference runs one
//! convolution with bias instead of conv, subtract, divide, multiply and add.

use candle_core::{Module, ModuleT, Result, Tensor};
use candle_nn::{BatchNorm, BatchNormConfig, Conv2d, Conv2dConfig, VarBuilder};

/// A bias-free convolution followed by batch norm; `vb_conv` and `vb_bn` name the two
/// parameter groups (torchvision's ResNet keeps them as siblings, `conv1` / `bn1`).
#[derive(Debug, Clone)]
pub struct ConvBn {
    conv: Conv2d,
    bn: BatchNorm,
    folded: Option<Conv2d>,
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
    /// the folded convolution when [`ConvBn::fold`] was called and `!train`).
    pub fn forward_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        match (&self.folded, train) {
            (Some(folded), false) => folded.forward(xs),
            _ => self.bn.forward_t(&self.conv.forward(xs)?, train),
        }
    }

    /// Folds the current batch-norm statistics into a detached convolution with bias.
    pub fn fold(&mut self) -> Result<()> {
        let folded = self.conv.absorb_bn(&self.bn)?;
        let weight = folded.weight().detach();
        let bias = folded.bias().map(Tensor::detach);
        self.folded = Some(Conv2d::new(weight, bias, *folded.config()));
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

/// 3×3 max pooling, stride 2, padding 1 (torchvision's ResNet stem). The input follows a ReLU,
/// so zero padding equals PyTorch's −∞ padding.
pub fn max_pool_3x3_s2_p1(xs: &Tensor) -> Result<Tensor> {
    xs.pad_with_zeros(2, 1, 1)?
        .pad_with_zeros(3, 1, 1)?
        .max_pool2d_with_stride(3, 2)
}

/// A forward pass where the stages listed as frozen run in evaluation mode (their batch-norm
/// statistics are not updated), the others in `train` mode.
pub fn stage_train(train: bool, stage: usize, frozen_stages: Option<usize>) -> bool {
    train && frozen_stages.is_none_or(|k| stage > k)
}
