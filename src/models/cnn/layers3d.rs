//! Building blocks of the 3-D networks: convolution + batch norm with inference-time folding,
//! 3-D max / average pooling and adaptive average pooling, all with gradients.
//!
//! Principal items: [`ConvBn3d`], [`max_pool3d`], [`avg_pool3d`], [`adaptive_avg_pool3d`].
//! Batch norm over `[b, c, d, h, w]` is candle's `BatchNorm` (it normalises over every axis but
//! the channel one, as PyTorch's `BatchNorm3d`); in training it runs as
//! [`batch_norm_train`], the same arithmetic in one op. Pooling is separable (one axis after the other,
//! exact for max and for averages that count the padding), built from strided views so that
//! candle's autograd gives the backward pass; where window entries tie, candle's `maximum` splits
//! the gradient between them (PyTorch routes it to the first), both valid subgradients.

use super::conv3d::{Conv3dShape, FusedConv3d, conv3d};
use super::trainbn::batch_norm_train;
use candle_core::{ModuleT, Result, Tensor};
use candle_nn::{BatchNorm, BatchNormConfig, VarBuilder};

/// A bias-free 3-D convolution followed by batch norm (`vb_conv.weight`, `vb_bn.*`).
#[derive(Debug, Clone)]
pub struct ConvBn3d {
    weight: Tensor,
    shape: Conv3dShape,
    bn: BatchNorm,
    folded: Option<FusedConv3d>,
}

impl ConvBn3d {
    /// Builds (or loads) a `kernel`³ convolution `c_in → c_out` with `stride` and `padding`.
    pub fn new(
        (c_in, c_out, kernel): (usize, usize, usize),
        shape: Conv3dShape,
        bn_eps: f64,
        vb_conv: VarBuilder,
        vb_bn: VarBuilder,
    ) -> Result<ConvBn3d> {
        let weight = vb_conv.get_with_hints(
            (c_out, c_in, kernel, kernel, kernel),
            "weight",
            candle_nn::init::DEFAULT_KAIMING_NORMAL,
        )?;
        let bn_cfg = BatchNormConfig {
            eps: bn_eps,
            ..Default::default()
        };
        let bn = candle_nn::batch_norm(c_out, bn_cfg, vb_bn)?;
        Ok(ConvBn3d {
            weight,
            shape,
            bn,
            folded: None,
        })
    }

    /// A cubic `kernel` with "same" padding (`kernel / 2`) at `stride`.
    pub fn same(
        (c_in, c_out, kernel): (usize, usize, usize),
        stride: usize,
        bn_eps: f64,
        vb_conv: VarBuilder,
        vb_bn: VarBuilder,
    ) -> Result<ConvBn3d> {
        let shape = Conv3dShape::cubic(stride, kernel / 2);
        ConvBn3d::new((c_in, c_out, kernel), shape, bn_eps, vb_conv, vb_bn)
    }

    /// Convolution then batch norm (batch statistics when `train`); the folded convolution
    /// when [`ConvBn3d::fold`] was called and `!train`.
    pub fn forward_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        match (&self.folded, train) {
            (Some(folded), false) => folded.forward(xs, false),
            (_, true) => batch_norm_train(&self.bn, &conv3d(xs, &self.weight, self.shape)?, false),
            (None, false) => self
                .bn
                .forward_t(&conv3d(xs, &self.weight, self.shape)?, false),
        }
    }

    /// `relu(forward_t(xs))`, fused when folded and `!train`.
    pub fn forward_relu_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        match (&self.folded, train) {
            (Some(folded), false) => folded.forward(xs, true),
            (_, true) => batch_norm_train(&self.bn, &conv3d(xs, &self.weight, self.shape)?, true),
            (None, false) => self.forward_t(xs, false)?.relu(),
        }
    }

    /// `relu(forward_t(xs) + residual)`, fused when folded and `!train`.
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

    /// The folded convolution, once [`ConvBn3d::fold`] was called.
    pub(crate) fn folded(&self) -> Option<&FusedConv3d> {
        self.folded.as_ref()
    }

    /// Folds the running batch-norm statistics into a detached, fused convolution with bias:
    /// `w' = w·γ/√(σ²+ε)`, `b' = β − μ·γ/√(σ²+ε)`.
    pub fn fold(&mut self) -> Result<()> {
        let Some((gamma, beta)) = self.bn.weight_and_bias() else {
            candle_core::bail!("batch norm without weight and bias cannot be folded")
        };
        let scale = gamma.div(&(self.bn.running_var() + self.bn.eps())?.sqrt()?)?;
        let weight = self
            .weight
            .broadcast_mul(&scale.reshape(((), 1, 1, 1, 1))?)?;
        let bias = beta.sub(&scale.mul(self.bn.running_mean())?)?;
        self.folded = Some(FusedConv3d::new(&weight, &bias, self.shape)?);
        Ok(())
    }
}

/// Pools along one axis: `kernel` taps at `stride`, `padding` on both sides filled with `fill`;
/// `reduce` combines two views.
fn pool_axis(
    xs: &Tensor,
    dim: usize,
    (kernel, stride, padding): (usize, usize, usize),
    fill: f32,
    reduce: fn(&Tensor, &Tensor) -> Result<Tensor>,
) -> Result<Tensor> {
    let n = xs.dim(dim)?;
    let Some(span) = (n + 2 * padding).checked_sub(kernel) else {
        candle_core::bail!("pool: axis {dim} has {n} voxels, fewer than the window {kernel}")
    };
    let stride = stride.max(1);
    let out = span / stride + 1;
    // Enough padding after the data that every tap t reads t + stride·out values.
    let after = (kernel - 1 + stride * out).saturating_sub(n + padding);
    let padded = pad_const(xs, dim, padding, after, fill)?;
    let mut acc: Option<Tensor> = None;
    for t in 0..kernel {
        let view = padded.narrow(dim, t, stride * out)?;
        let mut shape = view.dims().to_vec();
        shape[dim] = out;
        shape.insert(dim + 1, stride);
        let taps = view
            .reshape(shape)?
            .narrow(dim + 1, 0, 1)?
            .squeeze(dim + 1)?;
        acc = Some(match acc {
            None => taps,
            Some(a) => reduce(&a, &taps)?,
        });
    }
    match acc {
        Some(a) => Ok(a),
        None => candle_core::bail!("pool: empty window"),
    }
}

/// `xs` with `before` / `after` entries of value `fill` added along `dim`.
fn pad_const(xs: &Tensor, dim: usize, before: usize, after: usize, fill: f32) -> Result<Tensor> {
    if fill == 0.0 {
        return xs.pad_with_zeros(dim, before, after);
    }
    let block = |len: usize| -> Result<Option<Tensor>> {
        if len == 0 {
            return Ok(None);
        }
        let mut shape = xs.dims().to_vec();
        shape[dim] = len;
        Ok(Some(
            Tensor::full(fill, shape, xs.device())?.to_dtype(xs.dtype())?,
        ))
    };
    let parts: Vec<Tensor> = [block(before)?, Some(xs.clone()), block(after)?]
        .into_iter()
        .flatten()
        .collect();
    Tensor::cat(&parts, dim)
}

/// Spatial axes of a `[b, c, d, h, w]` tensor, checked.
fn check5(xs: &Tensor, what: &str) -> Result<()> {
    if xs.rank() != 5 {
        candle_core::bail!("{what}: expected [b, c, d, h, w], got {:?}", xs.dims())
    }
    Ok(())
}

/// 3-D max pooling with a cubic `kernel`, `stride` and `padding` (padding never wins, as
/// PyTorch's `MaxPool3d` pads with −∞).
pub fn max_pool3d(xs: &Tensor, kernel: usize, stride: usize, padding: usize) -> Result<Tensor> {
    check5(xs, "max_pool3d")?;
    let fill = f32::MIN;
    let mut ys = xs.clone();
    for dim in 2..5 {
        ys = pool_axis(&ys, dim, (kernel, stride, padding), fill, |a, b| {
            a.maximum(b)
        })?;
    }
    Ok(ys)
}

/// 3-D average pooling with a cubic `kernel`, `stride` and zero `padding` counted in the
/// average (PyTorch's default `count_include_pad=True`).
pub fn avg_pool3d(xs: &Tensor, kernel: usize, stride: usize, padding: usize) -> Result<Tensor> {
    check5(xs, "avg_pool3d")?;
    let mut ys = xs.clone();
    for dim in 2..5 {
        ys = (pool_axis(&ys, dim, (kernel, stride, padding), 0.0, |a, b| a + b)? / kernel as f64)?;
    }
    Ok(ys)
}

/// Adaptive average pooling to `size` = `[d, h, w]` (PyTorch's `AdaptiveAvgPool3d`: output
/// cell `i` of an axis of `n` averages inputs `⌊i·n/o⌋ .. ⌈(i+1)·n/o⌉`).
pub fn adaptive_avg_pool3d(xs: &Tensor, size: [usize; 3]) -> Result<Tensor> {
    check5(xs, "adaptive_avg_pool3d")?;
    let mut ys = xs.clone();
    for (a, &o) in size.iter().enumerate() {
        let dim = a + 2;
        let n = ys.dim(dim)?;
        if o == 0 {
            candle_core::bail!("adaptive_avg_pool3d: output size must be positive")
        }
        let cells = (0..o)
            .map(|i| {
                let (start, end) = (i * n / o, ((i + 1) * n).div_ceil(o));
                ys.narrow(dim, start, end - start)?.mean_keepdim(dim)
            })
            .collect::<Result<Vec<_>>>()?;
        ys = Tensor::cat(&cells, dim)?;
    }
    Ok(ys)
}

/// Global average pooling over the three spatial axes: `[b, c, d, h, w]` → `[b, c]`.
pub fn global_avg_pool3d(xs: &Tensor) -> Result<Tensor> {
    check5(xs, "global_avg_pool3d")?;
    xs.flatten_from(2)?.mean(2)
}

#[cfg(test)]
#[path = "layers3d_tests.rs"]
mod tests;
