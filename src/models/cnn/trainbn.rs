//! Batch norm in training mode (batch statistics), optionally followed by ReLU, as one candle
//! custom op with its own backward pass.
//!
//! Principal function: [`batch_norm_train`]. candle-nn's `BatchNorm::forward_train` builds the
//! normalisation from about ten tensor ops (a channel-major copy, two means, broadcast subtract,
//! divide, multiply and add), and candle's autograd answers them with about thirty more, each
//! allocating and sweeping the whole activation; in a width-16 ResNet-18 training step those
//! sweeps cost more than the convolutions. Here the forward pass is one sweep per channel and the
//! backward pass three.
//!
//! The arithmetic is candle's, operation for operation and in the same order: the two sums per
//! channel (and the three of the backward pass) are candle's own `vec_reduce_sum` over the same
//! channel-major rows, every `affine` is `v·mul + add` in f32, and each gradient that candle
//! accumulates into a zero tensor is `0 + g` here too (which turns −0 into +0). Where candle adds
//! two contributions to one gradient the order does not matter, since f32 addition commutes and
//! `0 + ·` only touches signed zeros. So training gives the same bits as with candle-nn's layer;
//! the tests compare outputs, running statistics and all three gradients bit for bit.

use super::fastconv::contiguous_f32;
use candle_core::cpu::kernels::VecOps;
use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor, Var};
use candle_nn::BatchNorm;
use rayon::prelude::*;
use std::sync::{Arc, OnceLock};

/// Channels with fewer values than this run in one rayon task with their neighbours.
const MIN_VALUES_PER_TASK: usize = 1 << 14;

/// `relu(bn(xs))` when `relu`, else `bn(xs)`, normalising by the batch statistics of `xs`
/// (`[batch, channels, spatial…]`, f32 on the CPU) and updating `bn`'s running statistics as
/// candle-nn does. Layers without affine parameters, inputs of another dtype or device take
/// candle-nn's own path. The layer must remove the mean, as `candle_nn::batch_norm`'s default
/// config (which builds every radbench layer) does; candle-nn keeps that flag private.
pub fn batch_norm_train(bn: &BatchNorm, xs: &Tensor, relu: bool) -> Result<Tensor> {
    let Some((weight, bias)) = bn.weight_and_bias() else {
        return fallback(bn, xs, relu);
    };
    let c = bn.running_mean().dim(0)?;
    let fits = xs.rank() >= 2
        && xs.dim(1)? == c
        && xs.dtype() == candle_core::DType::F32
        && xs.device().is_cpu()
        && weight.dims() == [c]
        && bias.dims() == [c];
    if !fits {
        return fallback(bn, xs, relu);
    }
    let stats = Arc::new(OnceLock::new());
    let op = BatchNormTrain {
        eps: bn.eps(),
        relu,
        stats: stats.clone(),
    };
    let out = xs
        .contiguous()?
        .apply_op3_arc(weight, bias, Arc::new(Box::new(op)))?;
    let Some(stats) = stats.get() else {
        candle_core::bail!("batch norm: the forward pass left no statistics")
    };
    let per_channel = xs.elem_count() / c;
    update_running_stats(bn, stats, per_channel)?;
    Ok(out)
}

/// candle-nn's layer, for the cases [`batch_norm_train`] does not cover.
fn fallback(bn: &BatchNorm, xs: &Tensor, relu: bool) -> Result<Tensor> {
    let out = candle_core::ModuleT::forward_t(bn, xs, true)?;
    if relu { out.relu() } else { Ok(out) }
}

/// The running-statistics update of `BatchNorm::forward_train`, with the same tensor ops on the
/// `[C]` means and variances, so the same bits.
fn update_running_stats(bn: &BatchNorm, stats: &Stats, per_channel: usize) -> Result<()> {
    let dev = bn.running_mean().device();
    let c = stats.mean.len();
    let mean = Tensor::from_slice(&stats.mean, c, dev)?;
    let var = Tensor::from_slice(&stats.var, c, dev)?;
    let momentum = bn.momentum();
    let running_mean = ((bn.running_mean() * (1.0 - momentum))? + (mean * momentum)?)?;
    Var::from_tensor(bn.running_mean())?.set(&running_mean)?;
    let n = per_channel as f64;
    let var_weight = momentum * n / (n - 1.0);
    let running_var = ((bn.running_var() * (1.0 - momentum))? + (var * var_weight)?)?;
    Var::from_tensor(bn.running_var())?.set(&running_var)?;
    Ok(())
}

/// Per-channel batch statistics of one forward pass, kept for the backward pass.
#[derive(Debug)]
struct Stats {
    mean: Vec<f32>,
    /// Biased variance (mean of squared deviations).
    var: Vec<f32>,
}

/// `sqrt(var + eps)` as candle forms it: `affine(1, eps)`, then `sqrt`.
fn root(var: f32, eps: f64) -> f32 {
    (var * 1.0 + eps as f32).sqrt()
}

/// The custom op: arguments `xs`, weight `[C]`, bias `[C]`.
struct BatchNormTrain {
    eps: f64,
    relu: bool,
    stats: Arc<OnceLock<Stats>>,
}

/// candle's `vec_reduce_sum`, the routine its sums over a contiguous last axis use.
fn row_sum(values: &[f32]) -> f32 {
    let mut sum = 0f32;
    // SAFETY: the pointer and length come from one slice; `sum` is a valid f32.
    unsafe { <f32 as VecOps>::vec_reduce_sum(values.as_ptr(), &mut sum, values.len()) };
    sum
}

/// `dims` as (batch, channels, values per channel and image).
fn split_dims(shape: &Shape) -> Result<(usize, usize, usize)> {
    let dims = shape.dims();
    if dims.len() < 2 {
        candle_core::bail!("batch norm: input of rank {} < 2", dims.len())
    }
    Ok((dims[0], dims[1], dims[2..].iter().product()))
}

/// Copies channel `ch` of every image of NCHW `src` into `row`, image after image: the row
/// of candle-nn's channel-major copy.
fn gather(
    src: &[f32],
    (batch, channels, plane): (usize, usize, usize),
    ch: usize,
    row: &mut [f32],
) {
    for (i, seg) in row.chunks_mut(plane).enumerate().take(batch) {
        let start = (i * channels + ch) * plane;
        seg.copy_from_slice(&src[start..start + plane]);
    }
}

/// Writes channel-major rows back as NCHW.
fn scatter(rows: &[f32], (batch, channels, plane): (usize, usize, usize)) -> Vec<f32> {
    let n = batch * plane;
    let mut out = vec![0f32; rows.len()];
    out.par_chunks_mut(channels * plane)
        .with_min_len(MIN_VALUES_PER_TASK.div_ceil(channels * plane).max(1))
        .enumerate()
        .for_each(|(i, image)| {
            for (ch, dst) in image.chunks_mut(plane).enumerate() {
                let start = ch * n + i * plane;
                dst.copy_from_slice(&rows[start..start + plane]);
            }
        });
    out
}

impl CustomOp3 for BatchNormTrain {
    fn name(&self) -> &'static str {
        "radbench-batch-norm-train"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let xs = contiguous_f32(s1, l1)?;
        let (weight, bias) = (contiguous_f32(s2, l2)?, contiguous_f32(s3, l3)?);
        let dims = split_dims(l1.shape())?;
        let (batch, channels, plane) = dims;
        let n = batch * plane;
        if n == 0 || weight.len() != channels || bias.len() != channels {
            candle_core::bail!(
                "batch norm: input {:?} for {} channels",
                l1.dims(),
                weight.len()
            )
        }
        // candle's mean: sum, then `affine(1/n, 0)` with the factor rounded to f32.
        let scale = (1f64 / n as f64) as f32;
        let mut rows = vec![0f32; xs.len()];
        let per_channel: Vec<(f32, f32)> = rows
            .par_chunks_mut(n)
            .with_min_len(MIN_VALUES_PER_TASK.div_ceil(n))
            .enumerate()
            .map_init(Vec::new, |squares, (ch, row)| {
                gather(xs, dims, ch, row);
                let mean = row_sum(row) * scale + 0.0;
                squares.clear();
                squares.extend(row.iter().map(|&t| {
                    let d = t - mean;
                    d * d
                }));
                let var = row_sum(squares) * scale + 0.0;
                let root = root(var, self.eps);
                let (w, b) = (weight[ch], bias[ch]);
                for v in row.iter_mut() {
                    let o = (*v - mean) / root * w + b;
                    *v = if self.relu { o.max(0f32) } else { o };
                }
                (mean, var)
            })
            .collect();
        let stats = Stats {
            mean: per_channel.iter().map(|s| s.0).collect(),
            var: per_channel.iter().map(|s| s.1).collect(),
        };
        if self.stats.set(stats).is_err() {
            candle_core::bail!("batch norm: op applied twice")
        }
        Ok((CpuStorage::F32(scatter(&rows, dims)), l1.shape().clone()))
    }

    fn bwd(
        &self,
        xs: &Tensor,
        weight: &Tensor,
        bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let Some(stats) = self.stats.get() else {
            candle_core::bail!("batch norm: backward pass before forward pass")
        };
        let dims = split_dims(xs.shape())?;
        let (batch, _, plane) = dims;
        let n = batch * plane;
        let scale = (1f64 / n as f64) as f32;
        let x = xs.flatten_all()?.to_vec1::<f32>()?;
        let g = grad.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        let w = weight.to_vec1::<f32>()?;
        let b = bias.to_vec1::<f32>()?;
        let mut rows = vec![0f32; x.len()];
        let params: Vec<(f32, f32)> = rows
            .par_chunks_mut(n)
            .with_min_len(MIN_VALUES_PER_TASK.div_ceil(n))
            .enumerate()
            .map_init(
                || Scratch::new(n),
                |s, (ch, row)| {
                    let channel = Channel {
                        mean: stats.mean[ch],
                        root: root(stats.var[ch], self.eps),
                        weight: w[ch],
                        bias: b[ch],
                        scale,
                        relu: self.relu,
                    };
                    gather(&x, dims, ch, &mut s.x);
                    gather(&g, dims, ch, &mut s.g);
                    channel.backward(s, row)
                },
            )
            .collect();
        let dev = xs.device();
        let grad_x = Tensor::from_vec(scatter(&rows, dims), xs.shape(), dev)?;
        let grad_w = Tensor::from_vec(params.iter().map(|p| p.0).collect(), w.len(), dev)?;
        let grad_b = Tensor::from_vec(params.iter().map(|p| p.1).collect(), b.len(), dev)?;
        Ok((Some(grad_x), Some(grad_w), Some(grad_b)))
    }
}

/// Per-task buffers of the backward pass, one channel row each.
struct Scratch {
    x: Vec<f32>,
    g: Vec<f32>,
    a: Vec<f32>,
    b: Vec<f32>,
    c: Vec<f32>,
}

impl Scratch {
    fn new(n: usize) -> Scratch {
        Scratch {
            x: vec![0f32; n],
            g: vec![0f32; n],
            a: vec![0f32; n],
            b: vec![0f32; n],
            c: vec![0f32; n],
        }
    }
}

/// One channel's statistics and parameters.
struct Channel {
    mean: f32,
    root: f32,
    weight: f32,
    bias: f32,
    scale: f32,
    relu: bool,
}

impl Channel {
    /// Writes the input gradient of the channel's row into `out` and returns the weight and
    /// bias gradients. Each line names the candle autograd step it reproduces; `t` is the
    /// channel-major input, `c = t − mean`, `y = c / root`, `o = y·w + b`.
    fn backward(&self, s: &mut Scratch, out: &mut [f32]) -> (f32, f32) {
        let (mean, root, w) = (self.mean, self.root, self.weight);
        let root_sq = root * root;
        for i in 0..s.x.len() {
            let c = s.x[i] - mean;
            let y = c / root;
            let mut go = s.g[i];
            if self.relu {
                // relu: grad · (o ≥ 0) as f32.
                let o = y * w + self.bias;
                go *= if o >= 0f32 { 1f32 } else { 0f32 };
            }
            // Accumulated through the ReLU, the transpose and the reshape.
            let go = 0f32 + go;
            s.a[i] = go;
            // mul: rhs gradient grad·y, into a zero tensor.
            s.b[i] = 0f32 + go * y;
            // mul: lhs gradient grad·w; div: rhs gradient −(grad·c)/root².
            let gy = 0f32 + go * w;
            s.c[i] = 0f32 - (gy * c) / root_sq;
            s.g[i] = gy;
        }
        // broadcast backward: sums over the row, each into a zero gradient.
        let grad_bias = 0f32 + row_sum(&s.a);
        let grad_weight = 0f32 + row_sum(&s.b);
        let grad_root = 0f32 + row_sum(&s.c);
        // sqrt: grad / node · 0.5; affine(1, eps): ·1; mean: ·(1/n); sum: broadcast back.
        let grad_e = 0f32 + ((grad_root / root) * 0.5 + 0f32);
        let grad_v = 0f32 + (grad_e * 1f32 + 0f32);
        let grad_q = 0f32 + (0f32 + (grad_v * self.scale + 0f32));
        for i in 0..s.x.len() {
            let c = s.x[i] - mean;
            // div: lhs gradient grad / root; sqr: c·grad·2. The two add in either order.
            let gc = (0f32 + s.g[i] / root) + ((c * grad_q) * 2f32 + 0f32);
            s.a[i] = gc;
            // sub: rhs gradient, subtracted from a zero tensor.
            s.b[i] = 0f32 - gc;
        }
        let grad_m = 0f32 + row_sum(&s.b);
        // mean: affine(1/n, 0); sum: broadcast back.
        let grad_t2 = 0f32 + (0f32 + (grad_m * self.scale + 0f32));
        for (dst, &gc) in out.iter_mut().zip(&s.a) {
            // sub: lhs gradient plus the mean's, then the copy, flatten and transpose.
            *dst = 0f32 + ((0f32 + gc) + grad_t2);
        }
        (grad_weight, grad_bias)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use candle_nn::{BatchNormConfig, VarBuilder, VarMap};

    fn layer(c: usize, seed: u64) -> (VarMap, BatchNorm) {
        let map = VarMap::new();
        let vb = VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu);
        let cfg = BatchNormConfig {
            eps: 1e-5,
            ..Default::default()
        };
        let bn = candle_nn::batch_norm(c, cfg, vb).unwrap();
        // Non-trivial parameters and running statistics, the same for both layers.
        let values = |k: u64| -> Vec<f32> {
            (0..c as u64)
                .map(|i| ((i * 37 + k * 11 + seed) % 17) as f32 / 8.0 - 0.9)
                .collect()
        };
        for (name, k) in [("weight", 1), ("bias", 2), ("running_mean", 3)] {
            let var = &map.data().lock().unwrap()[name];
            var.set(&Tensor::new(values(k), &Device::Cpu).unwrap())
                .unwrap();
        }
        (map, bn)
    }

    fn bits(t: &Tensor) -> Vec<u32> {
        t.flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
            .iter()
            .map(|v| v.to_bits())
            .collect()
    }

    #[test]
    fn forward_running_stats_and_gradients_are_candles_bit_for_bit() {
        let dev = Device::Cpu;
        for (case, dims) in [
            vec![3usize, 5, 7, 6],
            vec![4, 3, 1, 1],
            vec![2, 16, 9, 9],
            vec![2, 4, 3, 5, 2],
            vec![5, 2],
        ]
        .into_iter()
        .enumerate()
        {
            for relu in [false, true] {
                let c = dims[1];
                let (map_a, ours) = layer(c, case as u64);
                let (map_b, theirs) = layer(c, case as u64);
                let x = Var::randn(0.3f32, 1.7, dims.as_slice(), &dev).unwrap();
                // A weighted sum makes every output position's gradient distinct; the zeros
                // exercise the signed-zero rules.
                let mut wts = Tensor::randn(0f32, 1.0, dims.as_slice(), &dev).unwrap();
                wts = wts
                    .broadcast_mul(
                        &Tensor::randn(0f32, 1.0, dims.as_slice(), &dev)
                            .unwrap()
                            .ge(0.0)
                            .unwrap()
                            .to_dtype(DType::F32)
                            .unwrap(),
                    )
                    .unwrap();
                let a = batch_norm_train(&ours, x.as_tensor(), relu).unwrap();
                let b = candle_core::ModuleT::forward_t(&theirs, x.as_tensor(), true).unwrap();
                let b = if relu { b.relu().unwrap() } else { b };
                assert_eq!(bits(&a), bits(&b), "forward {dims:?} relu {relu}");
                assert_eq!(bits(ours.running_mean()), bits(theirs.running_mean()));
                assert_eq!(bits(ours.running_var()), bits(theirs.running_var()));
                let ga = (a * &wts).unwrap().sum_all().unwrap().backward().unwrap();
                let gb = (b * &wts).unwrap().sum_all().unwrap().backward().unwrap();
                let grad = |g: &candle_core::backprop::GradStore, t: &Tensor| {
                    bits(g.get(t).expect("gradient"))
                };
                assert_eq!(
                    grad(&ga, x.as_tensor()),
                    grad(&gb, x.as_tensor()),
                    "grad x {dims:?} relu {relu}"
                );
                for name in ["weight", "bias"] {
                    let (va, vb) = (
                        map_a.data().lock().unwrap()[name].as_tensor().clone(),
                        map_b.data().lock().unwrap()[name].as_tensor().clone(),
                    );
                    assert_eq!(
                        grad(&ga, &va),
                        grad(&gb, &vb),
                        "grad {name} {dims:?} relu {relu}"
                    );
                }
            }
        }
    }

    #[test]
    fn statistics_do_not_depend_on_the_thread_count() {
        let dev = Device::Cpu;
        let x = Var::randn(0f32, 1.0, (3, 8, 40, 40), &dev).unwrap();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let (_map, bn) = layer(8, 1);
                let y = batch_norm_train(&bn, x.as_tensor(), true).unwrap();
                let g = y.sqr().unwrap().sum_all().unwrap().backward().unwrap();
                (bits(&y), bits(g.get(x.as_tensor()).unwrap()))
            })
        };
        assert_eq!(run(1), run(3));
    }
}
