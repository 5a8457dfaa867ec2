//! ResNet-18/34/50 for 2-D inputs with torchvision's parameter names.
//!
//! Principal types: [`ResNet`], [`ResNetConfig`], [`ResNetDepth`], [`Stem`]. Reference: He et
//! al. 2016, "Deep residual learning for image recognition" (CVPR), as implemented in
//! torchvision's `models/resnet.py` (v1.5: the stride of a bottleneck sits on its 3×3 conv).
//! Names: `conv1.weight`, `bn1.{weight,bias,running_mean,running_var}`,
//! `layer{1..4}.{block}.conv{1,2,3}.weight`, `layer{s}.{b}.bn{1,2,3}.*`,
//! `layer{s}.0.downsample.{0,1}.*`, `fc.{weight,bias}`, so converted ImageNet weights load by
//! name. `base_width` scales every stage (64 in torchvision; 8–16 for tiny test nets).
//! A 3-D variant is not provided: candle 0.11 has no 3-D convolution; 3-D crops are fed as
//! 2.5-D inputs (slices as channels) instead.

use super::layers::{
    ClassifierNet, ConvBn, ConvShape, global_avg_pool, max_pool_3x3_s2_p1, stage_train,
};
use super::resnet_infer::BlockedResNet;
use candle_core::{Result, Tensor};
use candle_nn::{Linear, VarBuilder};
use std::sync::Arc;

/// Which ResNet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResNetDepth {
    /// Basic blocks [2, 2, 2, 2].
    #[serde(rename = "resnet18")]
    R18,
    /// Basic blocks [3, 4, 6, 3].
    #[serde(rename = "resnet34")]
    R34,
    /// Bottleneck blocks [3, 4, 6, 3], expansion 4.
    #[serde(rename = "resnet50")]
    R50,
}

impl ResNetDepth {
    /// Blocks per stage.
    pub fn blocks(self) -> [usize; 4] {
        match self {
            ResNetDepth::R18 => [2, 2, 2, 2],
            ResNetDepth::R34 | ResNetDepth::R50 => [3, 4, 6, 3],
        }
    }

    /// Output channels of a block relative to its planes (1 basic, 4 bottleneck).
    pub fn expansion(self) -> usize {
        match self {
            ResNetDepth::R50 => 4,
            _ => 1,
        }
    }
}

/// The first layers before the residual stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stem {
    /// torchvision's: 7×7 conv stride 2, then 3×3 max pool stride 2 (÷4 resolution).
    Imagenet,
    /// For small patches (≤ 64 px): 3×3 conv stride 1, no max pool (CIFAR-style). `conv1`
    /// then has a 3×3 kernel, so ImageNet checkpoints load only partially.
    Small,
}

/// ResNet settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResNetConfig {
    /// Depth and block type.
    pub depth: ResNetDepth,
    /// Input channels.
    pub in_channels: usize,
    /// Output classes (width of `fc`).
    pub num_classes: usize,
    /// Planes of the first stage (doubled at each later stage); 64 in torchvision.
    pub base_width: usize,
    /// Stem type.
    pub stem: Stem,
}

impl ResNetConfig {
    /// torchvision's network: base width 64, ImageNet stem.
    pub fn torchvision(depth: ResNetDepth, in_channels: usize, num_classes: usize) -> ResNetConfig {
        ResNetConfig {
            depth,
            in_channels,
            num_classes,
            base_width: 64,
            stem: Stem::Imagenet,
        }
    }
}

/// torchvision's batch-norm epsilon.
const BN_EPS: f64 = 1e-5;

/// One residual block (basic or bottleneck).
#[derive(Debug, Clone)]
struct Block {
    convs: Vec<ConvBn>,
    downsample: Option<ConvBn>,
}

impl Block {
    fn basic(c_in: usize, planes: usize, stride: usize, vb: &VarBuilder) -> Result<Block> {
        let convs = vec![
            ConvBn::new(
                ConvShape::same(c_in, planes, 3, stride),
                BN_EPS,
                vb.pp("conv1"),
                vb.pp("bn1"),
            )?,
            ConvBn::new(
                ConvShape::same(planes, planes, 3, 1),
                BN_EPS,
                vb.pp("conv2"),
                vb.pp("bn2"),
            )?,
        ];
        let downsample = Block::downsample(c_in, planes, stride, vb)?;
        Ok(Block { convs, downsample })
    }

    fn bottleneck(c_in: usize, planes: usize, stride: usize, vb: &VarBuilder) -> Result<Block> {
        let out = planes * 4;
        let convs = vec![
            ConvBn::new(
                ConvShape::same(c_in, planes, 1, 1),
                BN_EPS,
                vb.pp("conv1"),
                vb.pp("bn1"),
            )?,
            ConvBn::new(
                ConvShape::same(planes, planes, 3, stride),
                BN_EPS,
                vb.pp("conv2"),
                vb.pp("bn2"),
            )?,
            ConvBn::new(
                ConvShape::same(planes, out, 1, 1),
                BN_EPS,
                vb.pp("conv3"),
                vb.pp("bn3"),
            )?,
        ];
        let downsample = Block::downsample(c_in, out, stride, vb)?;
        Ok(Block { convs, downsample })
    }

    /// A 1×1 projection when the shape changes (torchvision `downsample.0` conv, `.1` BN).
    fn downsample(
        c_in: usize,
        c_out: usize,
        stride: usize,
        vb: &VarBuilder,
    ) -> Result<Option<ConvBn>> {
        if stride == 1 && c_in == c_out {
            return Ok(None);
        }
        let vb = vb.pp("downsample");
        let shape = ConvShape {
            c_in,
            c_out,
            kernel: 1,
            stride,
            padding: 0,
        };
        Ok(Some(ConvBn::new(shape, BN_EPS, vb.pp("0"), vb.pp("1"))?))
    }

    fn forward_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        let shortcut = match &self.downsample {
            Some(d) => d.forward_t(xs, train)?,
            None => xs.clone(),
        };
        let (last, inner) = match self.convs.split_last() {
            Some(split) => split,
            None => candle_core::bail!("resnet block without convolutions"),
        };
        let mut ys = xs.clone();
        for conv in inner {
            ys = conv.forward_relu_t(&ys, train)?;
        }
        last.forward_residual_relu_t(&ys, &shortcut, train)
    }

    fn fold(&mut self) -> Result<()> {
        for c in &mut self.convs {
            c.fold()?;
        }
        if let Some(d) = &mut self.downsample {
            d.fold()?;
        }
        Ok(())
    }
}

/// A ResNet classifier.
#[derive(Debug, Clone)]
pub struct ResNet {
    config: ResNetConfig,
    stem: ConvBn,
    stages: Vec<Vec<Block>>,
    fc: Linear,
    frozen_stages: Option<usize>,
    /// The channel-blocked inference pass, built when batch norm is folded.
    inference: Option<Arc<BlockedResNet>>,
}

impl ResNet {
    /// Builds (or loads, depending on `vb`) a ResNet. `frozen_stages = Some(k)` runs the stem
    /// (stage 0) and `layer1..=layerk` in evaluation mode during training (see
    /// [`super::train`] for excluding their parameters from the optimiser).
    pub fn new(
        config: &ResNetConfig,
        frozen_stages: Option<usize>,
        vb: VarBuilder,
    ) -> Result<ResNet> {
        if config.in_channels == 0 || config.num_classes == 0 || config.base_width == 0 {
            candle_core::bail!("resnet: in_channels, num_classes and base_width must be positive")
        }
        let stem_shape = match config.stem {
            Stem::Imagenet => ConvShape {
                c_in: config.in_channels,
                c_out: config.base_width,
                kernel: 7,
                stride: 2,
                padding: 3,
            },
            Stem::Small => ConvShape::same(config.in_channels, config.base_width, 3, 1),
        };
        let stem = ConvBn::new(stem_shape, BN_EPS, vb.pp("conv1"), vb.pp("bn1"))?;
        let expansion = config.depth.expansion();
        let mut c_in = config.base_width;
        let mut stages = Vec::with_capacity(4);
        for (s, &n_blocks) in config.depth.blocks().iter().enumerate() {
            let planes = config.base_width << s;
            let vb_stage = vb.pp(format!("layer{}", s + 1));
            let mut blocks = Vec::with_capacity(n_blocks);
            for b in 0..n_blocks {
                let stride = if s > 0 && b == 0 { 2 } else { 1 };
                let vb_block = vb_stage.pp(b.to_string());
                let block = if expansion == 1 {
                    Block::basic(c_in, planes, stride, &vb_block)?
                } else {
                    Block::bottleneck(c_in, planes, stride, &vb_block)?
                };
                c_in = planes * expansion;
                blocks.push(block);
            }
            stages.push(blocks);
        }
        let fc = candle_nn::linear(c_in, config.num_classes, vb.pp("fc"))?;
        Ok(ResNet {
            config: config.clone(),
            stem,
            stages,
            fc,
            frozen_stages,
            inference: None,
        })
    }

    /// The settings it was built with.
    pub fn config(&self) -> &ResNetConfig {
        &self.config
    }
}

impl ClassifierNet for ResNet {
    fn features_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        if let (Some(plan), false) = (&self.inference, train) {
            return plan.features(xs);
        }
        let mut ys = self
            .stem
            .forward_relu_t(xs, stage_train(train, 0, self.frozen_stages))?;
        if self.config.stem == Stem::Imagenet {
            ys = max_pool_3x3_s2_p1(&ys)?;
        }
        for (s, blocks) in self.stages.iter().enumerate() {
            let t = stage_train(train, s + 1, self.frozen_stages);
            for block in blocks {
                ys = block.forward_t(&ys, t)?;
            }
        }
        global_avg_pool(&ys)
    }

    fn head(&self) -> &Linear {
        &self.fc
    }

    fn embed_dim(&self) -> usize {
        (self.config.base_width << 3) * self.config.depth.expansion()
    }

    fn stage_prefixes(&self) -> Vec<Vec<String>> {
        let mut out = vec![vec!["conv1.".to_string(), "bn1.".to_string()]];
        out.extend((1..=4).map(|s| vec![format!("layer{s}.")]));
        out
    }

    fn fold_batch_norm(&mut self) -> Result<()> {
        self.stem.fold()?;
        for block in self.stages.iter_mut().flatten() {
            block.fold()?;
        }
        let blocks = self
            .stages
            .iter()
            .flatten()
            .map(|b| (&b.convs[..], b.downsample.as_ref()));
        self.inference = Some(Arc::new(BlockedResNet::new(
            self.config.in_channels,
            &self.stem,
            self.config.stem == Stem::Imagenet,
            blocks,
        )?));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::cnn::store::{parameter_shapes, seeded_varmap};
    use candle_core::{DType, Device};

    fn tiny(depth: ResNetDepth) -> ResNetConfig {
        ResNetConfig {
            depth,
            in_channels: 1,
            num_classes: 2,
            base_width: 4,
            stem: Stem::Small,
        }
    }

    fn param_count(shapes: &std::collections::BTreeMap<String, Vec<usize>>) -> usize {
        // torchvision counts parameters, not the running-statistics buffers.
        shapes
            .iter()
            .filter(|(k, _)| !k.contains("running_"))
            .map(|(_, s)| s.iter().product::<usize>())
            .sum()
    }

    #[test]
    fn torchvision_names_shapes_and_counts() {
        let cfg = ResNetConfig::torchvision(ResNetDepth::R18, 3, 1000);
        let shapes = parameter_shapes(|vb| ResNet::new(&cfg, None, vb)).unwrap();
        assert_eq!(shapes["conv1.weight"], vec![64, 3, 7, 7]);
        assert_eq!(shapes["bn1.running_mean"], vec![64]);
        assert_eq!(shapes["layer1.0.conv1.weight"], vec![64, 64, 3, 3]);
        assert_eq!(shapes["layer2.0.downsample.0.weight"], vec![128, 64, 1, 1]);
        assert_eq!(shapes["layer4.1.bn2.running_var"], vec![512]);
        assert_eq!(shapes["fc.weight"], vec![1000, 512]);
        assert_eq!(param_count(&shapes), 11_689_512);
        let r34 = ResNetConfig::torchvision(ResNetDepth::R34, 3, 1000);
        assert_eq!(
            param_count(&parameter_shapes(|vb| ResNet::new(&r34, None, vb)).unwrap()),
            21_797_672
        );
        let r50 = ResNetConfig::torchvision(ResNetDepth::R50, 3, 1000);
        let shapes = parameter_shapes(|vb| ResNet::new(&r50, None, vb)).unwrap();
        assert_eq!(shapes["layer1.0.conv3.weight"], vec![256, 64, 1, 1]);
        assert_eq!(param_count(&shapes), 25_557_032);
    }

    #[test]
    fn forward_shapes_and_folding_agree() {
        // The ImageNet stem (7×7 stride 2 and max pool) needs room: 32² maps. Width 32 on 16²
        // maps takes the Winograd route in its first stage (32 channels, 64 tiles).
        for (depth, stem, side, width) in [
            (ResNetDepth::R18, Stem::Small, 16, 4),
            (ResNetDepth::R50, Stem::Small, 16, 4),
            (ResNetDepth::R34, Stem::Imagenet, 32, 4),
            (ResNetDepth::R18, Stem::Small, 16, 32),
        ] {
            let (_map, vb) = seeded_varmap(2);
            let mut net = ResNet::new(
                &ResNetConfig {
                    stem,
                    base_width: width,
                    ..tiny(depth)
                },
                None,
                vb,
            )
            .unwrap();
            let xs = Tensor::randn(0f32, 1.0, (2, 1, side, side), &Device::Cpu).unwrap();
            // One training pass moves the running statistics away from (0, 1).
            net.forward_t(&xs, true).unwrap();
            let before = net.forward_t(&xs, false).unwrap();
            assert_eq!(before.dims(), &[2, 2]);
            net.fold_batch_norm().unwrap();
            let after = net.forward_t(&xs, false).unwrap();
            let max_abs = |t: &Tensor| {
                t.abs()
                    .unwrap()
                    .max_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap()
            };
            // Folding reassociates f32 arithmetic: compare relative to the output's magnitude.
            let rel = max_abs(&(&before - &after).unwrap()) / max_abs(&before).max(1e-6);
            assert!(rel < 1e-5, "{depth:?}: folded differs by {rel} (relative)");
            let emb = net.features_t(&xs, false).unwrap();
            assert_eq!(emb.dims(), &[2, net.embed_dim()]);
        }
    }

    #[test]
    fn imagenet_stem_runs_on_small_inputs() {
        let (_map, vb) = seeded_varmap(3);
        let mut cfg = tiny(ResNetDepth::R34);
        cfg.stem = Stem::Imagenet;
        let net = ResNet::new(&cfg, None, vb).unwrap();
        let xs = Tensor::zeros((1, 1, 32, 32), DType::F32, &Device::Cpu).unwrap();
        assert_eq!(net.forward_t(&xs, false).unwrap().dims(), &[1, 2]);
    }
}
