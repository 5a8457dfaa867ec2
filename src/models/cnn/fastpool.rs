//! Inference-only max pooling for the ResNet stem: 3×3 windows, stride 2, zero padding 1, in
//! one pass over NCHW planes.
//!
//! candle's route (pad rows, pad columns, pool) copies the map twice before pooling, which on a
//! width-16 ResNet-18 at batch 1 cost more than the stem convolution's GEMM. Zero padding
//! instead of −∞ is the network's own definition (the pool follows a ReLU, so every input is
//! ≥ 0); the maximum is exact, so the values equal candle's route bit for bit.

use super::fastconv::{contiguous_f32, min_chunks_per_task};
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// `max` over each 3×3 window (stride 2) of `xs` `[b, c, h, w]` padded with one ring of zeros;
/// output `[b, c, (h − 1)/2 + 1, (w − 1)/2 + 1]`. No gradient.
pub fn max_pool_3x3_s2_zero_pad(xs: &Tensor) -> Result<Tensor> {
    xs.contiguous()?.apply_op1_no_bwd(&MaxPoolZeroPad)
}

struct MaxPoolZeroPad;

impl CustomOp1 for MaxPoolZeroPad {
    fn name(&self) -> &'static str {
        "radbench-max-pool-3x3-s2-zero-pad"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = layout.shape().dims4()?;
        if h == 0 || w == 0 {
            candle_core::bail!("max pool: empty {h}×{w} input")
        }
        let x = contiguous_f32(storage, layout)?;
        let (oh, ow) = ((h - 1) / 2 + 1, (w - 1) / 2 + 1);
        let mut out = vec![0f32; b * c * oh * ow];
        out.par_chunks_mut(oh * ow)
            .with_min_len(min_chunks_per_task(h * w))
            .zip(x.par_chunks(h * w))
            .for_each(|(dst, plane)| pool_plane(plane, (h, w), (oh, ow), dst));
        Ok((CpuStorage::F32(out), Shape::from((b, c, oh, ow))))
    }
}

/// One plane: output `(oy, ox)` covers input rows `2·oy − 1 ..= 2·oy + 1` and the same columns,
/// the padding ring contributing zeros.
fn pool_plane(plane: &[f32], (h, w): (usize, usize), (oh, ow): (usize, usize), dst: &mut [f32]) {
    for oy in 0..oh {
        let rows = (2 * oy).saturating_sub(1)..(2 * oy + 2).min(h);
        let padded_rows = 2 * oy == 0 || 2 * oy + 2 > h;
        for ox in 0..ow {
            let cols = (2 * ox).saturating_sub(1)..(2 * ox + 2).min(w);
            let padded = padded_rows || 2 * ox == 0 || 2 * ox + 2 > w;
            let mut m = if padded { 0.0 } else { f32::NEG_INFINITY };
            for iy in rows.clone() {
                for v in &plane[iy * w + cols.start..iy * w + cols.end] {
                    if *v > m {
                        m = *v;
                    }
                }
            }
            dst[oy * ow + ox] = m;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// candle's route: pad with zeros on both axes, then a 3×3 stride-2 pool.
    fn candle_route(xs: &Tensor) -> Tensor {
        xs.pad_with_zeros(2, 1, 1)
            .and_then(|t| t.pad_with_zeros(3, 1, 1))
            .and_then(|t| t.max_pool2d_with_stride(3, 2))
            .expect("candle pool")
    }

    #[test]
    fn equals_candles_padded_pool_bit_for_bit() {
        for (h, w) in [(1, 1), (2, 3), (5, 5), (8, 8), (9, 6), (32, 32)] {
            let n = 2 * 3 * h * w;
            // Signed values, so that the zero padding visibly wins at the border.
            let values: Vec<f32> = (0..n)
                .map(|i| ((i * 7919 % 113) as f32 - 56.0) / 9.0)
                .collect();
            let xs = Tensor::from_vec(values, (2, 3, h, w), &Device::Cpu).expect("input");
            let ours = max_pool_3x3_s2_zero_pad(&xs).expect("pool");
            let theirs = candle_route(&xs);
            assert_eq!(ours.dims(), theirs.dims(), "{h}×{w}");
            let a: Vec<f32> = ours.flatten_all().unwrap().to_vec1().unwrap();
            let b: Vec<f32> = theirs.flatten_all().unwrap().to_vec1().unwrap();
            assert_eq!(a, b, "{h}×{w}");
        }
    }

    #[test]
    fn refuses_an_empty_map() {
        let xs = Tensor::zeros((1, 1, 0, 4), candle_core::DType::F32, &Device::Cpu).unwrap();
        assert!(max_pool_3x3_s2_zero_pad(&xs).is_err());
    }
}
