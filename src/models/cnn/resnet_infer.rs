//! A folded 2-D ResNet's inference pass on the channel-blocked layout ([`super::blocked`]).
//!
//! Principal type: [`BlockedResNet`], built by [`super::resnet::ResNet`]'s
//! `fold_batch_norm` from the folded convolutions. The stem, max pool, residual blocks and
//! global average pool all stay in the blocked layout, so the only layout changes are the input
//! image on the way in and the pooled `[batch, channels]` features on the way out; the linear
//! head stays candle's.

use super::blocked::winograd::WinogradConv;
use super::blocked::{BlockedMap, PackedConv};
use super::fastconv::FusedConv;
use super::lanes::LANES;
use super::layers::ConvBn;
use candle_core::{DType, Result, Tensor};

/// Every activation between layers carries this zero border: enough for 3×3 convolutions with
/// padding 1, and ignored by 1×1 ones.
const BORDER: usize = 1;

/// 3×3 stride-1 convolutions with at least this many input channels have a Winograd form: on
/// narrower ones the transforms cost more than the products save (measured, 16 channels).
const WINOGRAD_MIN_CHANNELS: usize = 32;

/// The Winograd form runs on maps of at least this many 2×2 tiles per image. On smaller maps
/// its 16 transformed weight matrices (1.8× the direct weights) are read for few tiles, and
/// the direct convolution was faster (512 channels at 7×7: 1.1 vs 1.3 ms, 2 threads). The rule
/// looks at one image, never the batch, so an image's outputs do not depend on its batch.
const WINOGRAD_MIN_TILES: usize = 32;

/// A convolution of the plan: direct, or direct and Winograd F(2×2, 3×3) with the choice made
/// per map size.
#[derive(Debug, Clone)]
enum PlanConv {
    Direct(PackedConv),
    Either(PackedConv, WinogradConv),
}

impl PlanConv {
    fn forward(
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

/// A residual block: its convolutions in order (the last one takes the shortcut and the ReLU)
/// and the optional 1×1 projection of the shortcut.
#[derive(Debug, Clone)]
struct PlanBlock {
    convs: Vec<PlanConv>,
    downsample: Option<PackedConv>,
}

/// The inference plan of a batch-norm-folded ResNet.
#[derive(Debug, Clone)]
pub(crate) struct BlockedResNet {
    in_channels: usize,
    stem: PackedConv,
    stem_padding: usize,
    max_pool: bool,
    blocks: Vec<PlanBlock>,
}

/// The folded form of `conv`, or an error if batch norm was not folded into it.
fn folded(conv: &ConvBn) -> Result<&FusedConv> {
    match conv.folded() {
        Some(folded) => Ok(folded),
        None => candle_core::bail!("blocked resnet: convolution not folded"),
    }
}

/// The packed form of a folded [`ConvBn`] whose input has channel block `cib`.
fn packed(conv: &ConvBn, cib: usize) -> Result<(PackedConv, usize)> {
    let folded = folded(conv)?;
    Ok((folded.packed(cib)?, folded.padding()))
}

/// The plan's form of a folded [`ConvBn`] inside the network (channel block [`LANES`]).
fn planned(conv: &ConvBn) -> Result<PlanConv> {
    let folded = folded(conv)?;
    let direct = folded.packed(LANES)?;
    if folded.in_channels() >= WINOGRAD_MIN_CHANNELS
        && let Some(w) = folded.winograd()
    {
        return Ok(PlanConv::Either(direct, w?));
    }
    Ok(PlanConv::Direct(direct))
}

impl BlockedResNet {
    /// From the folded stem, whether the stem max-pools, and each block's convolutions and
    /// projection.
    pub(crate) fn new<'a>(
        in_channels: usize,
        stem: &ConvBn,
        max_pool: bool,
        blocks: impl IntoIterator<Item = (&'a [ConvBn], Option<&'a ConvBn>)>,
    ) -> Result<BlockedResNet> {
        let stem_cib = in_channels.min(LANES);
        let (stem, stem_padding) = packed(stem, stem_cib)?;
        let mut plan = Vec::new();
        for (convs, downsample) in blocks {
            plan.push(PlanBlock {
                convs: convs.iter().map(planned).collect::<Result<_>>()?,
                downsample: match downsample {
                    Some(d) => Some(packed(d, LANES)?.0),
                    None => None,
                },
            });
        }
        Ok(BlockedResNet {
            in_channels,
            stem,
            stem_padding,
            max_pool,
            blocks: plan,
        })
    }

    /// Pooled features `[batch, channels]` of `xs` `[batch, in_channels, h, w]`.
    pub(crate) fn features(&self, xs: &Tensor) -> Result<Tensor> {
        let dims = xs.dims4()?;
        if dims.1 != self.in_channels {
            candle_core::bail!(
                "resnet: {} input channels, the network takes {}",
                dims.1,
                self.in_channels
            )
        }
        let values = xs.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        let input = BlockedMap::from_nchw(&values, dims, self.stem_padding)?;
        let mut ys = self.stem.forward(&input, None, true, BORDER)?;
        if self.max_pool {
            ys = ys.max_pool_3x3_s2(BORDER)?;
        }
        for block in &self.blocks {
            let shortcut = match &block.downsample {
                Some(d) => Some(d.forward(&ys, None, false, BORDER)?),
                None => None,
            };
            let Some((last, inner)) = block.convs.split_last() else {
                candle_core::bail!("resnet block without convolutions")
            };
            let mut inner_ys: Option<BlockedMap> = None;
            for conv in inner {
                let from = inner_ys.as_ref().unwrap_or(&ys);
                inner_ys = Some(conv.forward(from, None, true, BORDER)?);
            }
            let from = inner_ys.as_ref().unwrap_or(&ys);
            ys = last.forward(from, Some(shortcut.as_ref().unwrap_or(&ys)), true, BORDER)?;
        }
        let (n, c, _, _) = ys.dims();
        Tensor::from_vec(ys.global_avg_pool(), (n, c), xs.device())
    }
}
