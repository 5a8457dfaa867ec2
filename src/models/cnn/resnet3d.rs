//! ResNet-18/34/50 for 3-D volumes (`[b, c, d, h, w]`), with torchvision's 2-D parameter names.
//!
//! Principal types: [`ResNet3d`], [`ResNet3dConfig`]. The 3-D ResNet of Hara, Kataoka & Satoh
//! 2018 ("Can spatiotemporal 3D CNNs retrace the history of 2D CNNs and ImageNet?", CVPR; as in
//! torchvision's `video.r3d_18` and MedicalNet, Chen et al. 2019): every k×k convolution of
//! [`super::resnet`] becomes k×k×k, batch norm is 3-D, the stride-2 stages halve all three axes,
//! and global average pooling runs over the volume. The names are those of the 2-D net
//! (`conv1.weight` `[base, c_in, 7, 7, 7]`, `layer{s}.{b}.conv{i}.weight`,
//! `layer{s}.0.downsample.{0,1}.*`, `fc.*`), so checkpoints round-trip through
//! [`super::transfer`] and [`super::train`] freezes the same stage prefixes. The
//! [`Stem::Small`] stem (3×3×3 at stride 1, no max pool) suits small volumes such as
//! MedMNIST's 28³; [`Stem::Imagenet`] is 7×7×7 at stride 2 then a 3×3×3 max pool at stride 2.

use super::conv3d::Conv3dShape;
use super::layers::{ClassifierNet, stage_train};
use super::layers3d::{ConvBn3d, global_avg_pool3d, max_pool3d};
use super::resnet::{ResNetConfig, Stem};
use super::resnet_infer::BlockedResNet;
use candle_core::{Result, Tensor};
use candle_nn::{Linear, VarBuilder};
use std::sync::Arc;

/// 3-D ResNet settings: the same fields as the 2-D [`ResNetConfig`].
pub type ResNet3dConfig = ResNetConfig;

/// torchvision's batch-norm epsilon.
const BN_EPS: f64 = 1e-5;

/// One residual block (basic or bottleneck).
#[derive(Debug, Clone)]
struct Block3d {
    convs: Vec<ConvBn3d>,
    downsample: Option<ConvBn3d>,
}

impl Block3d {
    fn basic(c_in: usize, planes: usize, stride: usize, vb: &VarBuilder) -> Result<Block3d> {
        let convs = vec![
            ConvBn3d::same(
                (c_in, planes, 3),
                stride,
                BN_EPS,
                vb.pp("conv1"),
                vb.pp("bn1"),
            )?,
            ConvBn3d::same((planes, planes, 3), 1, BN_EPS, vb.pp("conv2"), vb.pp("bn2"))?,
        ];
        let downsample = Block3d::downsample(c_in, planes, stride, vb)?;
        Ok(Block3d { convs, downsample })
    }

    fn bottleneck(c_in: usize, planes: usize, stride: usize, vb: &VarBuilder) -> Result<Block3d> {
        let out = planes * 4;
        let convs = vec![
            ConvBn3d::same((c_in, planes, 1), 1, BN_EPS, vb.pp("conv1"), vb.pp("bn1"))?,
            ConvBn3d::same(
                (planes, planes, 3),
                stride,
                BN_EPS,
                vb.pp("conv2"),
                vb.pp("bn2"),
            )?,
            ConvBn3d::same((planes, out, 1), 1, BN_EPS, vb.pp("conv3"), vb.pp("bn3"))?,
        ];
        let downsample = Block3d::downsample(c_in, out, stride, vb)?;
        Ok(Block3d { convs, downsample })
    }

    /// A 1×1×1 projection when the shape changes (`downsample.0` conv, `.1` BN).
    fn downsample(
        c_in: usize,
        c_out: usize,
        stride: usize,
        vb: &VarBuilder,
    ) -> Result<Option<ConvBn3d>> {
        if stride == 1 && c_in == c_out {
            return Ok(None);
        }
        let vb = vb.pp("downsample");
        Ok(Some(ConvBn3d::same(
            (c_in, c_out, 1),
            stride,
            BN_EPS,
            vb.pp("0"),
            vb.pp("1"),
        )?))
    }

    fn forward_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        let shortcut = match &self.downsample {
            Some(d) => d.forward_t(xs, train)?,
            None => xs.clone(),
        };
        let Some((last, inner)) = self.convs.split_last() else {
            candle_core::bail!("resnet3d block without convolutions")
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

/// A 3-D ResNet classifier.
#[derive(Debug, Clone)]
pub struct ResNet3d {
    config: ResNet3dConfig,
    stem: ConvBn3d,
    stages: Vec<Vec<Block3d>>,
    fc: Linear,
    frozen_stages: Option<usize>,
    /// The channel-blocked inference pass, built when batch norm is folded.
    inference: Option<Arc<BlockedResNet>>,
}

impl ResNet3d {
    /// Builds (or loads, depending on `vb`) a 3-D ResNet; `frozen_stages` as for the 2-D
    /// [`super::resnet::ResNet::new`].
    pub fn new(
        config: &ResNet3dConfig,
        frozen_stages: Option<usize>,
        vb: VarBuilder,
    ) -> Result<ResNet3d> {
        if config.in_channels == 0 || config.num_classes == 0 || config.base_width == 0 {
            candle_core::bail!("resnet3d: in_channels, num_classes and base_width must be positive")
        }
        let (kernel, shape) = match config.stem {
            Stem::Imagenet => (7, Conv3dShape::cubic(2, 3)),
            Stem::Small => (3, Conv3dShape::cubic(1, 1)),
        };
        let stem = ConvBn3d::new(
            (config.in_channels, config.base_width, kernel),
            shape,
            BN_EPS,
            vb.pp("conv1"),
            vb.pp("bn1"),
        )?;
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
                blocks.push(if expansion == 1 {
                    Block3d::basic(c_in, planes, stride, &vb_block)?
                } else {
                    Block3d::bottleneck(c_in, planes, stride, &vb_block)?
                });
                c_in = planes * expansion;
            }
            stages.push(blocks);
        }
        let fc = candle_nn::linear(c_in, config.num_classes, vb.pp("fc"))?;
        Ok(ResNet3d {
            config: config.clone(),
            stem,
            stages,
            fc,
            frozen_stages,
            inference: None,
        })
    }

    /// The settings it was built with.
    pub fn config(&self) -> &ResNet3dConfig {
        &self.config
    }
}

impl ClassifierNet for ResNet3d {
    fn features_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        if xs.rank() != 5 {
            candle_core::bail!(
                "resnet3d: input must be [batch, channels, d, h, w], got {:?}",
                xs.dims()
            )
        }
        if let (Some(plan), false) = (&self.inference, train) {
            return plan.features(xs);
        }
        let mut ys = self
            .stem
            .forward_relu_t(xs, stage_train(train, 0, self.frozen_stages))?;
        if self.config.stem == Stem::Imagenet {
            ys = max_pool3d(&ys, 3, 2, 1)?;
        }
        for (s, blocks) in self.stages.iter().enumerate() {
            let t = stage_train(train, s + 1, self.frozen_stages);
            for block in blocks {
                ys = block.forward_t(&ys, t)?;
            }
        }
        global_avg_pool3d(&ys)
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
    use crate::models::cnn::resnet::{ResNet, ResNetDepth};
    use crate::models::cnn::store::{parameter_shapes, seeded_varmap};
    use candle_core::Device;

    fn param_count(shapes: &std::collections::BTreeMap<String, Vec<usize>>) -> usize {
        shapes
            .iter()
            .filter(|(k, _)| !k.contains("running_"))
            .map(|(_, s)| s.iter().product::<usize>())
            .sum()
    }

    #[test]
    fn names_shapes_and_counts() {
        let cfg = ResNetConfig::torchvision(ResNetDepth::R18, 3, 400);
        let shapes = parameter_shapes(|vb| ResNet3d::new(&cfg, None, vb)).unwrap();
        assert_eq!(shapes["conv1.weight"], vec![64, 3, 7, 7, 7]);
        assert_eq!(shapes["layer1.0.conv1.weight"], vec![64, 64, 3, 3, 3]);
        assert_eq!(
            shapes["layer2.0.downsample.0.weight"],
            vec![128, 64, 1, 1, 1]
        );
        assert_eq!(shapes["fc.weight"], vec![400, 512]);
        // Independent count: the 2-D ResNet-18's parameters with every k×k kernel made k×k×k.
        // Convolutions: stem 64·3·343; basic blocks 3³ = 27 taps; projections 1 tap.
        let convs_3x3: usize = [
            (64, 64, 4), // layer1: 4 convs 64→64
            (64, 128, 1),
            (128, 128, 3),
            (128, 256, 1),
            (256, 256, 3),
            (256, 512, 1),
            (512, 512, 3),
        ]
        .iter()
        .map(|&(i, o, n)| i * o * 27 * n)
        .sum();
        let projections = 64 * 128 + 128 * 256 + 256 * 512;
        // Batch norms: γ and β for stem + 16 block convs + 3 projections.
        let bn = 2 * (64 + 4 * 64 + 4 * 128 + 4 * 256 + 4 * 512 + 128 + 256 + 512);
        let fc = 512 * 400 + 400;
        let want = 64 * 3 * 343 + convs_3x3 + projections + bn + fc;
        assert_eq!(param_count(&shapes), want);
        // torchvision's video r3d_18 (stem 3×7×7, 400 classes) has 33,371,472 parameters; ours
        // differs only in the stem's temporal extent (7 instead of 3): 64·3·7·7·4 = 37,632.
        assert_eq!(param_count(&shapes), 33_371_472 + 37_632);
        // Every depth: the 2-D net's names, each k×k kernel made k×k×k.
        for depth in [ResNetDepth::R18, ResNetDepth::R34, ResNetDepth::R50] {
            let cfg = ResNetConfig::torchvision(depth, 1, 2);
            let flat = parameter_shapes(|vb| ResNet::new(&cfg, None, vb)).unwrap();
            let cubic = parameter_shapes(|vb| ResNet3d::new(&cfg, None, vb)).unwrap();
            assert!(flat.keys().eq(cubic.keys()), "{depth:?}: names differ");
            for (name, s2) in &flat {
                let mut want = s2.clone();
                if want.len() == 4 {
                    want.push(want[3]);
                }
                assert_eq!(cubic[name], want, "{depth:?} {name}");
            }
        }
    }

    #[test]
    fn forward_shapes_and_folding_agree() {
        for (depth, stem) in [
            (ResNetDepth::R18, Stem::Small),
            (ResNetDepth::R50, Stem::Small),
            (ResNetDepth::R18, Stem::Imagenet),
        ] {
            let cfg = ResNetConfig {
                depth,
                in_channels: 1,
                num_classes: 2,
                base_width: 2,
                stem,
            };
            let (_map, vb) = seeded_varmap(2);
            let mut net = ResNet3d::new(&cfg, None, vb).unwrap();
            let xs = Tensor::randn(0f32, 1.0, (2, 1, 8, 9, 10), &Device::Cpu).unwrap();
            net.forward_t(&xs, true).unwrap();
            let before = net.forward_t(&xs, false).unwrap();
            assert_eq!(before.dims(), &[2, 2]);
            net.fold_batch_norm().unwrap();
            let after = net.forward_t(&xs, false).unwrap();
            let max_abs =
                |t: &Tensor| -> f32 { t.abs().unwrap().max_all().unwrap().to_scalar().unwrap() };
            let rel = max_abs(&(&before - &after).unwrap()) / max_abs(&before).max(1e-6);
            assert!(rel < 1e-4, "{depth:?} {stem:?}: folded differs by {rel}");
            assert_eq!(
                net.features_t(&xs, false).unwrap().dims(),
                &[2, net.embed_dim()]
            );
            let flat = xs.flatten_from(1).unwrap();
            assert!(net.forward_t(&flat, false).is_err());
        }
    }

    #[test]
    fn the_folded_pass_gives_a_volume_the_same_bits_alone_or_in_a_batch() {
        for stem in [Stem::Small, Stem::Imagenet] {
            let cfg = ResNetConfig {
                depth: ResNetDepth::R18,
                in_channels: 1,
                num_classes: 2,
                base_width: 8,
                stem,
            };
            let (_map, vb) = seeded_varmap(3);
            let mut net = ResNet3d::new(&cfg, None, vb).unwrap();
            let xs = Tensor::randn(0f32, 1.0, (3, 1, 12, 12, 12), &Device::Cpu).unwrap();
            net.forward_t(&xs, true).unwrap();
            net.fold_batch_norm().unwrap();
            let bits = |t: Tensor| -> Vec<u32> {
                let v: Vec<f32> = t.flatten_all().unwrap().to_vec1().unwrap();
                v.iter().map(|x| x.to_bits()).collect()
            };
            let whole = bits(net.forward_t(&xs, false).unwrap());
            for i in 0..3 {
                let alone = bits(net.forward_t(&xs.narrow(0, i, 1).unwrap(), false).unwrap());
                assert_eq!(alone, whole[i * 2..(i + 1) * 2], "{stem:?}: volume {i}");
            }
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(3)
                .build()
                .unwrap();
            let threads = pool.install(|| bits(net.forward_t(&xs, false).unwrap()));
            assert_eq!(threads, whole, "{stem:?}: 3 threads");
        }
    }
}
