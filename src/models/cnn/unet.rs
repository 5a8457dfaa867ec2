//! A small 2-D U-Net for lesion segmentation.
//!
//! Principal types: [`UNet`], [`UNetConfig`]. Reference: Ronneberger, Fischer & Brox 2015,
//! "U-Net: convolutional networks for biomedical image segmentation" (MICCAI), with batch norm
//! after each 3×3 convolution and "same" padding so the output has the input's size.
//! Names: `enc{l}.conv{1,2}.weight`, `enc{l}.bn{1,2}.*`, `bottom.*`, `up{l}.{weight,bias}`
//! (2×2 transposed convolution), `dec{l}.*`, `head.{weight,bias}` (1×1 convolution to the
//! class logits). Input height and width must be divisible by `2^levels`.

use super::layers::{ConvBn, ConvShape};
use candle_core::{Module, Result, Tensor};
use candle_nn::{Conv2d, ConvTranspose2d, ConvTranspose2dConfig, VarBuilder};

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
        let mut skips = Vec::with_capacity(self.config.levels);
        let mut ys = xs.clone();
        for enc in &self.enc {
            ys = enc.forward_t(&ys, train)?;
            skips.push(ys.clone());
            ys = ys.max_pool2d(2)?;
        }
        ys = self.bottom.forward_t(&ys, train)?;
        for l in (0..self.config.levels).rev() {
            let upsampled = self.up[l].forward(&ys)?;
            ys = self.dec[l].forward_t(&Tensor::cat(&[&skips[l], &upsampled], 1)?, train)?;
        }
        self.head.forward(&ys)
    }

    /// Folds batch norm into the convolutions for inference.
    pub fn fold_batch_norm(&mut self) -> Result<()> {
        for d in self.enc.iter_mut().chain(self.dec.iter_mut()) {
            d.fold()?;
        }
        self.bottom.fold()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::cnn::store::seeded_varmap;
    use candle_core::Device;

    #[test]
    fn output_has_input_size_and_bad_sizes_fail() {
        let (_map, vb) = seeded_varmap(1);
        let cfg = UNetConfig {
            in_channels: 1,
            num_classes: 1,
            base_width: 4,
            levels: 2,
        };
        let mut net = UNet::new(&cfg, vb).unwrap();
        let xs = Tensor::randn(0f32, 1.0, (2, 1, 16, 16), &Device::Cpu).unwrap();
        net.forward_t(&xs, true).unwrap();
        let before = net.forward_t(&xs, false).unwrap();
        assert_eq!(before.dims(), &[2, 1, 16, 16]);
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
        let odd = Tensor::zeros((1, 1, 18, 16), candle_core::DType::F32, &Device::Cpu).unwrap();
        assert!(net.forward_t(&odd, false).is_err());
    }
}
