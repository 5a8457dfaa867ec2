//! Tests of the 3-D pooling and conv + batch-norm blocks against direct computations.

use super::*;
use crate::models::cnn::store::seeded_varmap;
use candle_core::{Device, Var};

/// Direct pooling of one `[d, h, w]` volume: max (padding = −∞) or mean counting the padding.
fn naive_pool(
    x: &[f32],
    [d, h, w]: [usize; 3],
    (k, s, p): (usize, usize, usize),
    max: bool,
) -> Vec<f32> {
    let o = |n: usize| (n + 2 * p - k) / s + 1;
    let (od, oh, ow) = (o(d), o(h), o(w));
    let mut out = Vec::new();
    for z in 0..od {
        for y in 0..oh {
            for xx in 0..ow {
                let mut acc = if max { f32::NEG_INFINITY } else { 0.0 };
                for a in 0..k {
                    for b in 0..k {
                        for c in 0..k {
                            let (iz, iy, ix) = (
                                (z * s + a) as isize - p as isize,
                                (y * s + b) as isize - p as isize,
                                (xx * s + c) as isize - p as isize,
                            );
                            let inside = iz >= 0
                                && iy >= 0
                                && ix >= 0
                                && (iz as usize) < d
                                && (iy as usize) < h
                                && (ix as usize) < w;
                            let v = if inside {
                                x[(iz as usize * h + iy as usize) * w + ix as usize]
                            } else if max {
                                f32::NEG_INFINITY
                            } else {
                                0.0
                            };
                            acc = if max { acc.max(v) } else { acc + v };
                        }
                    }
                }
                out.push(if max { acc } else { acc / (k * k * k) as f32 });
            }
        }
    }
    out
}

fn values(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1().unwrap()
}

#[test]
fn pools_match_direct_pooling() {
    let dev = Device::Cpu;
    for (dims, (k, s, p)) in [
        ([5, 6, 7], (3, 2, 1)),
        ([4, 4, 4], (2, 2, 0)),
        ([7, 5, 6], (3, 1, 1)),
        ([3, 3, 3], (3, 3, 0)),
    ] {
        // Negative values make the max pool's −∞ padding matter.
        let x = Tensor::randn(0f32, 1.0, (2, 3, dims[0], dims[1], dims[2]), &dev).unwrap();
        let flat = values(&x);
        let per = dims.iter().product::<usize>();
        let got_max = values(&max_pool3d(&x, k, s, p).unwrap());
        let got_avg = values(&avg_pool3d(&x, k, s, p).unwrap());
        let (mut want_max, mut want_avg) = (Vec::new(), Vec::new());
        for v in flat.chunks(per) {
            want_max.extend(naive_pool(v, dims, (k, s, p), true));
            want_avg.extend(naive_pool(v, dims, (k, s, p), false));
        }
        assert_eq!(got_max, want_max, "max {dims:?} {k} {s} {p}");
        let err = got_avg
            .iter()
            .zip(&want_avg)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(err < 1e-5, "avg {dims:?} {k} {s} {p}: {err}");
    }
}

#[test]
fn adaptive_and_global_pooling() {
    let dev = Device::Cpu;
    // Values = flat index: bins of PyTorch's rule on an axis of 5 into 3 are 0..2, 1..4, 3..5.
    let x = Tensor::arange(0f32, 5.0, &dev)
        .unwrap()
        .reshape((1, 1, 5, 1, 1))
        .unwrap();
    let y = adaptive_avg_pool3d(&x, [3, 1, 1]).unwrap();
    assert_eq!(values(&y), vec![0.5, 2.0, 3.5]);
    let x = Tensor::randn(0f32, 1.0, (2, 3, 4, 5, 6), &dev).unwrap();
    let g = global_avg_pool3d(&x).unwrap();
    let a = adaptive_avg_pool3d(&x, [1, 1, 1])
        .unwrap()
        .flatten_from(1)
        .unwrap();
    assert_eq!(g.dims(), &[2, 3]);
    let diff: f32 = (g - a)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar()
        .unwrap();
    assert!(diff < 1e-6);
    assert!(adaptive_avg_pool3d(&x.flatten_from(3).unwrap(), [1, 1, 1]).is_err());
}

#[test]
fn pool_gradients_route_to_the_window() {
    let dev = Device::Cpu;
    let v = Var::randn(0f32, 1.0, (1, 1, 4, 4, 4), &dev).unwrap();
    // A 2³ max pool at stride 2 routes one unit of gradient per window to its maximum.
    let grads = max_pool3d(v.as_tensor(), 2, 2, 0)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let g = values(grads.get(v.as_tensor()).unwrap());
    assert_eq!(g.iter().sum::<f32>(), 8.0);
    assert!(g.iter().all(|&x| x == 0.0 || x == 1.0));
    // An average pool spreads 1/k³ to every voxel of each window (non-overlapping: each once).
    let grads = avg_pool3d(v.as_tensor(), 2, 2, 0)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let g = values(grads.get(v.as_tensor()).unwrap());
    assert!(g.iter().all(|&x| (x - 0.125).abs() < 1e-7), "{g:?}");
}

#[test]
fn batch_norm_3d_normalises_per_channel_and_folding_agrees() {
    let dev = Device::Cpu;
    let (_map, vb) = seeded_varmap(4);
    let mut block = ConvBn3d::same((2, 3, 3), 1, 1e-5, vb.pp("conv"), vb.pp("bn")).unwrap();
    let x = Tensor::randn(0f32, 1.0, (2, 2, 5, 4, 6), &dev).unwrap();
    let y = block.forward_t(&x, true).unwrap();
    assert_eq!(y.dims(), &[2, 3, 5, 4, 6]);
    // Training-mode batch norm: each channel has mean 0 and variance 1 over (b, d, h, w).
    for c in 0..3 {
        let ch = values(&y.narrow(1, c, 1).unwrap());
        let n = ch.len() as f32;
        let mean = ch.iter().sum::<f32>() / n;
        let var = ch.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
        assert!(
            mean.abs() < 1e-4 && (var - 1.0).abs() < 1e-3,
            "{mean} {var}"
        );
    }
    let before = block.forward_relu_t(&x, false).unwrap();
    block.fold().unwrap();
    let after = block.forward_relu_t(&x, false).unwrap();
    let diff: f32 = (before - after)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar()
        .unwrap();
    assert!(diff < 1e-4, "{diff}");
}
