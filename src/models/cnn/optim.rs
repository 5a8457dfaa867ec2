//! Optimisers and learning-rate schedules over named candle variables.
//!
//! Principal types: [`Optimizer`], [`OptimizerKind`], [`Param`], [`Schedule`]. The update rules
//! are PyTorch's `torch.optim.AdamW` (Loshchilov & Hutter 2019, decoupled weight decay) and
//! `torch.optim.SGD` with momentum (dampening 0, optional Nesterov, L2 decay added to the
//! gradient). Weight decay applies to weights of rank ≥ 2 only (convolution and linear
//! kernels), not to biases or batch-norm scales, the usual practice for CNNs. Each parameter
//! carries a learning-rate multiplier, which gives discriminative learning rates when
//! fine-tuning. Gradient clipping scales all gradients by one factor from their global L2 norm,
//! summed in name order so that it is reproducible.

use super::CnnError;
use super::fastconv::contiguous_f32;
use super::param_update;
use candle_core::backprop::GradStore;
use candle_core::{Storage, Tensor, Var};

/// A trainable variable with its name and learning-rate multiplier.
#[derive(Debug, Clone)]
pub struct Param {
    /// Parameter name (torchvision style).
    pub name: String,
    /// The variable.
    pub var: Var,
    /// Multiplier of the scheduled learning rate.
    pub lr_scale: f64,
}

/// Which update rule.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", deny_unknown_fields)]
pub enum OptimizerKind {
    /// AdamW with PyTorch's defaults β = (0.9, 0.999), ε = 1e-8.
    Adamw {
        /// First-moment decay.
        #[serde(default = "default_beta1")]
        beta1: f64,
        /// Second-moment decay.
        #[serde(default = "default_beta2")]
        beta2: f64,
        /// Denominator guard.
        #[serde(default = "default_eps")]
        eps: f64,
    },
    /// Stochastic gradient descent with momentum.
    Sgd {
        /// Momentum factor (0 = plain SGD).
        #[serde(default = "default_momentum")]
        momentum: f64,
        /// Nesterov momentum.
        #[serde(default)]
        nesterov: bool,
    },
}

fn default_beta1() -> f64 {
    0.9
}
fn default_beta2() -> f64 {
    0.999
}
fn default_eps() -> f64 {
    1e-8
}
fn default_momentum() -> f64 {
    0.9
}

impl OptimizerKind {
    /// AdamW with PyTorch's defaults.
    pub fn adamw() -> OptimizerKind {
        OptimizerKind::Adamw {
            beta1: default_beta1(),
            beta2: default_beta2(),
            eps: default_eps(),
        }
    }

    /// SGD with momentum 0.9.
    pub fn sgd() -> OptimizerKind {
        OptimizerKind::Sgd {
            momentum: default_momentum(),
            nesterov: false,
        }
    }
}

/// Learning rate over epochs.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", deny_unknown_fields)]
pub enum Schedule {
    /// The base rate throughout.
    #[default]
    Constant,
    /// Cosine annealing from the base rate to `min_factor`·base over the run (per epoch).
    Cosine {
        /// Final rate as a fraction of the base rate.
        #[serde(default)]
        min_factor: f64,
    },
    /// Multiply by `gamma` every `every` epochs.
    Step {
        /// Epochs between decays.
        every: usize,
        /// Decay factor.
        gamma: f64,
    },
}

impl Schedule {
    /// The rate for `epoch` (0-based) of `epochs`.
    pub fn lr_at(&self, base: f64, epoch: usize, epochs: usize) -> f64 {
        match *self {
            Schedule::Constant => base,
            Schedule::Cosine { min_factor } => {
                let t = if epochs > 1 {
                    epoch as f64 / (epochs - 1) as f64
                } else {
                    0.0
                };
                let min = base * min_factor;
                min + (base - min) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
            }
            Schedule::Step { every, gamma } => base * gamma.powi((epoch / every.max(1)) as i32),
        }
    }
}

/// Per-parameter optimiser state.
#[derive(Debug, Clone, Default)]
struct State {
    /// AdamW's first moment or SGD's momentum buffer (empty before the first step).
    first: Vec<f32>,
    /// AdamW's second moment.
    second: Vec<f32>,
}

/// An optimiser over a fixed, ordered list of parameters.
#[derive(Debug)]
pub struct Optimizer {
    kind: OptimizerKind,
    params: Vec<Param>,
    state: Vec<State>,
    weight_decay: f64,
    steps: u64,
}

impl Optimizer {
    /// An optimiser for `params` (kept in the given order).
    pub fn new(kind: OptimizerKind, params: Vec<Param>, weight_decay: f64) -> Optimizer {
        let state = vec![State::default(); params.len()];
        Optimizer {
            kind,
            params,
            state,
            weight_decay,
            steps: 0,
        }
    }

    /// The parameters being optimised.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// Global L2 norm of the gradients (f64 sum in parameter order).
    pub fn grad_norm(&self, grads: &GradStore) -> Result<f64, CnnError> {
        let mut sum = 0.0f64;
        for p in &self.params {
            if let Some(g) = grads.get(p.var.as_tensor()) {
                sum += with_values(g, param_update::sum_of_squares)? as f64;
            }
        }
        Ok(sum.sqrt())
    }

    /// One update at learning rate `lr`, after scaling gradients so that their global norm is
    /// at most `clip` (when given). Returns the norm before clipping.
    pub fn step(&mut self, grads: &GradStore, lr: f64, clip: Option<f64>) -> Result<f64, CnnError> {
        let norm = self.grad_norm(grads)?;
        self.step_with_norm(grads, lr, clip, norm)?;
        Ok(norm)
    }

    /// [`Optimizer::step`] with the gradient norm already computed by [`Optimizer::grad_norm`].
    pub fn step_with_norm(
        &mut self,
        grads: &GradStore,
        lr: f64,
        clip: Option<f64>,
        norm: f64,
    ) -> Result<(), CnnError> {
        let grad_scale = match clip {
            Some(max) if norm > max => max / (norm + 1e-6),
            _ => 1.0,
        };
        self.steps += 1;
        let t = self.steps as i32;
        for (p, st) in self.params.iter().zip(self.state.iter_mut()) {
            let Some(g) = grads.get(p.var.as_tensor()) else {
                continue;
            };
            let w = p.var.as_tensor();
            let lr = lr * p.lr_scale;
            let decay = if w.rank() >= 2 {
                self.weight_decay
            } else {
                0.0
            };
            // The update reads the gradient's values where candle stored them and writes the
            // weights and the moment vectors in place, so no state refers to candle's graph
            // (candle does not detach the sums it stores for leaf variables, and moments built
            // from them with tensor ops chained every step's graph).
            // The update holds the weight's storage for writing while it reads the gradient's:
            // a gradient stored in the weight's own buffer is copied first.
            let copied;
            let g = if same_buffer(g, w) {
                copied = g.copy()?;
                &copied
            } else {
                g
            };
            let first = st.first.is_empty();
            let n = w.elem_count();
            let kind = self.kind;
            let update = |values: &mut [f32]| -> Result<(), CnnError> {
                with_values(g, |g| match kind {
                    OptimizerKind::Adamw { beta1, beta2, eps } => {
                        if first {
                            (st.first, st.second) = (vec![0.0; n], vec![0.0; n]);
                        }
                        let constants = param_update::AdamwStep {
                            grad_scale,
                            beta1,
                            beta2,
                            eps,
                            t,
                            lr,
                            decay,
                        };
                        let moments = (st.first.as_mut_slice(), st.second.as_mut_slice());
                        param_update::adamw(values, g, moments, first, constants);
                    }
                    OptimizerKind::Sgd { momentum, nesterov } => {
                        if first && momentum > 0.0 {
                            st.first = vec![0.0; n];
                        }
                        let constants = param_update::SgdStep {
                            grad_scale,
                            momentum,
                            nesterov,
                            lr,
                            decay,
                        };
                        param_update::sgd(values, g, &mut st.first, first, constants);
                    }
                })
            };
            w.inplace_op1(&param_update::InPlace::new(update))?;
        }
        Ok(())
    }
}

/// Whether two CPU tensors share one storage buffer.
fn same_buffer(a: &Tensor, b: &Tensor) -> bool {
    let (sa, _) = a.storage_and_layout();
    let (sb, _) = b.storage_and_layout();
    match (&*sa, &*sb) {
        (Storage::Cpu(ca), Storage::Cpu(cb)) => {
            match (ca.as_slice::<f32>(), cb.as_slice::<f32>()) {
                (Ok(x), Ok(y)) => std::ptr::eq(x.as_ptr(), y.as_ptr()),
                _ => false,
            }
        }
        _ => false,
    }
}

/// Runs `f` over the contiguous f32 values of `t` without copying them when `t` is contiguous.
fn with_values<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R, CnnError> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    match &*storage {
        Storage::Cpu(cpu) => Ok(f(contiguous_f32(cpu, layout)?)),
        _ => {
            Err(candle_core::Error::Msg("optimiser: parameters must live on the CPU".into()).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    fn quadratic_descent(kind: OptimizerKind, lr: f64) -> f32 {
        // Minimise ‖x − 3‖² from x = 0.
        let x =
            Var::from_tensor(&Tensor::zeros((2, 2), DType::F32, &Device::Cpu).unwrap()).unwrap();
        let mut opt = Optimizer::new(
            kind,
            vec![Param {
                name: "x".into(),
                var: x.clone(),
                lr_scale: 1.0,
            }],
            0.0,
        );
        for _ in 0..200 {
            let loss = (x.as_tensor() - 3.0)
                .unwrap()
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap();
            let grads = loss.backward().unwrap();
            opt.step(&grads, lr, None).unwrap();
        }
        x.as_tensor()
            .mean_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }

    #[test]
    fn both_rules_converge() {
        assert!((quadratic_descent(OptimizerKind::adamw(), 0.1) - 3.0).abs() < 1e-2);
        assert!((quadratic_descent(OptimizerKind::sgd(), 0.01) - 3.0).abs() < 1e-2);
    }

    #[test]
    fn first_adamw_step_is_lr_in_the_sign_of_the_gradient() {
        let x = Var::from_tensor(&Tensor::new(&[1.0f32, -2.0], &Device::Cpu).unwrap()).unwrap();
        let mut opt = Optimizer::new(
            OptimizerKind::adamw(),
            vec![Param {
                name: "x".into(),
                var: x.clone(),
                lr_scale: 0.5,
            }],
            0.0,
        );
        let loss = x.as_tensor().sqr().unwrap().sum_all().unwrap();
        let norm = opt.step(&loss.backward().unwrap(), 0.2, Some(1.0)).unwrap();
        assert!((norm - 20f64.sqrt()).abs() < 1e-5);
        let v = x.as_tensor().to_vec1::<f32>().unwrap();
        assert!(
            (v[0] - 0.9).abs() < 1e-5 && (v[1] + 1.9).abs() < 1e-5,
            "{v:?}"
        );
    }

    #[test]
    fn schedules() {
        let c = Schedule::Cosine { min_factor: 0.1 };
        assert!((c.lr_at(1.0, 0, 5) - 1.0).abs() < 1e-12);
        assert!((c.lr_at(1.0, 4, 5) - 0.1).abs() < 1e-12);
        let s = Schedule::Step {
            every: 2,
            gamma: 0.5,
        };
        assert_eq!(s.lr_at(1.0, 3, 10), 0.5);
        assert_eq!(s.lr_at(1.0, 4, 10), 0.25);
    }
}
