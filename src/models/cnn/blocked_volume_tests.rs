//! Volumes on the blocked layout: the cubic 3-D convolution, its pools and its errors.

use super::tests::values;
use super::*;

/// Voxel counts of a volume: (slices, rows, columns).
type Dims3 = (usize, usize, usize);

/// 3-D convolution by definition in f64: `[n, c_out, od, oh, ow]` and the output extent.
fn reference3(
    x: &[f32],
    (n, c, (d, h, w)): (usize, usize, Dims3),
    weight: &[f32],
    bias: &[f32],
    (c_out, k, s, p): (usize, usize, usize, usize),
    residual: Option<&[f32]>,
    relu: bool,
) -> (Vec<f64>, Dims3) {
    let span = |len: usize| (len + 2 * p - k) / s + 1;
    let (od, oh, ow) = (span(d), span(h), span(w));
    let tap = |o: usize, t: usize, len: usize| {
        let at = (o * s + t) as isize - p as isize;
        (at >= 0 && at < len as isize).then_some(at as usize)
    };
    let mut out = vec![0f64; n * c_out * od * oh * ow];
    for i in 0..n {
        for co in 0..c_out {
            for (oz, oy, ox) in
                (0..od).flat_map(|z| (0..oh).flat_map(move |y| (0..ow).map(move |x| (z, y, x))))
            {
                let mut acc = bias[co] as f64;
                for ci in 0..c {
                    for (kz, ky, kx) in (0..k)
                        .flat_map(|z| (0..k).flat_map(move |y| (0..k).map(move |x| (z, y, x))))
                    {
                        let (Some(z), Some(y), Some(xx)) =
                            (tap(oz, kz, d), tap(oy, ky, h), tap(ox, kx, w))
                        else {
                            continue;
                        };
                        let xv = x[(((i * c + ci) * d + z) * h + y) * w + xx];
                        let wv = weight[(((co * c + ci) * k + kz) * k + ky) * k + kx];
                        acc += xv as f64 * wv as f64;
                    }
                }
                let at = (((i * c_out + co) * od + oz) * oh + oy) * ow + ox;
                if let Some(r) = residual {
                    acc += r[at] as f64;
                }
                out[at] = if relu { acc.max(0.0) } else { acc };
            }
        }
    }
    (out, (od, oh, ow))
}

/// (batch, c_in, (d, h, w), c_out, kernel, stride, padding): the 3-D ResNet's shapes (small
/// and ImageNet stems, stage transitions, the strided 1×1×1 projection, 2³ maps) and awkward
/// ones (one-slice volumes, 12 channels, a 3-channel input: three co-registered sequences).
/// Batches of 8 or more take the banded pixel order (see `order`).
const CASES: [(usize, usize, Dims3, usize, usize, usize, usize); 11] = [
    (2, 1, (6, 7, 5), 8, 3, 1, 1),
    (1, 1, (9, 8, 7), 16, 7, 2, 3),
    (2, 16, (5, 6, 4), 32, 3, 2, 1),
    (2, 16, (5, 5, 5), 32, 1, 2, 0),
    (1, 32, (2, 2, 2), 64, 3, 1, 1),
    (3, 8, (1, 3, 3), 8, 3, 1, 1),
    (1, 12, (4, 4, 4), 12, 3, 1, 1),
    (2, 16, (4, 4, 4), 16, 3, 1, 1),
    (2, 3, (4, 5, 6), 16, 3, 2, 1),
    (9, 16, (2, 2, 2), 32, 3, 1, 1),
    (8, 1, (5, 6, 7), 16, 7, 2, 3),
];

#[test]
fn volumes_match_the_definition_on_every_backend_bit_for_bit_across_them() {
    for (idx, &(n, c, (d, h, w), c_out, k, s, p)) in CASES.iter().enumerate() {
        let seed = 50 + idx as u64;
        let x = values(n * c * d * h * w, seed);
        let weight = values(c_out * c * k * k * k, seed + 100);
        let bias = values(c_out, seed + 200);
        let input = BlockedMap::from_ncdhw(&x, (n, c, d, h, w), p.max(1)).unwrap();
        let conv =
            PackedConv::pack_volume(&weight, &bias, (c_out, c, k), (s, p), input.cib).unwrap();
        let span = |len: usize| (len + 2 * p - k) / s + 1;
        let out_len = n * c_out * span(d) * span(h) * span(w);
        let res_values = values(out_len, seed + 300);
        let residual =
            BlockedMap::from_ncdhw(&res_values, (n, c_out, span(d), span(h), span(w)), 1).unwrap();
        for (with_residual, relu) in [(false, true), (true, true), (false, false)] {
            let (expected, (od, oh, ow)) = reference3(
                &x,
                (n, c, (d, h, w)),
                &weight,
                &bias,
                (c_out, k, s, p),
                with_residual.then_some(&res_values[..]),
                relu,
            );
            let res = with_residual.then_some(&residual);
            let mut first: Option<Vec<u32>> = None;
            for backend in Backend::available() {
                let out = conv.forward_with(backend, &input, res, relu, 1).unwrap();
                assert_eq!((out.dims(), out.depth()), ((n, c_out, oh, ow), od));
                let got = out.to_nchw();
                assert_eq!(got.len(), expected.len());
                let scale = (c * k * k * k) as f64;
                for (i, (&g, &e)) in got.iter().zip(&expected).enumerate() {
                    assert!(
                        (g as f64 - e).abs() <= 1e-6 * scale,
                        "case {idx} {backend:?}: value {i} is {g}, definition {e}"
                    );
                }
                let bits: Vec<u32> = got.iter().map(|v| v.to_bits()).collect();
                match &first {
                    None => first = Some(bits),
                    Some(f) => assert!(*f == bits, "case {idx}: {backend:?} differs in bits"),
                }
            }
        }
    }
}

#[test]
fn a_volume_gets_the_same_bits_alone_in_a_batch_and_at_any_thread_count() {
    // Large enough (> 2 M multiply-adds) to take the parallel route.
    let (n, c, (d, h, w), c_out) = (3, 16, (6, 7, 8), 16);
    let x = values(n * c * d * h * w, 71);
    let conv = PackedConv::pack_volume(
        &values(c_out * c * 27, 72),
        &values(c_out, 73),
        (c_out, c, 3),
        (1, 1),
        LANES,
    )
    .unwrap();
    let batch = BlockedMap::from_ncdhw(&x, (n, c, d, h, w), 1).unwrap();
    let whole = conv.forward(&batch, None, true, 1).unwrap().to_nchw();
    let (per_in, per_out) = (c * d * h * w, c_out * d * h * w);
    for i in 0..n {
        let one = &x[i * per_in..(i + 1) * per_in];
        let alone = BlockedMap::from_ncdhw(one, (1, c, d, h, w), 1).unwrap();
        let got = conv.forward(&alone, None, true, 1).unwrap().to_nchw();
        assert!(got == whole[i * per_out..(i + 1) * per_out], "volume {i}");
    }
    for threads in [1, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let got = pool.install(|| conv.forward(&batch, None, true, 1).unwrap().to_nchw());
        assert!(got == whole, "{threads} threads");
    }
}

#[test]
fn volume_pools_match_their_definitions() {
    let (n, c, (d, h, w)) = (2, 8, (5, 4, 7));
    let x: Vec<f32> = values(n * c * d * h * w, 81)
        .iter()
        .map(|v| v.max(0.0))
        .collect();
    let map = BlockedMap::from_ncdhw(&x, (n, c, d, h, w), 1).unwrap();
    let pooled = map.max_pool_3x3_s2(1).unwrap();
    let (od, oh, ow) = (3, 2, 4);
    assert_eq!((pooled.dims(), pooled.depth()), ((n, c, oh, ow), od));
    let got = pooled.to_nchw();
    let window = |o: usize, len: usize| (2 * o).saturating_sub(1)..(2 * o + 2).min(len);
    for i in 0..n * c {
        for (oz, oy, ox) in
            (0..od).flat_map(|z| (0..oh).flat_map(move |y| (0..ow).map(move |x| (z, y, x))))
        {
            let mut m = 0f32; // zero padding = the network's definition after ReLU
            for z in window(oz, d) {
                for y in window(oy, h) {
                    for xx in window(ox, w) {
                        m = m.max(x[((i * d + z) * h + y) * w + xx]);
                    }
                }
            }
            assert_eq!(got[((i * od + oz) * oh + oy) * ow + ox], m);
        }
    }
    let means = map.global_avg_pool();
    for (i, &m) in means.iter().enumerate() {
        let volume = &x[i * d * h * w..(i + 1) * d * h * w];
        // In f32, voxel by voxel in slice, row, column order.
        let sequential = volume.iter().fold(0f32, |s, &v| s + v) / (d * h * w) as f32;
        assert_eq!(m, sequential, "mean {i}");
    }
}

#[test]
fn a_map_of_the_other_kind_is_an_error() {
    let volume_conv = PackedConv::pack_volume(
        &values(8 * 8 * 27, 1),
        &values(8, 2),
        (8, 8, 3),
        (1, 1),
        LANES,
    )
    .unwrap();
    let flat_conv = PackedConv::pack(
        &values(8 * 8 * 9, 1),
        &values(8, 2),
        (8, 8, 3),
        (1, 1),
        LANES,
    )
    .unwrap();
    let flat = BlockedMap::from_nchw(&values(8 * 16, 3), (1, 8, 4, 4), 1).unwrap();
    let volume = BlockedMap::from_ncdhw(&values(8 * 64, 3), (1, 8, 4, 4, 4), 1).unwrap();
    assert!(volume_conv.forward(&flat, None, true, 1).is_err());
    assert!(flat_conv.forward(&volume, None, true, 1).is_err());
    // 2-D weights are too few for a 3-D kernel.
    assert!(
        PackedConv::pack_volume(&values(8 * 8 * 9, 1), &values(8, 2), (8, 8, 3), (1, 1), 8)
            .is_err()
    );
    // A volume smaller than the kernel along depth.
    let thin = BlockedMap::from_ncdhw(&values(8 * 16, 3), (1, 8, 1, 4, 4), 0).unwrap();
    let valid = PackedConv::pack_volume(
        &values(8 * 8 * 27, 1),
        &values(8, 2),
        (8, 8, 3),
        (1, 0),
        LANES,
    )
    .unwrap();
    assert!(valid.forward(&thin, None, true, 1).is_err());
}
