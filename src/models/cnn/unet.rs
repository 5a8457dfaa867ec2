//! A small 2-D U-Net for lesion segmentation.
//!
//! Principal types: [`UNet`], [`UNetConfig`]. Reference: Ronneberger, Fischer & Brox 2015,
//! "U-Net: convolutional networks for biomedical image segmentation" (MICCAI), with batch norm
//! after each 3×3 convolution and "same" padding so the output has the input's size.
//! Names: `enc{l}.conv{1,2}.weight`, `enc{l}.bn{1,2}.*`, `bottom.*`, `up{l}.{weight,bias}`
//! (2×2 transposed convolution), `dec{l}.*`, `head.{weight,bias}` (1×1 convolution to the
//! class logits). Input height and width must be divisible by `2^levels`.

use super::layers::{ConvBn, ConvShape};
use super::unet_infer::BlockedUNet;
use candle_core::{Module, Result, Tensor};
use candle_nn::{Conv2d, ConvTranspose2d, ConvTranspose2dConfig, VarBuilder};
use std::sync::Arc;

/// U-Net settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UNetConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels: 1 for a binary mask (sigmoid), k ≥ 2 for k classes (softmax).
    pub num_classes: usize,
    /// Channels at full resolution (doubled at each level).
    pub base_width: usize,
    /// Number of down-sampling steps.
    pub levels: usize,
}

const BN_EPS: f64 = 1e-5;

/// Two 3×3 conv + batch norm + ReLU layers.
#[derive(Debug, Clone)]
struct DoubleConv([ConvBn; 2]);

impl DoubleConv {
    fn new(c_in: usize, c_out: usize, vb: VarBuilder) -> Result<DoubleConv> {
        Ok(DoubleConv([
            ConvBn::new(
                ConvShape::same(c_in, c_out, 3, 1),
                BN_EPS,
                vb.pp("conv1"),
                vb.pp("bn1"),
            )?,
            ConvBn::new(
                ConvShape::same(c_out, c_out, 3, 1),
                BN_EPS,
                vb.pp("conv2"),
                vb.pp("bn2"),
            )?,
        ]))
    }

    fn forward_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        let ys = self.0[0].forward_relu_t(xs, train)?;
        self.0[1].forward_relu_t(&ys, train)
    }

    fn fold(&mut self) -> Result<()> {
        self.0[0].fold()?;
        self.0[1].fold()
    }
}

/// The U-Net.
#[derive(Debug, Clone)]
pub struct UNet {
    config: UNetConfig,
    enc: Vec<DoubleConv>,
    bottom: DoubleConv,
    up: Vec<ConvTranspose2d>,
    dec: Vec<DoubleConv>,
    head: Conv2d,
    /// The channel-blocked inference pass, built when batch norm is folded.
    inference: Option<Arc<BlockedUNet>>,
}

impl UNet {
    /// Builds (or loads) a U-Net.
    pub fn new(config: &UNetConfig, vb: VarBuilder) -> Result<UNet> {
        if config.in_channels == 0 || config.num_classes == 0 || config.base_width == 0 {
            candle_core::bail!("unet: in_channels, num_classes and base_width must be positive")
        }
        let w = |l: usize| config.base_width << l;
        let mut enc = Vec::with_capacity(config.levels);
        let mut c_in = config.in_channels;
        for l in 0..config.levels {
            enc.push(DoubleConv::new(c_in, w(l), vb.pp(format!("enc{l}")))?);
            c_in = w(l);
        }
        let bottom = DoubleConv::new(c_in, w(config.levels), vb.pp("bottom"))?;
        let mut up = Vec::with_capacity(config.levels);
        let mut dec = Vec::with_capacity(config.levels);
        let up_cfg = ConvTranspose2dConfig {
            stride: 2,
            ..Default::default()
        };
        for l in 0..config.levels {
            up.push(candle_nn::conv_transpose2d(
                w(l + 1),
                w(l),
                2,
                up_cfg,
                vb.pp(format!("up{l}")),
            )?);
            dec.push(DoubleConv::new(2 * w(l), w(l), vb.pp(format!("dec{l}")))?);
        }
        let head = candle_nn::conv2d(
            w(0),
            config.num_classes,
            1,
            Default::default(),
            vb.pp("head"),
        )?;
        Ok(UNet {
            config: config.clone(),
            enc,
            bottom,
            up,
            dec,
            head,
            inference: None,
        })
    }

    /// The settings it was built with.
    pub fn config(&self) -> &UNetConfig {
        &self.config
    }

    /// Logits `[batch, num_classes, h, w]` for inputs `[batch, in_channels, h, w]`.
    pub fn forward_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        let (_, _, h, w) = xs.dims4()?;
        let factor = 1usize << self.config.levels;
        if h % factor != 0 || w % factor != 0 {
            candle_core::bail!("unet: input {h}×{w} is not divisible by 2^levels = {factor}")
        }
        if let (Some(plan), false) = (&self.inference, train) {
            return plan.forward(xs);
        }
        let mut skips = Vec::with_capacity(self.config.levels);
        let mut ys = xs.clone();
        for enc in &self.enc {
            ys = enc.forward_t(&ys, train)?;
            skips.push(ys.clone());
            ys = ys.max_pool2d(2)?;
        }
        ys = self.bottom.forward_t(&ys, train)?;
        for l in (0..self.config.levels).rev() {
            let upsampled = up_2x2(&self.up[l], &ys)?;
            ys = self.dec[l].forward_t(&Tensor::cat(&[&skips[l], &upsampled], 1)?, train)?;
        }
        self.head.forward(&ys)
    }

    /// Folds batch norm into the convolutions for inference, and builds the channel-blocked
    /// inference pass that `forward_t(_, false)` runs from then on.
    pub fn fold_batch_norm(&mut self) -> Result<()> {
        for d in self.enc.iter_mut().chain(self.dec.iter_mut()) {
            d.fold()?;
        }
        self.bottom.fold()?;
        self.inference = Some(Arc::new(BlockedUNet::new(
            self.config.in_channels,
            self.enc.iter().map(|d| &d.0),
            &self.bottom.0,
            &self.up,
            self.dec.iter().map(|d| &d.0),
            &self.head,
        )?));
        Ok(())
    }
}

/// A 2×2, stride-2 transposed convolution as one matrix product: every input pixel spreads to
/// its own 2×2 output block, so `[b·h·w, c_in] · [c_in, c_out·4]` followed by a reshuffle gives
/// PyTorch's `ConvTranspose2d(k=2, s=2)` exactly, with gradients (candle's CPU transposed
/// convolution is a direct loop and was the U-Net's slowest layer).
fn up_2x2(up: &ConvTranspose2d, xs: &Tensor) -> Result<Tensor> {
    let (b, c_in, h, w) = xs.dims4()?;
    let (_, c_out, _, _) = up.weight().dims4()?;
    let rows = xs.permute((0, 2, 3, 1))?.reshape((b * h * w, c_in))?;
    let kernel = up.weight().reshape((c_in, c_out * 4))?;
    let blocks = rows.matmul(&kernel)?.reshape((b, h, w, c_out, 2, 2))?;
    let ys = blocks
        .permute((0, 3, 1, 4, 2, 5))?
        .reshape((b, c_out, 2 * h, 2 * w))?;
    match up.bias() {
        Some(bias) => ys.broadcast_add(&bias.reshape((1, c_out, 1, 1))?),
        None => Ok(ys),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::cnn::store::seeded_varmap;
    use candle_core::Device;

    #[test]
    fn matmul_upsampling_equals_transposed_convolution() {
        let (_map, vb) = seeded_varmap(3);
        let cfg = ConvTranspose2dConfig {
            stride: 2,
            ..Default::default()
        };
        let up = candle_nn::conv_transpose2d(6, 4, 2, cfg, vb).unwrap();
        let xs = Tensor::randn(0f32, 1.0, (2, 6, 3, 5), &Device::Cpu).unwrap();
        let ours = up_2x2(&up, &xs).unwrap();
        let theirs = up.forward(&xs).unwrap();
        assert_eq!(ours.dims(), &[2, 4, 6, 10]);
        let diff: f32 = (ours - theirs)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar()
            .unwrap();
        assert!(diff < 1e-5, "{diff}");
    }

    fn max_abs(t: &Tensor) -> f32 {
        t.abs().unwrap().max_all().unwrap().to_scalar().unwrap()
    }

    #[test]
    fn output_has_input_size_folding_agrees_and_bad_sizes_fail() {
        // Widths 4 and 12 concatenate at unaligned channel offsets; width 16 on 32² maps takes
        // the Winograd route in the decoder (32 and 64 input channels, 64 and 256 tiles).
        for (in_channels, num_classes, base_width, levels, (h, w)) in [
            (1, 1, 4, 2, (16, 16)),
            (3, 3, 12, 1, (8, 12)),
            (2, 2, 16, 2, (32, 32)),
        ] {
            let (_map, vb) = seeded_varmap(1);
            let cfg = UNetConfig {
                in_channels,
                num_classes,
                base_width,
                levels,
            };
            let mut net = UNet::new(&cfg, vb).unwrap();
            let xs = Tensor::randn(0f32, 1.0, (3, in_channels, h, w), &Device::Cpu).unwrap();
            // One training pass moves the running statistics away from (0, 1).
            net.forward_t(&xs, true).unwrap();
            let before = net.forward_t(&xs, false).unwrap();
            assert_eq!(before.dims(), &[3, num_classes, h, w]);
            net.fold_batch_norm().unwrap();
            let after = net.forward_t(&xs, false).unwrap();
            assert_eq!(after.dims(), before.dims());
            // Folding and the blocked pass reassociate f32 arithmetic: compare relative to the
            // output's magnitude.
            let rel = max_abs(&(&before - &after).unwrap()) / max_abs(&before).max(1e-6);
            assert!(rel < 1e-5, "width {base_width}: folded differs by {rel}");
            // An image's logits do not depend on the batch it is predicted in.
            let alone = net.forward_t(&xs.narrow(0, 1, 1).unwrap(), false).unwrap();
            let in_batch = after.narrow(0, 1, 1).unwrap();
            let same = alone
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
                .iter()
                .zip(in_batch.flatten_all().unwrap().to_vec1::<f32>().unwrap())
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "width {base_width}: batch changed the bits");
            // Nor on the thread count.
            for threads in [1, 3] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let got = pool.install(|| net.forward_t(&xs, false).unwrap());
                let diff = max_abs(&(&got - &after).unwrap());
                assert_eq!(diff, 0.0, "width {base_width}, {threads} threads");
            }
            let odd = Tensor::zeros(
                (1, in_channels, h + 1, w),
                candle_core::DType::F32,
                &Device::Cpu,
            )
            .unwrap();
            assert!(net.forward_t(&odd, false).is_err());
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
