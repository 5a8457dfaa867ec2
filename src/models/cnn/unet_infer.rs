//! A folded 2-D U-Net's inference pass on the channel-blocked layout ([`super::blocked`]).
//!
//! Principal type: [`BlockedUNet`], built by [`super::unet::UNet`]'s `fold_batch_norm`. The
//! double 3×3 convolutions run as [`PlanConv`]s (Winograd where it pays), the 2×2 max pool and
//! the skip concatenation stay in the blocked layout, and each 2×2 stride-2 transposed
//! convolution is one 1×1 product to `4 · c_out` channels followed by a pixel shuffle (every
//! input pixel feeds only its own 2×2 output block). The only layout changes are the input
//! image and the logits.

use super::blocked::{BlockedMap, PackedConv, Unsplit, batch_pass};
use super::conv_plan::{BORDER, PlanConv, input_block, input_map, packed, planned};
use super::fastconv::FusedConv;
use super::lanes::LANES;
use super::layers::ConvBn;
use candle_core::{DType, Result, Tensor};
use candle_nn::{Conv2d, ConvTranspose2d};

/// A 2×2 stride-2 transposed convolution as a 1×1 product and a pixel shuffle.
#[derive(Debug, Clone)]
struct UpConv {
    product: PackedConv,
    c_out: usize,
}

impl UpConv {
    /// From candle's transposed convolution (weight `[c_in, c_out, 2, 2]`, bias `[c_out]`).
    fn new(up: &ConvTranspose2d) -> Result<UpConv> {
        let (c_in, c_out, kh, kw) = up.weight().dims4()?;
        if (kh, kw) != (2, 2) {
            candle_core::bail!("unet: transposed convolution {kh}×{kw} (needs 2×2)")
        }
        let weight = values(up.weight())?;
        let bias = match up.bias() {
            Some(b) => values(b)?,
            None => vec![0.0; c_out],
        };
        // Output channel (2·dy + dx)·c_out + co of the product is (co, dy, dx) of the
        // transposed convolution.
        let mut w1 = vec![0f32; 4 * c_out * c_in];
        let mut b1 = vec![0f32; 4 * c_out];
        for q in 0..4 {
            for co in 0..c_out {
                let row = q * c_out + co;
                b1[row] = bias[co];
                for ci in 0..c_in {
                    w1[row * c_in + ci] = weight[(ci * c_out + co) * 4 + q];
                }
            }
        }
        let product = PackedConv::pack(&w1, &b1, (4 * c_out, c_in, 1), (1, 0), LANES)?;
        Ok(UpConv { product, c_out })
    }

    fn forward(&self, x: &BlockedMap, border: usize) -> Result<BlockedMap> {
        self.product
            .forward(x, None, false, 0)?
            .pixel_shuffle_2x2(self.c_out, border)
    }
}

/// A tensor's values as `f32`, row-major.
fn values(t: &Tensor) -> Result<Vec<f32>> {
    t.to_dtype(DType::F32)?.flatten_all()?.to_vec1()
}

/// The inference plan of a batch-norm-folded U-Net.
#[derive(Debug, Clone)]
pub(crate) struct BlockedUNet {
    in_channels: usize,
    classes: usize,
    enc: Vec<[PlanConv; 2]>,
    bottom: [PlanConv; 2],
    up: Vec<UpConv>,
    dec: Vec<[PlanConv; 2]>,
    head: PackedConv,
}

/// The plan's form of a double convolution; the first reads a channel block of `cib`.
fn double(convs: &[ConvBn; 2], cib: usize) -> Result<[PlanConv; 2]> {
    let first = if cib == LANES {
        planned(&convs[0])?
    } else {
        PlanConv::Direct(packed(&convs[0], cib)?.0)
    };
    Ok([first, planned(&convs[1])?])
}

impl BlockedUNet {
    /// From the folded encoder, bottom and decoder double convolutions (level order), the
    /// transposed convolutions (level order) and the 1×1 head.
    pub(crate) fn new<'a>(
        in_channels: usize,
        enc: impl IntoIterator<Item = &'a [ConvBn; 2]>,
        bottom: &[ConvBn; 2],
        up: &[ConvTranspose2d],
        dec: impl IntoIterator<Item = &'a [ConvBn; 2]>,
        head: &Conv2d,
    ) -> Result<BlockedUNet> {
        let mut cib = input_block(in_channels);
        let mut enc_plan = Vec::new();
        for convs in enc {
            enc_plan.push(double(convs, cib)?);
            cib = LANES;
        }
        let bottom = double(bottom, cib)?;
        let up = up.iter().map(UpConv::new).collect::<Result<Vec<_>>>()?;
        let dec = dec
            .into_iter()
            .map(|d| double(d, LANES))
            .collect::<Result<Vec<_>>>()?;
        if up.len() != enc_plan.len() || dec.len() != enc_plan.len() {
            candle_core::bail!("unet plan: levels do not match")
        }
        let classes = head.weight().dims4()?.0;
        let zeros;
        let head_bias = match head.bias() {
            Some(b) => b,
            None => {
                zeros = Tensor::zeros(classes, DType::F32, head.weight().device())?;
                &zeros
            }
        };
        let head = FusedConv::new(head.weight(), head_bias, 1, 0)?.packed(LANES)?;
        Ok(BlockedUNet {
            in_channels,
            classes,
            enc: enc_plan,
            bottom,
            up,
            dec,
            head,
        })
    }

    /// Logits `[batch, classes, h, w]` of `xs` `[batch, in_channels, h, w]` (h and w divisible
    /// by 2^levels, checked by the caller).
    pub(crate) fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        // A share of the batch per thread, or handed to rayon's pool once (see `batch_pass`).
        batch_pass(xs, Unsplit::InPool, |xs| self.forward_here(xs))
    }

    /// [`Self::forward`] on the current thread.
    fn forward_here(&self, xs: &Tensor) -> Result<Tensor> {
        let twice = |convs: &[PlanConv; 2], x: &BlockedMap| -> Result<BlockedMap> {
            let y = convs[0].forward(x, None, true, BORDER)?;
            convs[1].forward(&y, None, true, BORDER)
        };
        let mut ys = input_map(xs, self.in_channels, BORDER)?;
        let mut skips = Vec::with_capacity(self.enc.len());
        for convs in &self.enc {
            let skip = twice(convs, &ys)?;
            ys = skip.max_pool_2x2_s2(BORDER)?;
            skips.push(skip);
        }
        ys = twice(&self.bottom, &ys)?;
        for l in (0..self.enc.len()).rev() {
            let upsampled = self.up[l].forward(&ys, 0)?;
            ys = twice(
                &self.dec[l],
                &BlockedMap::concat(&[&skips[l], &upsampled], BORDER)?,
            )?;
        }
        let logits = self.head.forward(&ys, None, false, 0)?;
        let (n, _, h, w) = logits.dims();
        Tensor::from_vec(logits.to_nchw(), (n, self.classes, h, w), xs.device())
    }
}
