//! The optimisers' per-element arithmetic in one pass over each parameter.
//!
//! Principal functions: [`adamw`], [`sgd`] and [`sum_of_squares`], used by
//! [`super::optim::Optimizer`]. Written as candle tensor ops, one AdamW step was about ten
//! candle ops per parameter tensor, each a pass over memory and a wake-up of candle's thread
//! pool; for a width-16 ResNet-18 (62 tensors) that was most of the optimiser's time.
//!
//! The values are the tensor ops' bit for bit: each `tensor * s`, `tensor / s` and
//! `tensor + s` of candle is `affine(mul, add)`, computed in f32 as `v * mul + add` with
//! `mul` and `add` rounded from f64 (so `x * s` is `x * s + 0`, which turns −0 into +0, and
//! `x / s` multiplies by the f32 rounding of `1 / s`); binary ops are one IEEE operation per
//! element; `sum_all` over a contiguous tensor is candle's `vec_reduce_sum`. A test below
//! checks both rules against the tensor-op formulation over several steps.

use candle_core::cpu::kernels::VecOps;
use rayon::prelude::*;

/// Below this many values an update runs on the calling thread.
const PARALLEL_MIN: usize = 1 << 14;

/// The constants of one AdamW step for one parameter tensor.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AdamwStep {
    /// Factor applied to the gradient first (gradient clipping); 1 for none.
    pub grad_scale: f64,
    /// First-moment decay β₁.
    pub beta1: f64,
    /// Second-moment decay β₂.
    pub beta2: f64,
    /// Denominator ε.
    pub eps: f64,
    /// Step number t, from 1.
    pub t: i32,
    /// Learning rate (with the parameter's multiplier).
    pub lr: f64,
    /// Decoupled weight decay.
    pub decay: f64,
}

/// One AdamW step: updates `w` and the moments `m`, `v` in place (their values are ignored
/// and overwritten when `first`).
pub(crate) fn adamw(
    w: &mut [f32],
    g: &[f32],
    (m, v): (&mut [f32], &mut [f32]),
    first: bool,
    s: AdamwStep,
) {
    // candle rounds each scalar to f32 once per op; rounding them here is the same.
    let scale = (s.grad_scale != 1.0).then_some(s.grad_scale as f32);
    let (beta1, beta2) = (s.beta1 as f32, s.beta2 as f32);
    let (one_minus1, one_minus2) = ((1.0 - s.beta1) as f32, (1.0 - s.beta2) as f32);
    let bias1 = (1.0 / (1.0 - s.beta1.powi(s.t))) as f32;
    let bias2 = (1.0 / (1.0 - s.beta2.powi(s.t))) as f32;
    let keep = (1.0 - s.lr * s.decay) as f32;
    let (eps, lr) = (s.eps as f32, s.lr as f32);
    // Written as zipped slices with the branches outside the loops, so that the compiler
    // vectorises (vector sqrt and division are IEEE-exact like the scalar ones).
    let chunk = |w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]| {
        let lanes = w.iter_mut().zip(g).zip(m.iter_mut().zip(v.iter_mut()));
        let finish = |w: &mut f32, m: f32, v: f32| {
            let m_hat = m * bias1 + 0.0;
            let v_hat = v * bias2 + 0.0;
            let decayed = *w * keep + 0.0;
            let step = m_hat / (v_hat.sqrt() * 1.0 + eps);
            *w = decayed - (step * lr + 0.0);
        };
        match (scale, first) {
            (None, true) => lanes.for_each(|((w, &g), (m, v))| {
                (*m, *v) = (g * one_minus1 + 0.0, (g * g) * one_minus2 + 0.0);
                finish(w, *m, *v);
            }),
            (None, false) => lanes.for_each(|((w, &g), (m, v))| {
                *m = (*m * beta1 + 0.0) + (g * one_minus1 + 0.0);
                *v = (*v * beta2 + 0.0) + ((g * g) * one_minus2 + 0.0);
                finish(w, *m, *v);
            }),
            (Some(k), first) => lanes.for_each(|((w, &g), (m, v))| {
                let g = g * k + 0.0;
                let (m_part, v_part) = (g * one_minus1 + 0.0, (g * g) * one_minus2 + 0.0);
                if first {
                    (*m, *v) = (m_part, v_part);
                } else {
                    *m = (*m * beta1 + 0.0) + m_part;
                    *v = (*v * beta2 + 0.0) + v_part;
                }
                finish(w, *m, *v);
            }),
        }
    };
    if w.len() <= PARALLEL_MIN {
        chunk(w, g, m, v);
    } else {
        w.par_chunks_mut(PARALLEL_MIN)
            .zip(g.par_chunks(PARALLEL_MIN))
            .zip(
                m.par_chunks_mut(PARALLEL_MIN)
                    .zip(v.par_chunks_mut(PARALLEL_MIN)),
            )
            .for_each(|((w, g), (m, v))| chunk(w, g, m, v));
    }
}

/// The constants of one SGD step for one parameter tensor.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SgdStep {
    /// Factor applied to the gradient first (gradient clipping); 1 for none.
    pub grad_scale: f64,
    /// Momentum (0 for none).
    pub momentum: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
    /// Learning rate (with the parameter's multiplier).
    pub lr: f64,
    /// L2 weight decay added to the gradient.
    pub decay: f64,
}

/// One SGD step: updates `w` and, with momentum, the buffer `buf` in place (its values are
/// ignored and overwritten when `first`).
pub(crate) fn sgd(w: &mut [f32], g: &[f32], buf: &mut [f32], first: bool, s: SgdStep) {
    // Serial: SGD is not the default rule, and one pass is already far below candle's ten.
    // The scalars are rounded to f32 once, as in `adamw`.
    let scale = (s.grad_scale != 1.0).then_some(s.grad_scale as f32);
    let (momentum, lr, decay) = (s.momentum as f32, s.lr as f32, s.decay as f32);
    for (i, w) in w.iter_mut().enumerate() {
        let g = scale.map_or(g[i], |k| g[i] * k + 0.0);
        let g = if s.decay > 0.0 {
            g + (*w * decay + 0.0)
        } else {
            g
        };
        let direction = if s.momentum > 0.0 {
            let b = if first {
                g
            } else {
                (buf[i] * momentum + 0.0) + g
            };
            buf[i] = b;
            if s.nesterov {
                g + (b * momentum + 0.0)
            } else {
                b
            }
        } else {
            g
        };
        *w -= direction * lr + 0.0;
    }
}

/// `Σ g²` as candle computes `g.sqr().sum_all()` for a contiguous f32 tensor.
pub(crate) fn sum_of_squares(g: &[f32]) -> f32 {
    let squares: Vec<f32> = g.iter().map(|v| v * v).collect();
    let mut sum = 0f32;
    // SAFETY: the pointer and length come from one slice; `sum` is a valid f32.
    unsafe { <f32 as VecOps>::vec_reduce_sum(squares.as_ptr(), &mut sum, squares.len()) };
    sum
}

/// A closure over a tensor's own f32 values, run as a candle in-place op (the optimiser's
/// weight write, without the copy that `Var::set` makes).
pub(crate) struct InPlace<F>(std::cell::RefCell<Option<F>>);

impl<F> InPlace<F> {
    /// Wraps `f`, which runs once.
    pub(crate) fn new(f: F) -> InPlace<F> {
        InPlace(std::cell::RefCell::new(Some(f)))
    }
}

impl<F, E> candle_core::InplaceOp1 for InPlace<F>
where
    F: FnOnce(&mut [f32]) -> Result<(), E>,
    E: std::fmt::Display,
{
    fn name(&self) -> &'static str {
        "radbench-param-update"
    }

    fn cpu_fwd(
        &self,
        storage: &mut candle_core::CpuStorage,
        layout: &candle_core::Layout,
    ) -> candle_core::Result<()> {
        let (Some((start, end)), candle_core::CpuStorage::F32(values)) =
            (layout.contiguous_offsets(), storage)
        else {
            candle_core::bail!("parameter update: the weights must be a contiguous f32 tensor")
        };
        let Some(f) = self.0.borrow_mut().take() else {
            candle_core::bail!("parameter update: applied twice")
        };
        f(&mut values[start..end]).map_err(|e| candle_core::Error::Msg(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    /// Values with both signs, zeros, −0 and a wide range of magnitudes.
    fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| match (i * 7 + seed) % 11 {
                0 => 0.0,
                1 => -0.0,
                r => {
                    let v = ((i * 7919 + seed * 31) % 1000) as f32 / 1000.0 - 0.5;
                    v * 10f32.powi(r as i32 - 8)
                }
            })
            .collect()
    }

    fn bits(t: &Tensor) -> Vec<u32> {
        t.to_vec1::<f32>()
            .unwrap()
            .iter()
            .map(|v| v.to_bits())
            .collect()
    }

    fn bits_of(v: &[f32]) -> Vec<u32> {
        v.iter().map(|v| v.to_bits()).collect()
    }

    /// The tensor-op formulation the optimiser used before (candle's arithmetic).
    fn adamw_reference(
        w: &Tensor,
        g: &Tensor,
        state: Option<(&Tensor, &Tensor)>,
        s: AdamwStep,
    ) -> (Tensor, Tensor, Tensor) {
        let g = if s.grad_scale != 1.0 {
            (g * s.grad_scale).unwrap()
        } else {
            g.clone()
        };
        let m_part = (&g * (1.0 - s.beta1)).unwrap();
        let v_part = (g.sqr().unwrap() * (1.0 - s.beta2)).unwrap();
        let (m, v) = match state {
            Some((m, v)) => (
                ((m * s.beta1).unwrap() + m_part).unwrap(),
                ((v * s.beta2).unwrap() + v_part).unwrap(),
            ),
            None => (m_part, v_part),
        };
        let m_hat = (&m / (1.0 - s.beta1.powi(s.t))).unwrap();
        let v_hat = (&v / (1.0 - s.beta2.powi(s.t))).unwrap();
        let decayed = (w * (1.0 - s.lr * s.decay)).unwrap();
        let step = (m_hat / (v_hat.sqrt().unwrap() + s.eps).unwrap()).unwrap();
        ((decayed - (step * s.lr).unwrap()).unwrap(), m, v)
    }

    #[test]
    fn adamw_matches_candle_ops_bit_for_bit() {
        let dev = Device::Cpu;
        // Above PARALLEL_MIN, so the chunked path runs too.
        let n = PARALLEL_MIN * 2 + 37;
        for grad_scale in [1.0, 0.37] {
            let mut w = values(n, 1);
            let (mut m, mut v) = (vec![0f32; n], vec![0f32; n]);
            let mut reference = Tensor::from_vec(w.clone(), n, &dev).unwrap();
            let mut state: Option<(Tensor, Tensor)> = None;
            for t in 1..=4 {
                let g = values(n, 10 + t as usize);
                let s = AdamwStep {
                    grad_scale,
                    beta1: 0.9,
                    beta2: 0.999,
                    eps: 1e-8,
                    t,
                    lr: 3e-3,
                    decay: 1e-2,
                };
                adamw(&mut w, &g, (&mut m, &mut v), t == 1, s);
                let g = Tensor::from_vec(g, n, &dev).unwrap();
                let (w_ref, m_ref, v_ref) =
                    adamw_reference(&reference, &g, state.as_ref().map(|(a, b)| (a, b)), s);
                assert_eq!(bits_of(&w), bits(&w_ref), "weights, step {t}");
                assert_eq!(bits_of(&m), bits(&m_ref), "first moment, step {t}");
                assert_eq!(bits_of(&v), bits(&v_ref), "second moment, step {t}");
                reference = w_ref;
                state = Some((m_ref, v_ref));
            }
        }
    }

    #[test]
    fn sgd_matches_candle_ops_bit_for_bit() {
        let dev = Device::Cpu;
        let n = 257;
        for (momentum, nesterov, decay, grad_scale) in [
            (0.0, false, 0.0, 1.0),
            (0.9, false, 1e-3, 1.0),
            (0.9, true, 1e-3, 0.5),
        ] {
            let mut w = values(n, 2);
            let mut buf = vec![0f32; n];
            let mut reference = Tensor::from_vec(w.clone(), n, &dev).unwrap();
            let mut ref_buf: Option<Tensor> = None;
            for t in 0..3 {
                let g = values(n, 20 + t);
                let s = SgdStep {
                    grad_scale,
                    momentum,
                    nesterov,
                    lr: 0.05,
                    decay,
                };
                sgd(&mut w, &g, &mut buf, t == 0, s);
                // The tensor-op formulation the optimiser used before.
                let g = Tensor::from_vec(g, n, &dev).unwrap();
                let g = if grad_scale != 1.0 {
                    (g * grad_scale).unwrap()
                } else {
                    g
                };
                let g = if decay > 0.0 {
                    (&g + (&reference * decay).unwrap()).unwrap()
                } else {
                    g
                };
                let direction = if momentum > 0.0 {
                    let b = match &ref_buf {
                        Some(b) => ((b * momentum).unwrap() + &g).unwrap(),
                        None => g.clone(),
                    };
                    let d = if nesterov {
                        (&g + (&b * momentum).unwrap()).unwrap()
                    } else {
                        b.clone()
                    };
                    assert_eq!(bits_of(&buf), bits(&b), "momentum buffer, step {t}");
                    ref_buf = Some(b);
                    d
                } else {
                    g
                };
                reference = (&reference - (direction * 0.05).unwrap()).unwrap();
                assert_eq!(bits_of(&w), bits(&reference), "weights, step {t}");
            }
        }
    }

    #[test]
    fn sum_of_squares_matches_candle() {
        let g = values(1000, 3);
        let t = Tensor::from_vec(g.clone(), (10, 100), &Device::Cpu).unwrap();
        let reference: f32 = t.sqr().unwrap().sum_all().unwrap().to_scalar().unwrap();
        assert_eq!(sum_of_squares(&g).to_bits(), reference.to_bits());
    }
}
