//! Tests of the 3-D convolution against a direct (naive) 3-D convolution in f64.

use super::*;
use crate::seed::rng_for;
use candle_core::{Device, Var};
use rand_distr::{Distribution, StandardNormal};

/// Direct convolution: `x` `[b, c, d, h, w]`, `w` `[o, c, kd, kh, kw]`, in f64.
fn naive(
    x: &[f64],
    xd: [usize; 5],
    w: &[f64],
    wd: [usize; 5],
    shape: Conv3dShape,
) -> (Vec<f64>, [usize; 5]) {
    let [b, c, d, h, ww] = xd;
    let [o, _, kd, kh, kw] = wd;
    let [s0, s1, s2] = shape.stride;
    let [p0, p1, p2] = shape.padding;
    let od = (d + 2 * p0 - kd) / s0 + 1;
    let oh = (h + 2 * p1 - kh) / s1 + 1;
    let ow = (ww + 2 * p2 - kw) / s2 + 1;
    let mut y = vec![0.0; b * o * od * oh * ow];
    for n in 0..b {
        for co in 0..o {
            for z in 0..od {
                for r in 0..oh {
                    for q in 0..ow {
                        let mut acc = 0.0;
                        for ci in 0..c {
                            for a in 0..kd {
                                for bb in 0..kh {
                                    for cc in 0..kw {
                                        let iz = (z * s0 + a) as isize - p0 as isize;
                                        let iy = (r * s1 + bb) as isize - p1 as isize;
                                        let ix = (q * s2 + cc) as isize - p2 as isize;
                                        if iz < 0
                                            || iy < 0
                                            || ix < 0
                                            || iz >= d as isize
                                            || iy >= h as isize
                                            || ix >= ww as isize
                                        {
                                            continue;
                                        }
                                        let xi = (((n * c + ci) * d + iz as usize) * h
                                            + iy as usize)
                                            * ww
                                            + ix as usize;
                                        let wi = (((co * c + ci) * kd + a) * kh + bb) * kw + cc;
                                        acc += x[xi] * w[wi];
                                    }
                                }
                            }
                        }
                        y[(((n * o + co) * od + z) * oh + r) * ow + q] = acc;
                    }
                }
            }
        }
    }
    (y, [b, o, od, oh, ow])
}

fn randn(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = rng_for(seed, &["conv3d-test"]);
    (0..n).map(|_| StandardNormal.sample(&mut rng)).collect()
}

fn to_f32(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

/// Geometries: (x dims, weight dims, stride, padding), strides and paddings mixed per axis.
/// Input shape, weight shape, stride and padding of one convolution case.
type ConvCase = ([usize; 5], [usize; 5], [usize; 3], [usize; 3]);

fn cases() -> Vec<ConvCase> {
    vec![
        ([2, 2, 5, 6, 7], [3, 2, 3, 3, 3], [1, 1, 1], [1, 1, 1]),
        ([3, 3, 7, 6, 5], [4, 3, 3, 3, 3], [2, 2, 2], [1, 1, 1]),
        ([2, 1, 9, 9, 9], [2, 1, 7, 7, 7], [2, 2, 2], [3, 3, 3]),
        ([2, 4, 4, 5, 6], [3, 4, 1, 1, 1], [1, 1, 1], [0, 0, 0]),
        ([2, 4, 5, 5, 6], [3, 4, 1, 1, 1], [2, 2, 2], [0, 0, 0]),
        ([1, 2, 4, 6, 8], [2, 2, 1, 3, 2], [1, 2, 3], [0, 1, 2]),
    ]
}

fn max_abs_diff(a: &[f32], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn forward_matches_direct_convolution() {
    let dev = Device::Cpu;
    for (i, (xd, wd, stride, padding)) in cases().into_iter().enumerate() {
        let shape = Conv3dShape { stride, padding };
        let x = randn(xd.iter().product(), 10 + i as u64);
        let w = randn(wd.iter().product(), 20 + i as u64);
        let (want, yd) = naive(&x, xd, &w, wd, shape);
        let xt = Tensor::from_vec(to_f32(&x), xd.to_vec(), &dev).unwrap();
        let wt = Tensor::from_vec(to_f32(&w), wd.to_vec(), &dev).unwrap();
        let got = conv3d(&xt, &wt, shape).unwrap();
        assert_eq!(got.dims(), &yd, "case {i}");
        let got: Vec<f32> = got.flatten_all().unwrap().to_vec1().unwrap();
        let err = max_abs_diff(&got, &want);
        assert!(err < 1e-4, "case {i}: forward differs by {err}");
        // The fused inference op: bias, residual and ReLU on top.
        let bias: Vec<f64> = randn(wd[0], 30 + i as u64);
        let residual = randn(want.len(), 40 + i as u64);
        let fused = FusedConv3d::new(
            &wt,
            &Tensor::from_vec(to_f32(&bias), wd[0], &dev).unwrap(),
            shape,
        )
        .unwrap();
        let res_t = Tensor::from_vec(to_f32(&residual), yd.to_vec(), &dev).unwrap();
        let got: Vec<f32> = fused
            .forward_residual(&xt, &res_t, true)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let per_channel: usize = yd[2..].iter().product();
        let want_fused: Vec<f64> = want
            .iter()
            .enumerate()
            .map(|(j, v)| (v + bias[(j / per_channel) % wd[0]] + residual[j]).max(0.0))
            .collect();
        let err = max_abs_diff(&got, &want_fused);
        assert!(err < 1e-4, "case {i}: fused differs by {err}");
    }
}

#[test]
fn gradients_match_finite_differences() {
    let dev = Device::Cpu;
    for (i, (xd, wd, stride, padding)) in cases().into_iter().enumerate() {
        let shape = Conv3dShape { stride, padding };
        let x = randn(xd.iter().product(), 50 + i as u64);
        let w = randn(wd.iter().product(), 60 + i as u64);
        let (y, yd) = naive(&x, xd, &w, wd, shape);
        // L = Σ g·conv(x, w) with random g makes every output's gradient distinct.
        let g = randn(y.len(), 70 + i as u64);
        let loss = |x: &[f64], w: &[f64]| -> f64 {
            let (y, _) = naive(x, xd, w, wd, shape);
            y.iter().zip(&g).map(|(a, b)| a * b).sum()
        };
        let xv =
            Var::from_tensor(&Tensor::from_vec(to_f32(&x), xd.to_vec(), &dev).unwrap()).unwrap();
        let wv =
            Var::from_tensor(&Tensor::from_vec(to_f32(&w), wd.to_vec(), &dev).unwrap()).unwrap();
        let gt = Tensor::from_vec(to_f32(&g), yd.to_vec(), &dev).unwrap();
        let grads = (conv3d(xv.as_tensor(), wv.as_tensor(), shape).unwrap() * gt)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let flat = |v: &Var| -> Vec<f32> {
            grads
                .get(v.as_tensor())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap()
        };
        let (gx, gw) = (flat(&xv), flat(&wv));
        // Central differences (exact up to rounding: the loss is linear in each argument),
        // at every weight and at a spread of input positions.
        let eps = 1e-3;
        for j in 0..w.len() {
            let (mut up, mut down) = (w.clone(), w.clone());
            up[j] += eps;
            down[j] -= eps;
            let fd = (loss(&x, &up) - loss(&x, &down)) / (2.0 * eps);
            assert!(
                (gw[j] as f64 - fd).abs() < 1e-3 * (1.0 + fd.abs()),
                "case {i}: ∂w[{j}] {} vs {fd}",
                gw[j]
            );
        }
        for j in (0..x.len()).step_by(7) {
            let (mut up, mut down) = (x.clone(), x.clone());
            up[j] += eps;
            down[j] -= eps;
            let fd = (loss(&up, &w) - loss(&down, &w)) / (2.0 * eps);
            assert!(
                (gx[j] as f64 - fd).abs() < 1e-3 * (1.0 + fd.abs()),
                "case {i}: ∂x[{j}] {} vs {fd}",
                gx[j]
            );
        }
    }
}

#[test]
fn chunked_batches_equal_single_volumes() {
    // Large enough that a chunk holds fewer volumes than the batch.
    let dev = Device::Cpu;
    let geom = Geometry3::new(&[4, 8, 3, 3, 3], Conv3dShape::cubic(1, 1)).unwrap();
    let voxels = 24 * 24 * 24;
    assert!(geom.chunk(voxels, 16) < 16, "{}", geom.chunk(voxels, 16));
    let xd = [16, 8, 24, 24, 24];
    let x = Tensor::from_vec(to_f32(&randn(xd.iter().product(), 80)), xd.to_vec(), &dev).unwrap();
    let w = Tensor::from_vec(to_f32(&randn(4 * 8 * 27, 81)), (4, 8, 3, 3, 3), &dev).unwrap();
    let all = conv3d(&x, &w, Conv3dShape::cubic(1, 1)).unwrap();
    let last = conv3d(&x.narrow(0, 15, 1).unwrap(), &w, Conv3dShape::cubic(1, 1)).unwrap();
    let diff: f32 = (all.narrow(0, 15, 1).unwrap() - last)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar()
        .unwrap();
    assert!(diff < 1e-4, "{diff}");
}

#[test]
fn bad_shapes_are_errors() {
    let dev = Device::Cpu;
    let x = Tensor::zeros((1, 2, 2, 2, 2), candle_core::DType::F32, &dev).unwrap();
    let w = Tensor::zeros((1, 3, 3, 3, 3), candle_core::DType::F32, &dev).unwrap();
    let e = conv3d(&x, &w, Conv3dShape::cubic(1, 1)).unwrap_err();
    assert!(e.to_string().contains("channels"), "{e}");
    let w = Tensor::zeros((1, 2, 3, 3, 3), candle_core::DType::F32, &dev).unwrap();
    let e = conv3d(&x, &w, Conv3dShape::cubic(1, 0)).unwrap_err();
    assert!(e.to_string().contains("smaller than the kernel"), "{e}");
}
