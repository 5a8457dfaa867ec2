//! A folded ResNet's inference pass on the channel-blocked layout ([`super::blocked`]), 2-D or
//! 3-D.
//!
//! Principal type: [`BlockedResNet`], built by [`super::resnet::ResNet`]'s and
//! [`super::resnet3d::ResNet3d`]'s `fold_batch_norm` from the folded convolutions. The stem, max pool, residual blocks and
//! global average pool all stay in the blocked layout, so the only layout changes are the input
//! image on the way in and the pooled `[batch, channels]` features on the way out; the linear
//! head stays candle's.

use super::blocked::{PackedConv, Unsplit, batch_pass};
use super::conv_plan::{BORDER, PlanConv, PlanSource, input_block, input_map};
use super::lanes::LANES;
use candle_core::{Result, Tensor};

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

impl BlockedResNet {
    /// From the folded stem, whether the stem max-pools, and each block's convolutions and
    /// projection; 2-D ([`super::layers::ConvBn`]) or 3-D ([`super::layers3d::ConvBn3d`]) alike.
    pub(crate) fn new<'a, C: PlanSource + 'a>(
        in_channels: usize,
        stem: &C,
        max_pool: bool,
        blocks: impl IntoIterator<Item = (&'a [C], Option<&'a C>)>,
    ) -> Result<BlockedResNet> {
        let (stem, stem_padding) = stem.packed(input_block(in_channels))?;
        let mut plan = Vec::new();
        for (convs, downsample) in blocks {
            plan.push(PlanBlock {
                convs: convs.iter().map(C::planned).collect::<Result<_>>()?,
                downsample: match downsample {
                    Some(d) => Some(d.packed(LANES)?.0),
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

    /// Pooled features `[batch, channels]` of `xs` `[batch, in_channels, h, w]` (`[batch,
    /// in_channels, d, h, w]` for a 3-D ResNet).
    pub(crate) fn features(&self, xs: &Tensor) -> Result<Tensor> {
        // A share of the batch per thread, or handed to rayon's pool once (see `batch_pass`).
        batch_pass(xs, Unsplit::InPool, |xs| self.features_here(xs))
    }

    /// [`Self::features`] on the current thread.
    fn features_here(&self, xs: &Tensor) -> Result<Tensor> {
        let input = input_map(xs, self.in_channels, self.stem_padding)?;
        let mut ys = self.stem.forward(&input, None, true, BORDER)?;
        if self.max_pool {
            ys = ys.max_pool_3x3_s2(BORDER)?;
        }
        for block in &self.blocks {
            let Some((last, inner)) = block.convs.split_last() else {
                candle_core::bail!("resnet block without convolutions")
            };
            // The projection and the first inner convolution both read the block's input:
            // joined, the projection (too small to split) runs beside the convolution's split
            // instead of before it, a hand-off and a wait fewer at batch 1. The convolution
            // goes first, so the idle thread steals the projection (the oldest job). Outside
            // rayon's pool (a one-thread pool runs the pass on the caller) a join would hand
            // both to the pool and wait, so they run in turn.
            let (shortcut, mut inner_ys) = match (&block.downsample, inner.split_first()) {
                (Some(d), Some((first, _))) => {
                    let first_conv = || first.forward(&ys, None, true, BORDER);
                    let projection = || d.forward(&ys, None, false, BORDER);
                    let (first_ys, shortcut) = if rayon::current_thread_index().is_some() {
                        rayon::join(first_conv, projection)
                    } else {
                        (first_conv(), projection())
                    };
                    (Some(shortcut?), Some(first_ys?))
                }
                (Some(d), None) => (Some(d.forward(&ys, None, false, BORDER)?), None),
                (None, _) => (None, None),
            };
            let done = usize::from(inner_ys.is_some());
            for conv in &inner[done..] {
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
