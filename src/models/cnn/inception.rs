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

use super::layers::{
    ClassifierNet, ConvBn, ConvShape, avg_pool_3x3_s1_p1, global_avg_pool, max_pool_3x3_s2_p1,
    stage_train,
};
use candle_core::{Result, Tensor};
use candle_nn::{Linear, VarBuilder};

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
    frozen_stages: Option<usize>,
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
            frozen_stages,
        })
    }
}

impl ClassifierNet for Inception {
    fn features_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
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
        self.mixed_6a.fold()
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

    #[test]
    fn small_net_forward_and_fold() {
        let (_map, vb) = seeded_varmap(2);
        let cfg = InceptionConfig {
            in_channels: 2,
            num_classes: 3,
            width: 8,
            stem_stride: 1,
        };
        let mut net = Inception::new(&cfg, None, vb).unwrap();
        let xs = Tensor::randn(0f32, 1.0, (2, 2, 16, 16), &Device::Cpu).unwrap();
        net.forward_t(&xs, true).unwrap();
        let before = net.forward_t(&xs, false).unwrap();
        assert_eq!(before.dims(), &[2, 3]);
        net.fold_batch_norm().unwrap();
        let after = net.forward_t(&xs, false).unwrap();
        let diff: f32 = (before - after)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar()
            .unwrap();
        assert!(diff < 1e-4, "{diff}");
    }
}
