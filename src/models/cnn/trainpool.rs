//! The ResNet stem's 3×3, stride-2, zero-padded max pooling with its gradient, as one candle
//! custom op.
//!
//! Principal function: [`max_pool_3x3_s2_p1_train`]. [`super::layers::max_pool_3x3_s2_p1`]
//! builds the differentiable pool from padding, strided views and four element-wise maxima;
//! candle's autograd answers each maximum with comparisons, masks and divisions over the whole
//! map, which made the pool about a fifth of a width-16 ResNet-18 training step. Here the
//! forward and backward passes are one sweep per image plane.
//!
//! The arithmetic is that composition's, step for step: a maximum is `if a < b { b } else { a }`
//! (candle's), a maximum's gradient goes to each side that equals it, halved when both do
//! (`mask·g / (other mask + 1)`), and each gradient accumulated into a zero tensor is `0 + g`.
//! Every padded input position receives at most two non-zero contributions, whose sum does not
//! depend on the order of adding, so the bits are the composition's; a test compares them.

use super::fastconv::contiguous_f32;
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// Planes per rayon task at least, so that small maps do not split.
const MIN_PLANES_PER_TASK: usize = 4;

/// 3×3 max pooling, stride 2, zero padding 1 on the leading sides (and as much as the last
/// window needs on the trailing ones), of NCHW f32 `xs`, with a gradient.
pub fn max_pool_3x3_s2_p1_train(xs: &Tensor) -> Result<Tensor> {
    xs.contiguous()?.apply_op1(StemPool)
}

/// The custom op.
struct StemPool;

/// Output size of one axis: `⌊(n − 1)/2⌋ + 1`.
fn pooled(n: usize) -> usize {
    (n.max(1) - 1) / 2 + 1
}

/// candle's `maximum`.
#[inline(always)]
fn maximum(a: f32, b: f32) -> f32 {
    if a < b { b } else { a }
}

/// candle's `eq(..).to_dtype(F32)`.
#[inline(always)]
fn mask(a: f32, b: f32) -> f32 {
    if a == b { 1f32 } else { 0f32 }
}

/// The gradients of `m = maximum(maximum(e0, e1), e2)` for `g`, as candle's autograd forms
/// them: each maximum routes `g` to the sides equal to it, halved on a tie.
#[inline(always)]
fn window_grads(e: [f32; 3], g: f32) -> [f32; 3] {
    let p = maximum(e[0], e[1]);
    let m = maximum(p, e[2]);
    let (mp, m2) = (mask(m, p), mask(m, e[2]));
    let gp = 0f32 + (mp * g) / (m2 * 1f32 + 1f32);
    let g2 = 0f32 + (m2 * g) / (mp * 1f32 + 1f32);
    let (q0, q1) = (mask(p, e[0]), mask(p, e[1]));
    let g0 = 0f32 + (q0 * gp) / (q1 * 1f32 + 1f32);
    let g1 = 0f32 + (q1 * gp) / (q0 * 1f32 + 1f32);
    [g0, g1, g2]
}

/// One image plane's geometry: input `h × w`, output `oh × ow`, and the row pass's width
/// (`2·ow + 1` padded columns).
#[derive(Clone, Copy)]
struct Plane {
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
}

impl Plane {
    fn new(h: usize, w: usize) -> Plane {
        Plane {
            h,
            w,
            oh: pooled(h),
            ow: pooled(w),
        }
    }

    fn row_width(&self) -> usize {
        2 * self.ow + 1
    }

    /// Padded input: `xp[r][q] = x[r − 1][q − 1]` inside, 0 outside.
    #[inline(always)]
    fn padded(&self, x: &[f32], r: usize, q: usize) -> f32 {
        if (1..=self.h).contains(&r) && (1..=self.w).contains(&q) {
            x[(r - 1) * self.w + q - 1]
        } else {
            0f32
        }
    }

    /// The row pass: `rows[i][q] = max3(xp[2i][q], xp[2i+1][q], xp[2i+2][q])`.
    fn rows(&self, x: &[f32], rows: &mut [f32]) {
        let rw = self.row_width();
        for i in 0..self.oh {
            for q in 0..rw {
                let e = [0, 1, 2].map(|k| self.padded(x, 2 * i + k, q));
                rows[i * rw + q] = maximum(maximum(e[0], e[1]), e[2]);
            }
        }
    }

    fn forward(&self, x: &[f32], rows: &mut [f32], out: &mut [f32]) {
        self.rows(x, rows);
        let rw = self.row_width();
        for i in 0..self.oh {
            let row = &rows[i * rw..(i + 1) * rw];
            for j in 0..self.ow {
                out[i * self.ow + j] = maximum(maximum(row[2 * j], row[2 * j + 1]), row[2 * j + 2]);
            }
        }
    }

    /// Input gradient of one plane for output gradient `g`; `rows` and `grad_rows` are
    /// scratch of `oh · row_width` values, `grad_x` is overwritten.
    fn backward(
        &self,
        x: &[f32],
        g: &[f32],
        rows: &mut [f32],
        grad_rows: &mut [f32],
        grad_x: &mut [f32],
    ) {
        self.rows(x, rows);
        let rw = self.row_width();
        grad_rows.fill(0f32);
        for i in 0..self.oh {
            let row = &rows[i * rw..(i + 1) * rw];
            let grad_row = &mut grad_rows[i * rw..(i + 1) * rw];
            for j in 0..self.ow {
                let e = [row[2 * j], row[2 * j + 1], row[2 * j + 2]];
                let gs = window_grads(e, 0f32 + g[i * self.ow + j]);
                for (k, gk) in gs.into_iter().enumerate() {
                    grad_row[2 * j + k] += gk;
                }
            }
        }
        // The row pass's gradient, onto the padded input; only the inside is kept. Summing
        // into +0 is candle's `0 + g` accumulation.
        grad_x.fill(0f32);
        for i in 0..self.oh {
            for q in 0..rw {
                let e = [0, 1, 2].map(|k| self.padded(x, 2 * i + k, q));
                let gs = window_grads(e, 0f32 + grad_rows[i * rw + q]);
                for (k, gk) in gs.into_iter().enumerate() {
                    let r = 2 * i + k;
                    if (1..=self.h).contains(&r) && (1..=self.w).contains(&q) {
                        grad_x[(r - 1) * self.w + q - 1] += gk;
                    }
                }
            }
        }
    }
}

impl CustomOp1 for StemPool {
    fn name(&self) -> &'static str {
        "radbench-stem-max-pool"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = layout.shape().dims4()?;
        let x = contiguous_f32(storage, layout)?;
        let plane = Plane::new(h, w);
        let (in_len, out_len) = (h * w, plane.oh * plane.ow);
        let mut out = vec![0f32; b * c * out_len];
        if in_len > 0 {
            out.par_chunks_mut(out_len)
                .with_min_len(MIN_PLANES_PER_TASK)
                .zip(x.par_chunks(in_len))
                .for_each_init(
                    || vec![0f32; plane.oh * plane.row_width()],
                    |rows, (dst, src)| plane.forward(src, rows, dst),
                );
        }
        Ok((
            CpuStorage::F32(out),
            Shape::from((b, c, plane.oh, plane.ow)),
        ))
    }

    fn bwd(&self, xs: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let (_, _, h, w) = xs.dims4()?;
        let plane = Plane::new(h, w);
        let x = xs.flatten_all()?.to_vec1::<f32>()?;
        let g = grad.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        let (in_len, out_len) = (h * w, plane.oh * plane.ow);
        let mut grad_x = vec![0f32; x.len()];
        if in_len > 0 {
            let scratch = plane.oh * plane.row_width();
            grad_x
                .par_chunks_mut(in_len)
                .with_min_len(MIN_PLANES_PER_TASK)
                .zip(x.par_chunks(in_len).zip(g.par_chunks(out_len)))
                .for_each_init(
                    || (vec![0f32; scratch], vec![0f32; scratch]),
                    |(rows, grad_rows), (dst, (src, gp))| {
                        plane.backward(src, gp, rows, grad_rows, dst)
                    },
                );
        }
        Ok(Some(Tensor::from_vec(grad_x, xs.shape(), xs.device())?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::cnn::layers::max_pool_separable;
    use candle_core::{DType, Device, Var};

    fn bits(t: &Tensor) -> Vec<u32> {
        let v = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        v.iter().map(|v| v.to_bits()).collect()
    }

    #[test]
    fn values_and_gradients_are_the_separable_pools_bit_for_bit() {
        let dev = Device::Cpu;
        for (h, w) in [(8, 8), (7, 9), (1, 2), (2, 1), (5, 5), (32, 32)] {
            // Few distinct values after the ReLU, so windows tie often (and zeros meet the
            // padding).
            let r = Tensor::randn(0f32, 1.0, (2, 3, h, w), &dev).unwrap();
            let r = (r * 2.0).unwrap().round().unwrap().relu().unwrap();
            let v = Var::from_tensor(&r).unwrap();
            let x = v.as_tensor().clone();
            let ours = max_pool_3x3_s2_p1_train(&x).unwrap();
            let theirs = max_pool_separable(&x).unwrap();
            assert_eq!(ours.dims(), theirs.dims(), "{h}×{w}");
            assert_eq!(bits(&ours), bits(&theirs), "values {h}×{w}");
            let mut weights = Tensor::randn(0f32, 1.0, ours.dims(), &dev).unwrap();
            // Zeros and negative zeros among the incoming gradients.
            let keep = Tensor::randn(0f32, 1.0, ours.dims(), &dev)
                .unwrap()
                .ge(0.0)
                .unwrap()
                .to_dtype(DType::F32)
                .unwrap();
            weights = (weights * keep).unwrap();
            let ga = (ours * &weights)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let gb = (theirs * &weights)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            assert_eq!(
                bits(ga.get(v.as_tensor()).unwrap()),
                bits(gb.get(v.as_tensor()).unwrap()),
                "gradient {h}×{w}"
            );
        }
    }
}
