//! The convolutions of a folded network's channel-blocked inference pass ([`super::blocked`]),
//! shared by the ResNet, Inception and U-Net plans (`resnet_infer`, `inception_infer`,
//! `unet_infer`).
//!
//! Principal type: [`PlanConv`], a packed convolution that takes the Winograd F(2×2, 3×3) form
//! where it measured faster, and the helpers that build one from a folded [`ConvBn`].

use super::blocked::winograd::WinogradConv;
use super::blocked::{BlockedMap, PackedConv};
use super::fastconv::FusedConv;
use super::lanes::LANES;
use super::layers::ConvBn;
use super::layers3d::ConvBn3d;
use candle_core::{DType, Result, Tensor};

/// Every activation between layers carries at least this zero border: enough for 3×3
/// convolutions with padding 1, and ignored by 1×1 ones.
pub(crate) const BORDER: usize = 1;

/// 3×3 stride-1 convolutions with at least this many input channels have a Winograd form: on
/// narrower ones the transforms cost more than the products save (measured, 16 channels).
const WINOGRAD_MIN_CHANNELS: usize = 32;

/// The Winograd form runs on maps of at least this many 2×2 tiles per image. On smaller maps
/// its 16 transformed weight matrices (1.8× the direct weights) are read for few tiles, and
/// the direct convolution was faster (512 channels at 7×7: 1.1 vs 1.3 ms, 2 threads). The rule
/// looks at one image, never the batch, so an image's outputs do not depend on its batch.
const WINOGRAD_MIN_TILES: usize = 32;

/// A convolution of a plan: direct, or direct and Winograd F(2×2, 3×3) with the choice made
/// per map size.
#[derive(Debug, Clone)]
pub(crate) enum PlanConv {
    /// Direct convolution only.
    Direct(PackedConv),
    /// Both forms; Winograd on maps of at least [`WINOGRAD_MIN_TILES`] tiles.
    Either(PackedConv, WinogradConv),
}

impl PlanConv {
    /// Zero padding on each side: the border its input must carry (the Winograd form, when
    /// present, pads as the direct one does).
    pub(crate) fn padding(&self) -> usize {
        match self {
            PlanConv::Direct(c) | PlanConv::Either(c, _) => c.padding(),
        }
    }

    /// Convolution of `x`, plus bias, plus `residual` (the output's layout), then ReLU when
    /// `relu`; the output gets a zero border of `border` pixels.
    pub(crate) fn forward(
        &self,
        x: &BlockedMap,
        residual: Option<&BlockedMap>,
        relu: bool,
        border: usize,
    ) -> Result<BlockedMap> {
        let (_, _, h, w) = x.dims();
        match self {
            PlanConv::Either(_, c) if h.div_ceil(2) * w.div_ceil(2) >= WINOGRAD_MIN_TILES => {
                c.forward(x, residual, relu, border)
            }
            PlanConv::Direct(c) | PlanConv::Either(c, _) => c.forward(x, residual, relu, border),
        }
    }
}

/// The folded form of `conv`, or an error if batch norm was not folded into it.
pub(crate) fn folded(conv: &ConvBn) -> Result<&FusedConv> {
    match conv.folded() {
        Some(folded) => Ok(folded),
        None => candle_core::bail!("blocked inference: convolution not folded"),
    }
}

/// The packed form of a folded [`ConvBn`] whose input has channel block `cib`, and its padding.
pub(crate) fn packed(conv: &ConvBn, cib: usize) -> Result<(PackedConv, usize)> {
    let folded = folded(conv)?;
    Ok((folded.packed(cib)?, folded.padding()))
}

/// A folded convolution a plan is built from: 2-D ([`ConvBn`]) or 3-D ([`ConvBn3d`], whose
/// packed form takes volumes).
pub(crate) trait PlanSource {
    /// Its packed form for inputs of channel block `cib`, and its padding ([`packed`]).
    fn packed(&self, cib: usize) -> Result<(PackedConv, usize)>;
    /// Its form inside a network ([`planned`]).
    fn planned(&self) -> Result<PlanConv>;
}

impl PlanSource for ConvBn {
    fn packed(&self, cib: usize) -> Result<(PackedConv, usize)> {
        packed(self, cib)
    }
    fn planned(&self) -> Result<PlanConv> {
        planned(self)
    }
}

impl PlanSource for ConvBn3d {
    fn packed(&self, cib: usize) -> Result<(PackedConv, usize)> {
        let Some(folded) = self.folded() else {
            candle_core::bail!("blocked inference: 3-D convolution not folded")
        };
        let conv = folded.packed(cib)?;
        let padding = conv.padding();
        Ok((conv, padding))
    }
    /// Direct: the Winograd form is 2-D only.
    fn planned(&self) -> Result<PlanConv> {
        Ok(PlanConv::Direct(PlanSource::packed(self, LANES)?.0))
    }
}

/// The plan's form of a folded [`ConvBn`] inside a network (channel block [`LANES`]).
pub(crate) fn planned(conv: &ConvBn) -> Result<PlanConv> {
    let folded = folded(conv)?;
    let direct = folded.packed(LANES)?;
    if folded.in_channels() >= WINOGRAD_MIN_CHANNELS
        && let Some(w) = folded.winograd()
    {
        return Ok(PlanConv::Either(direct, w?));
    }
    Ok(PlanConv::Direct(direct))
}

/// The channel block of a network input of `in_channels` channels (see [`BlockedMap`]).
pub(crate) fn input_block(in_channels: usize) -> usize {
    in_channels.min(LANES)
}

/// `xs` `[batch, in_channels, h, w]` in the blocked layout with a zero border of `border`; a
/// volume for `[batch, in_channels, d, h, w]`.
pub(crate) fn input_map(xs: &Tensor, in_channels: usize, border: usize) -> Result<BlockedMap> {
    let dims = xs.dims();
    if !(4..=5).contains(&dims.len()) {
        candle_core::bail!(
            "input must be [batch, channels, h, w] or [batch, channels, d, h, w], got {dims:?}"
        )
    }
    if dims[1] != in_channels {
        candle_core::bail!("input of shape {dims:?}: the network takes {in_channels} channels")
    }
    let values = xs.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
    match *dims {
        [n, c, h, w] => BlockedMap::from_nchw(&values, (n, c, h, w), border),
        [n, c, d, h, w] => BlockedMap::from_ncdhw(&values, (n, c, d, h, w), border),
        _ => unreachable!("rank checked above"),
    }
}
