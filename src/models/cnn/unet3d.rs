//! A small 3-D U-Net for volumetric lesion segmentation.
//!
//! Principal types: [`UNet3d`] (settings: [`UNetConfig`], as the 2-D net). Reference: Çiçek
//! et al. 2016, "3D U-Net: learning dense volumetric segmentation from sparse annotation"
//! (MICCAI): two 3×3×3 conv + batch norm + ReLU per level, 2×2×2 max pooling down, 2×2×2
//! stride-2 transposed convolution up, skip connections by concatenation, "same" padding so
//! the output has the input's size. Names follow the 2-D [`super::unet::UNet`]:
//! `enc{l}.conv{1,2}.weight`, `enc{l}.bn{1,2}.*`, `bottom.*`, `up{l}.{weight,bias}`
//! (`[c_in, c_out, 2, 2, 2]`, PyTorch's `ConvTranspose3d` layout), `dec{l}.*`,
//! `head.{weight,bias}` (1×1×1 convolution to the class logits). Depth, height and width must
//! be divisible by `2^levels`.

use super::conv3d::{Conv3dShape, conv3d};
use super::layers3d::{ConvBn3d, max_pool3d};
use super::unet::UNetConfig;
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

const BN_EPS: f64 = 1e-5;

/// Two 3×3×3 conv + batch norm + ReLU layers.
#[derive(Debug, Clone)]
struct DoubleConv3d([ConvBn3d; 2]);

impl DoubleConv3d {
    fn new(c_in: usize, c_out: usize, vb: VarBuilder) -> Result<DoubleConv3d> {
        Ok(DoubleConv3d([
            ConvBn3d::same((c_in, c_out, 3), 1, BN_EPS, vb.pp("conv1"), vb.pp("bn1"))?,
            ConvBn3d::same((c_out, c_out, 3), 1, BN_EPS, vb.pp("conv2"), vb.pp("bn2"))?,
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

/// A 2×2×2 stride-2 transposed convolution's weight `[c_in, c_out, 2, 2, 2]` and bias.
#[derive(Debug, Clone)]
struct Up3d {
    weight: Tensor,
    bias: Tensor,
}

impl Up3d {
    fn new(c_in: usize, c_out: usize, vb: VarBuilder) -> Result<Up3d> {
        // PyTorch's default init for transposed convolutions: U(±1/√fan) with fan = c_out·8.
        let bound = 1.0 / ((c_out * 8) as f64).sqrt();
        let init = candle_nn::Init::Uniform {
            lo: -bound,
            up: bound,
        };
        Ok(Up3d {
            weight: vb.get_with_hints((c_in, c_out, 2, 2, 2), "weight", init)?,
            bias: vb.get_with_hints(c_out, "bias", init)?,
        })
    }

    /// Every input voxel spreads to its own 2×2×2 output block, so the transposed convolution
    /// is one product `[b·d·h·w, c_in] · [c_in, c_out·8]` and a reshuffle, with gradients.
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let (b, c_in, d, h, w) = xs.dims5()?;
        let c_out = self.weight.dim(1)?;
        let rows = xs
            .permute(vec![0, 2, 3, 4, 1])?
            .reshape((b * d * h * w, c_in))?;
        let kernel = self.weight.reshape((c_in, c_out * 8))?;
        let blocks = rows
            .matmul(&kernel)?
            .reshape(vec![b, d, h, w, c_out, 2, 2, 2])?;
        blocks
            .permute(vec![0, 4, 1, 5, 2, 6, 3, 7])?
            .reshape((b, c_out, 2 * d, 2 * h, 2 * w))?
            .broadcast_add(&self.bias.reshape((1, c_out, 1, 1, 1))?)
    }
}

/// The 3-D U-Net.
#[derive(Debug, Clone)]
pub struct UNet3d {
    config: UNetConfig,
    enc: Vec<DoubleConv3d>,
    bottom: DoubleConv3d,
    up: Vec<Up3d>,
    dec: Vec<DoubleConv3d>,
    head_weight: Tensor,
    head_bias: Tensor,
}

impl UNet3d {
    /// Builds (or loads) a 3-D U-Net.
    pub fn new(config: &UNetConfig, vb: VarBuilder) -> Result<UNet3d> {
        if config.in_channels == 0 || config.num_classes == 0 || config.base_width == 0 {
            candle_core::bail!("unet3d: in_channels, num_classes and base_width must be positive")
        }
        let w = |l: usize| config.base_width << l;
        let mut enc = Vec::with_capacity(config.levels);
        let mut c_in = config.in_channels;
        for l in 0..config.levels {
            enc.push(DoubleConv3d::new(c_in, w(l), vb.pp(format!("enc{l}")))?);
            c_in = w(l);
        }
        let bottom = DoubleConv3d::new(c_in, w(config.levels), vb.pp("bottom"))?;
        let mut up = Vec::with_capacity(config.levels);
        let mut dec = Vec::with_capacity(config.levels);
        for l in 0..config.levels {
            up.push(Up3d::new(w(l + 1), w(l), vb.pp(format!("up{l}")))?);
            dec.push(DoubleConv3d::new(2 * w(l), w(l), vb.pp(format!("dec{l}")))?);
        }
        let vb_head = vb.pp("head");
        let head_weight = vb_head.get_with_hints(
            (config.num_classes, w(0), 1, 1, 1),
            "weight",
            candle_nn::init::DEFAULT_KAIMING_NORMAL,
        )?;
        let head_bias =
            vb_head.get_with_hints(config.num_classes, "bias", candle_nn::Init::Const(0.0))?;
        Ok(UNet3d {
            config: config.clone(),
            enc,
            bottom,
            up,
            dec,
            head_weight,
            head_bias,
        })
    }

    /// The settings it was built with.
    pub fn config(&self) -> &UNetConfig {
        &self.config
    }

    /// Logits `[batch, num_classes, d, h, w]` for inputs `[batch, in_channels, d, h, w]`.
    pub fn forward_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        let (_, _, d, h, w) = xs.dims5()?;
        let factor = 1usize << self.config.levels;
        if d % factor != 0 || h % factor != 0 || w % factor != 0 {
            candle_core::bail!("unet3d: input {d}×{h}×{w} is not divisible by 2^levels = {factor}")
        }
        let mut skips = Vec::with_capacity(self.config.levels);
        let mut ys = xs.clone();
        for enc in &self.enc {
            ys = enc.forward_t(&ys, train)?;
            skips.push(ys.clone());
            ys = max_pool3d(&ys, 2, 2, 0)?;
        }
        ys = self.bottom.forward_t(&ys, train)?;
        for l in (0..self.config.levels).rev() {
            let upsampled = self.up[l].forward(&ys)?;
            ys = self.dec[l].forward_t(&Tensor::cat(&[&skips[l], &upsampled], 1)?, train)?;
        }
        let logits = conv3d(&ys, &self.head_weight, Conv3dShape::cubic(1, 0))?;
        logits.broadcast_add(&self.head_bias.reshape((1, (), 1, 1, 1))?)
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
    use crate::models::cnn::store::{parameter_shapes, seeded_varmap};
    use candle_core::Device;

    fn config() -> UNetConfig {
        UNetConfig {
            in_channels: 1,
            num_classes: 2,
            base_width: 4,
            levels: 2,
        }
    }

    #[test]
    fn parameter_count_follows_the_architecture() {
        let shapes = parameter_shapes(|vb| UNet3d::new(&config(), vb)).unwrap();
        assert_eq!(shapes["up1.weight"], vec![16, 8, 2, 2, 2]);
        assert_eq!(shapes["head.weight"], vec![2, 4, 1, 1, 1]);
        let count: usize = shapes
            .iter()
            .filter(|(k, _)| !k.contains("running_"))
            .map(|(_, s)| s.iter().product::<usize>())
            .sum();
        // A double conv i→o: 27·i·o + 27·o·o weights and two BNs of 2·o.
        let dc = |i: usize, o: usize| 27 * i * o + 27 * o * o + 4 * o;
        let want = dc(1, 4) + dc(4, 8) + dc(8, 16)          // encoder and bottom
            + (16 * 8 * 8 + 8) + (8 * 4 * 8 + 4)              // up1, up0 (weight + bias)
            + dc(16, 8) + dc(8, 4)                            // decoder
            + (4 * 2 + 2); // head
        assert_eq!(count, want);
    }

    #[test]
    fn output_has_input_size_folding_agrees_and_bad_sizes_fail() {
        let (_map, vb) = seeded_varmap(1);
        let mut net = UNet3d::new(&config(), vb).unwrap();
        let xs = Tensor::randn(0f32, 1.0, (2, 1, 8, 4, 8), &Device::Cpu).unwrap();
        net.forward_t(&xs, true).unwrap();
        let before = net.forward_t(&xs, false).unwrap();
        assert_eq!(before.dims(), &[2, 2, 8, 4, 8]);
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
        let odd = Tensor::zeros((1, 1, 6, 4, 8), candle_core::DType::F32, &Device::Cpu).unwrap();
        assert!(net.forward_t(&odd, false).is_err());
    }

    #[test]
    fn upsampling_matches_a_direct_transposed_convolution() {
        let (_map, vb) = seeded_varmap(5);
        let up = Up3d::new(3, 2, vb).unwrap();
        let xs = Tensor::randn(0f32, 1.0, (1, 3, 2, 3, 2), &Device::Cpu).unwrap();
        let got = up.forward(&xs).unwrap();
        assert_eq!(got.dims(), &[1, 2, 4, 6, 4]);
        let x: Vec<f32> = xs.flatten_all().unwrap().to_vec1().unwrap();
        let w: Vec<f32> = up.weight.flatten_all().unwrap().to_vec1().unwrap();
        let b: Vec<f32> = up.bias.to_vec1().unwrap();
        let got: Vec<f32> = got.flatten_all().unwrap().to_vec1().unwrap();
        // y[o, 2z+a, 2y+b, 2x+c] = bias[o] + Σ_i x[i, z, y, x]·W[i, o, a, b, c].
        for o in 0..2 {
            for zz in 0..4 {
                for yy in 0..6 {
                    for xx in 0..4 {
                        let (z, a, y, bb, xi, c) = (zz / 2, zz % 2, yy / 2, yy % 2, xx / 2, xx % 2);
                        let mut want = b[o];
                        for i in 0..3 {
                            want += x[((i * 2 + z) * 3 + y) * 2 + xi]
                                * w[(((i * 2 + o) * 2 + a) * 2 + bb) * 2 + c];
                        }
                        let v = got[((o * 4 + zz) * 6 + yy) * 4 + xx];
                        assert!((v - want).abs() < 1e-5, "{o} {zz} {yy} {xx}");
                    }
                }
            }
        }
    }
}
