//! A folded Inception-style net's inference pass on the channel-blocked layout
//! ([`super::blocked`]).
//!
//! Principal type: [`BlockedInception`], built by [`super::inception::Inception`]'s
//! `fold_batch_norm`. Every branch convolution is a [`PlanConv`] (Winograd for wide 3×3
//! stride-1 ones), the pools and the branch concatenation stay in the blocked layout, so the
//! only layout changes are the input image and the pooled features. A block's branches run in
//! parallel (values do not depend on which thread computes them).

use super::blocked::{BlockedMap, Unsplit, batch_pass};
use super::conv_plan::{BORDER, PlanConv, input_block, input_map, packed, planned};
use super::layers::ConvBn;
use candle_core::{Result, Tensor};

/// The folded convolutions of an `InceptionA` block, in torchvision's order.
pub(crate) struct BlockAConvs<'a> {
    /// `branch1x1`.
    pub(crate) b1: &'a ConvBn,
    /// `branch5x5_1`, `branch5x5_2`.
    pub(crate) b5: [&'a ConvBn; 2],
    /// `branch3x3dbl_1..3`.
    pub(crate) b3: [&'a ConvBn; 3],
    /// `branch_pool` (after the 3×3 average pool).
    pub(crate) pool: &'a ConvBn,
}

/// The folded convolutions of an `InceptionB` (grid reduction) block.
pub(crate) struct BlockBConvs<'a> {
    /// `branch3x3` (stride 2).
    pub(crate) b3: &'a ConvBn,
    /// `branch3x3dbl_1..3` (the last with stride 2).
    pub(crate) b3dbl: [&'a ConvBn; 3],
}

#[derive(Debug, Clone)]
struct PlanA {
    b1: PlanConv,
    b5: [PlanConv; 2],
    b3: [PlanConv; 3],
    pool: PlanConv,
}

impl PlanA {
    fn new(c: &BlockAConvs<'_>) -> Result<PlanA> {
        Ok(PlanA {
            b1: planned(c.b1)?,
            b5: [planned(c.b5[0])?, planned(c.b5[1])?],
            b3: [planned(c.b3[0])?, planned(c.b3[1])?, planned(c.b3[2])?],
            pool: planned(c.pool)?,
        })
    }

    fn forward(&self, x: &BlockedMap) -> Result<BlockedMap> {
        let b1 = || self.b1.forward(x, None, true, 0);
        let b5 = || {
            // The 5×5 convolution pads by 2: its input carries that border.
            let b5 = self.b5[0].forward(x, None, true, self.b5[1].padding())?;
            self.b5[1].forward(&b5, None, true, 0)
        };
        let b3 = || {
            let b3 = self.b3[0].forward(x, None, true, BORDER)?;
            let b3 = self.b3[1].forward(&b3, None, true, BORDER)?;
            self.b3[2].forward(&b3, None, true, 0)
        };
        let bp = || self.pool.forward(&x.avg_pool_3x3_s1(0)?, None, true, 0);
        // Branches in parallel: at batch 1 most of their convolutions are too small to split.
        let ((b1, b5), (b3, bp)) = rayon::join(|| rayon::join(b1, b5), || rayon::join(b3, bp));
        BlockedMap::concat(&[&b1?, &b5?, &b3?, &bp?], BORDER)
    }
}

#[derive(Debug, Clone)]
struct PlanB {
    b3: PlanConv,
    b3dbl: [PlanConv; 3],
}

impl PlanB {
    fn new(c: &BlockBConvs<'_>) -> Result<PlanB> {
        Ok(PlanB {
            b3: planned(c.b3)?,
            b3dbl: [
                planned(c.b3dbl[0])?,
                planned(c.b3dbl[1])?,
                planned(c.b3dbl[2])?,
            ],
        })
    }

    fn forward(&self, x: &BlockedMap) -> Result<BlockedMap> {
        let b3 = || self.b3.forward(x, None, true, 0);
        let bd = || {
            let bd = self.b3dbl[0].forward(x, None, true, BORDER)?;
            let bd = self.b3dbl[1].forward(&bd, None, true, BORDER)?;
            self.b3dbl[2].forward(&bd, None, true, 0)
        };
        // Inputs follow ReLUs, so ignoring the padded taps equals zero padding.
        let pool = || x.max_pool_3x3_s2(0);
        let (b3, (bd, pool)) = rayon::join(b3, || rayon::join(bd, pool));
        BlockedMap::concat(&[&b3?, &bd?, &pool?], 0)
    }
}

/// The inference plan of a batch-norm-folded Inception-style net.
#[derive(Debug, Clone)]
pub(crate) struct BlockedInception {
    in_channels: usize,
    stem: [PlanConv; 3],
    stem_padding: usize,
    mixed_5: [PlanA; 2],
    mixed_6a: PlanB,
}

impl BlockedInception {
    /// From the folded stem convolutions and blocks.
    pub(crate) fn new(
        in_channels: usize,
        stem: [&ConvBn; 3],
        mixed_5: [BlockAConvs<'_>; 2],
        mixed_6a: BlockBConvs<'_>,
    ) -> Result<BlockedInception> {
        let (first, stem_padding) = packed(stem[0], input_block(in_channels))?;
        Ok(BlockedInception {
            in_channels,
            stem: [
                PlanConv::Direct(first),
                planned(stem[1])?,
                planned(stem[2])?,
            ],
            stem_padding,
            mixed_5: [PlanA::new(&mixed_5[0])?, PlanA::new(&mixed_5[1])?],
            mixed_6a: PlanB::new(&mixed_6a)?,
        })
    }

    /// Pooled features `[batch, channels]` of `xs` `[batch, in_channels, h, w]`.
    pub(crate) fn features(&self, xs: &Tensor) -> Result<Tensor> {
        // A share of the batch per thread, or here (see `batch_pass`).
        batch_pass(xs, Unsplit::Here, |xs| self.features_here(xs))
    }

    /// [`Self::features`] on the current thread.
    fn features_here(&self, xs: &Tensor) -> Result<Tensor> {
        let mut ys = input_map(xs, self.in_channels, self.stem_padding)?;
        for conv in &self.stem {
            ys = conv.forward(&ys, None, true, BORDER)?;
        }
        ys = ys.max_pool_3x3_s2(BORDER)?;
        for block in &self.mixed_5 {
            ys = block.forward(&ys)?;
        }
        ys = self.mixed_6a.forward(&ys)?;
        let (n, c, _, _) = ys.dims();
        Tensor::from_vec(ys.global_avg_pool(), (n, c), xs.device())
    }
}
