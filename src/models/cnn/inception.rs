//! A small Inception-style classifier with torchvision's Inception-v3 block names.
//!
//! Principal types: [`Inception`], [`InceptionConfig`]. Reference: Szegedy et al. 2016,
//! "Rethinking the Inception architecture for computer vision" (CVPR), following torchvision's
//! `models/inception.py`: `BasicConv2d` (conv without bias, batch norm ε = 0.001, ReLU) named
//! `<block>.conv` / `<block>.bn`, `InceptionA` (branches `branch1x1`, `branch5x5_{1,2}`,
//! `branch3x3dbl_{1,2,3}`, `branch_pool`) and the grid-reduction `InceptionB` (`branch3x3`,
//! `branch3x3dbl_{1,2,3}`, max pool). The network is the stem, `Mixed_5b`, `Mixed_5c`,
//! `Mixed_6a`, global average pooling and `fc`; `width` = 64 gives torchvision's channel counts
//! for those blocks (256, 288, 768), smaller widths scale every branch proportionally.

use super::inception_infer::{BlockAConvs, BlockBConvs, BlockedInception};
use super::layers::{
    ClassifierNet, ConvBn, ConvShape, avg_pool_3x3_s1_p1, global_avg_pool, max_pool_3x3_s2_p1,
    stage_train,
};
use candle_core::{Result, Tensor};
use candle_nn::{Linear, VarBuilder};
use std::sync::Arc;

/// Inception settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InceptionConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Output classes.
    pub num_classes: usize,
    /// Channels of the 1×1 branch of the first Inception block (64 in Inception-v3).
    pub width: usize,
    /// Stride of the first convolution (2 for large inputs, 1 for small patches).
    pub stem_stride: usize,
}

const BN_EPS: f64 = 1e-3;

/// torchvision's `BasicConv2d`: conv, batch norm, ReLU.
#[derive(Debug, Clone)]
struct BasicConv(ConvBn);

impl BasicConv {
    fn new(shape: ConvShape, vb: VarBuilder) -> Result<BasicConv> {
        Ok(BasicConv(ConvBn::new(
            shape,
            BN_EPS,
            vb.pp("conv"),
            vb.pp("bn"),
        )?))
    }

    fn forward_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        self.0.forward_relu_t(xs, train)
    }
}

fn scaled(width: usize, num: usize, den: usize) -> usize {
    (width * num / den).max(1)
}

/// `InceptionA`: four parallel branches concatenated along channels.
#[derive(Debug, Clone)]
struct BlockA {
    b1: BasicConv,
    b5: [BasicConv; 2],
    b3: [BasicConv; 3],
    pool: BasicConv,
    out: usize,
}

impl BlockA {
    fn new(c_in: usize, width: usize, pool_features: usize, vb: VarBuilder) -> Result<BlockA> {
        let w48 = scaled(width, 3, 4);
        let w96 = scaled(width, 3, 2);
        Ok(BlockA {
            b1: BasicConv::new(ConvShape::same(c_in, width, 1, 1), vb.pp("branch1x1"))?,
            b5: [
                BasicConv::new(ConvShape::same(c_in, w48, 1, 1), vb.pp("branch5x5_1"))?,
                BasicConv::new(ConvShape::same(w48, width, 5, 1), vb.pp("branch5x5_2"))?,
            ],
            b3: [
                BasicConv::new(ConvShape::same(c_in, width, 1, 1), vb.pp("branch3x3dbl_1"))?,
                BasicConv::new(ConvShape::same(width, w96, 3, 1), vb.pp("branch3x3dbl_2"))?,
                BasicConv::new(ConvShape::same(w96, w96, 3, 1), vb.pp("branch3x3dbl_3"))?,
            ],
            pool: BasicConv::new(
                ConvShape::same(c_in, pool_features, 1, 1),
                vb.pp("branch_pool"),
            )?,
            out: width + width + w96 + pool_features,
        })
    }

    fn forward_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        let b1 = self.b1.forward_t(xs, train)?;
        let b5 = self.b5[1].forward_t(&self.b5[0].forward_t(xs, train)?, train)?;
        let mut b3 = xs.clone();
        for c in &self.b3 {
            b3 = c.forward_t(&b3, train)?;
        }
        // avg_pool2d(3, stride 1, padding 1) counting the zero padding, as PyTorch's default.
        let pooled = avg_pool_3x3_s1_p1(xs)?;
        let bp = self.pool.forward_t(&pooled, train)?;
        Tensor::cat(&[b1, b5, b3, bp], 1)
    }

    /// Its folded convolutions, for the blocked inference plan.
    fn convs(&self) -> BlockAConvs<'_> {
        BlockAConvs {
            b1: &self.b1.0,
            b5: [&self.b5[0].0, &self.b5[1].0],
            b3: [&self.b3[0].0, &self.b3[1].0, &self.b3[2].0],
            pool: &self.pool.0,
        }
    }

    fn fold(&mut self) -> Result<()> {
        for c in std::iter::once(&mut self.b1)
            .chain(self.b5.iter_mut())
            .chain(self.b3.iter_mut())
            .chain(std::iter::once(&mut self.pool))
        {
            c.0.fold()?;
        }
        Ok(())
    }
}

/// `InceptionB`: grid reduction (stride-2 branches and a max pool).
#[derive(Debug, Clone)]
struct BlockB {
    b3: BasicConv,
    b3dbl: [BasicConv; 3],
    out: usize,
}

impl BlockB {
    fn new(c_in: usize, width: usize, vb: VarBuilder) -> Result<BlockB> {
        let w384 = scaled(width, 6, 1);
        let w96 = scaled(width, 3, 2);
        let s2 = |c_in, c_out| ConvShape {
            c_in,
            c_out,
            kernel: 3,
            stride: 2,
            padding: 1,
        };
        Ok(BlockB {
            b3: BasicConv::new(s2(c_in, w384), vb.pp("branch3x3"))?,
            b3dbl: [
                BasicConv::new(ConvShape::same(c_in, width, 1, 1), vb.pp("branch3x3dbl_1"))?,
                BasicConv::new(ConvShape::same(width, w96, 3, 1), vb.pp("branch3x3dbl_2"))?,
                BasicConv::new(s2(w96, w96), vb.pp("branch3x3dbl_3"))?,
            ],
            out: w384 + w96 + c_in,
        })
    }

    fn forward_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        let b3 = self.b3.forward_t(xs, train)?;
        let mut bd = xs.clone();
        for c in &self.b3dbl {
            bd = c.forward_t(&bd, train)?;
        }
        // Inputs follow ReLUs, so zero padding equals −∞ padding for the max pool.
        let pool = max_pool_3x3_s2_p1(xs)?;
        Tensor::cat(&[b3, bd, pool], 1)
    }

    /// Its folded convolutions, for the blocked inference plan.
    fn convs(&self) -> BlockBConvs<'_> {
        BlockBConvs {
            b3: &self.b3.0,
            b3dbl: [&self.b3dbl[0].0, &self.b3dbl[1].0, &self.b3dbl[2].0],
        }
    }

    fn fold(&mut self) -> Result<()> {
        self.b3.0.fold()?;
        for c in &mut self.b3dbl {
            c.0.fold()?;
        }
        Ok(())
    }
}

/// The Inception-style classifier.
#[derive(Debug, Clone)]
pub struct Inception {
    stem: [BasicConv; 3],
    mixed_5b: BlockA,
    mixed_5c: BlockA,
    mixed_6a: BlockB,
    fc: Linear,
    embed_dim: usize,
    in_channels: usize,
    frozen_stages: Option<usize>,
    /// The channel-blocked inference pass, built when batch norm is folded.
    inference: Option<Arc<BlockedInception>>,
}

impl Inception {
    /// Builds (or loads) the network; `frozen_stages` as in [`super::resnet::ResNet::new`]
    /// (stage 0 = the three stem convolutions, 1 = `Mixed_5b`, 2 = `Mixed_5c`, 3 = `Mixed_6a`).
    pub fn new(
        config: &InceptionConfig,
        frozen_stages: Option<usize>,
        vb: VarBuilder,
    ) -> Result<Inception> {
        let w = config.width;
        if config.in_channels == 0 || config.num_classes == 0 || w < 2 || config.stem_stride == 0 {
            candle_core::bail!(
                "inception: in_channels, num_classes, stem_stride must be positive and width ≥ 2"
            )
        }
        let half = scaled(w, 1, 2);
        let stem = [
            BasicConv::new(
                ConvShape {
                    c_in: config.in_channels,
                    c_out: half,
                    kernel: 3,
                    stride: config.stem_stride,
                    padding: 1,
                },
                vb.pp("Conv2d_1a_3x3"),
            )?,
            BasicConv::new(ConvShape::same(half, half, 3, 1), vb.pp("Conv2d_2a_3x3"))?,
            BasicConv::new(ConvShape::same(half, w, 3, 1), vb.pp("Conv2d_2b_3x3"))?,
        ];
        let mixed_5b = BlockA::new(w, w, half, vb.pp("Mixed_5b"))?;
        let mixed_5c = BlockA::new(mixed_5b.out, w, w, vb.pp("Mixed_5c"))?;
        let mixed_6a = BlockB::new(mixed_5c.out, w, vb.pp("Mixed_6a"))?;
        let embed_dim = mixed_6a.out;
        let fc = candle_nn::linear(embed_dim, config.num_classes, vb.pp("fc"))?;
        Ok(Inception {
            stem,
            mixed_5b,
            mixed_5c,
            mixed_6a,
            fc,
            embed_dim,
            in_channels: config.in_channels,
            frozen_stages,
            inference: None,
        })
    }
}

impl ClassifierNet for Inception {
    fn features_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        if let (Some(plan), false) = (&self.inference, train) {
            return plan.features(xs);
        }
        let f = self.frozen_stages;
        let t0 = stage_train(train, 0, f);
        let mut ys = xs.clone();
        for c in &self.stem {
            ys = c.forward_t(&ys, t0)?;
        }
        let ys = max_pool_3x3_s2_p1(&ys)?;
        let ys = self.mixed_5b.forward_t(&ys, stage_train(train, 1, f))?;
        let ys = self.mixed_5c.forward_t(&ys, stage_train(train, 2, f))?;
        let ys = self.mixed_6a.forward_t(&ys, stage_train(train, 3, f))?;
        global_avg_pool(&ys)
    }

    fn head(&self) -> &Linear {
        &self.fc
    }

    fn embed_dim(&self) -> usize {
        self.embed_dim
    }

    fn stage_prefixes(&self) -> Vec<Vec<String>> {
        vec![
            vec![
                "Conv2d_1a_3x3.".into(),
                "Conv2d_2a_3x3.".into(),
                "Conv2d_2b_3x3.".into(),
            ],
            vec!["Mixed_5b.".into()],
            vec!["Mixed_5c.".into()],
            vec!["Mixed_6a.".into()],
        ]
    }

    fn fold_batch_norm(&mut self) -> Result<()> {
        for c in &mut self.stem {
            c.0.fold()?;
        }
        self.mixed_5b.fold()?;
        self.mixed_5c.fold()?;
        self.mixed_6a.fold()?;
        self.inference = Some(Arc::new(BlockedInception::new(
            self.in_channels,
            [&self.stem[0].0, &self.stem[1].0, &self.stem[2].0],
            [self.mixed_5b.convs(), self.mixed_5c.convs()],
            self.mixed_6a.convs(),
        )?));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::cnn::store::{parameter_shapes, seeded_varmap};
    use candle_core::Device;

    #[test]
    fn torchvision_widths_at_64_and_names() {
        let cfg = InceptionConfig {
            in_channels: 3,
            num_classes: 2,
            width: 64,
            stem_stride: 2,
        };
        let mut outs = None;
        let shapes = parameter_shapes(|vb| {
            let net = Inception::new(&cfg, None, vb)?;
            outs = Some((net.mixed_5b.out, net.mixed_5c.out, net.embed_dim()));
            Ok(net)
        })
        .unwrap();
        assert_eq!(outs, Some((256, 288, 768)));
        assert_eq!(
            shapes["Mixed_5b.branch_pool.conv.weight"],
            vec![32, 64, 1, 1]
        );
        for n in [
            "Conv2d_1a_3x3.conv.weight",
            "Mixed_5b.branch5x5_2.bn.running_var",
            "Mixed_6a.branch3x3dbl_3.conv.weight",
            "fc.bias",
        ] {
            assert!(shapes.contains_key(n), "missing {n}");
        }
    }

    fn max_abs(t: &Tensor) -> f32 {
        t.abs().unwrap().max_all().unwrap().to_scalar().unwrap()
    }

    #[test]
    fn forward_folding_agrees_and_batches_do_not_change_bits() {
        // Width 8: branch widths 8, 8, 12 and 4 concatenate at unaligned offsets. Width 32 with
        // a stride-2 stem on 62×58 inputs: odd map sizes, and its 3×3 convolutions of 32 and 48
        // channels on 16×15 maps (64 tiles) take the Winograd route.
        for (in_channels, width, stem_stride, (h, w)) in [(2, 8, 1, (16, 16)), (3, 32, 2, (62, 58))]
        {
            let (_map, vb) = seeded_varmap(2);
            let cfg = InceptionConfig {
                in_channels,
                num_classes: 3,
                width,
                stem_stride,
            };
            let mut net = Inception::new(&cfg, None, vb).unwrap();
            let xs = Tensor::randn(0f32, 1.0, (3, in_channels, h, w), &Device::Cpu).unwrap();
            // One training pass moves the running statistics away from (0, 1).
            net.forward_t(&xs, true).unwrap();
            let before = net.forward_t(&xs, false).unwrap();
            assert_eq!(before.dims(), &[3, 3]);
            net.fold_batch_norm().unwrap();
            let after = net.forward_t(&xs, false).unwrap();
            // Folding and the blocked pass reassociate f32 arithmetic: compare relative to the
            // output's magnitude.
            let rel = max_abs(&(&before - &after).unwrap()) / max_abs(&before).max(1e-6);
            assert!(rel < 1e-5, "width {width}: folded differs by {rel}");
            let emb = net.features_t(&xs, false).unwrap();
            assert_eq!(emb.dims(), &[3, net.embed_dim()]);
            // An image's features do not depend on the batch it is predicted in.
            let alone = net.features_t(&xs.narrow(0, 2, 1).unwrap(), false).unwrap();
            let bits = |t: &Tensor| -> Vec<u32> {
                let v = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                v.iter().map(|x| x.to_bits()).collect()
            };
            assert_eq!(
                bits(&alone),
                bits(&emb.narrow(0, 2, 1).unwrap()),
                "width {width}"
            );
            // Nor on the thread count (branches and convolutions split differently).
            for threads in [1, 3] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let got = pool.install(|| net.features_t(&xs, false).unwrap());
                assert_eq!(bits(&got), bits(&emb), "width {width}, {threads} threads");
            }
            let wrong = Tensor::zeros(
                (1, in_channels + 1, h, w),
                candle_core::DType::F32,
                &Device::Cpu,
            )
            .unwrap();
            assert!(net.forward_t(&wrong, false).is_err());
        }
    }
}
