use super::*;

/// Deterministic values in [−1, 1).
pub(super) fn values(n: usize, seed: u64) -> Vec<f32> {
    (0..n as u64)
        .map(|i| {
            let mut z = (i ^ (seed << 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// Convolution by definition in f64: `[n, c_out, oh, ow]`.
#[allow(clippy::too_many_arguments)]
pub(super) fn reference(
    x: &[f32],
    (n, c, h, w): (usize, usize, usize, usize),
    weight: &[f32],
    bias: &[f32],
    (c_out, k, s, p): (usize, usize, usize, usize),
    residual: Option<&[f32]>,
    relu: bool,
) -> (Vec<f64>, (usize, usize)) {
    let (oh, ow) = ((h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1);
    let mut out = vec![0f64; n * c_out * oh * ow];
    for i in 0..n {
        for co in 0..c_out {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = bias[co] as f64;
                    for ci in 0..c {
                        for ky in 0..k {
                            for kx in 0..k {
                                let (y, xx) = (
                                    (oy * s + ky) as isize - p as isize,
                                    (ox * s + kx) as isize - p as isize,
                                );
                                if y < 0 || xx < 0 || y >= h as isize || xx >= w as isize {
                                    continue;
                                }
                                let xv = x[((i * c + ci) * h + y as usize) * w + xx as usize];
                                acc += xv as f64 * weight[((co * c + ci) * k + ky) * k + kx] as f64;
                            }
                        }
                    }
                    let at = ((i * c_out + co) * oh + oy) * ow + ox;
                    if let Some(r) = residual {
                        acc += r[at] as f64;
                    }
                    out[at] = if relu { acc.max(0.0) } else { acc };
                }
            }
        }
    }
    (out, (oh, ow))
}

/// (batch, c_in, h, w, c_out, kernel, stride, padding).
type Case = (usize, usize, usize, usize, usize, usize, usize, usize);

/// ResNet's shapes and awkward ones: 1- and 3-channel inputs, channel counts that are not
/// multiples of 8, 1×1 maps, stride 2 with odd sizes, and jobs of 2, 4, 9 and 49 pixels (the
/// AVX-512 back-end's 4- and 7-pixel tiles). Batches of 8 or more take the banded pixel order
/// on every back-end (tiles of corners, edges, interiors; see `order`), with tiles that
/// straddle regions where a region's pixels are not a multiple of the tile.
const CASES: [Case; 17] = [
    (2, 1, 9, 11, 8, 3, 1, 1),
    (3, 3, 13, 12, 16, 7, 2, 3),
    (2, 8, 7, 7, 8, 3, 1, 1),
    (2, 16, 8, 6, 32, 3, 2, 1),
    (4, 16, 5, 5, 32, 1, 2, 0),
    (1, 12, 6, 9, 12, 3, 1, 1),
    (3, 32, 2, 2, 64, 3, 1, 1),
    (2, 64, 3, 3, 24, 1, 1, 0),
    (5, 8, 1, 1, 8, 3, 1, 1),
    (1, 32, 2, 2, 64, 3, 1, 1),
    (1, 16, 7, 7, 16, 3, 1, 1),
    (1, 8, 3, 3, 32, 1, 1, 0),
    (2, 8, 1, 1, 16, 1, 1, 0),
    (9, 16, 2, 2, 32, 3, 1, 1),
    (8, 8, 4, 5, 16, 3, 1, 1),
    (10, 3, 9, 8, 16, 7, 2, 3),
    (11, 16, 4, 4, 32, 3, 2, 1),
];

#[test]
fn matches_the_definition_on_every_backend_bit_for_bit_across_them() {
    for (idx, &(n, c, h, w, c_out, k, s, p)) in CASES.iter().enumerate() {
        let seed = idx as u64;
        let x = values(n * c * h * w, seed);
        let weight = values(c_out * c * k * k, seed + 100);
        let bias = values(c_out, seed + 200);
        let input = BlockedMap::from_nchw(&x, (n, c, h, w), p.max(1)).unwrap();
        let conv = PackedConv::pack(&weight, &bias, (c_out, c, k), (s, p), input.cib).unwrap();
        let (oh, ow) = ((h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1);
        let res_nchw = values(n * c_out * oh * ow, seed + 300);
        let residual = BlockedMap::from_nchw(&res_nchw, (n, c_out, oh, ow), 1).unwrap();
        for (with_residual, relu) in [(false, true), (true, true), (false, false)] {
            let res = with_residual.then_some(&residual);
            let (expected, _) = reference(
                &x,
                (n, c, h, w),
                &weight,
                &bias,
                (c_out, k, s, p),
                with_residual.then_some(&res_nchw[..]),
                relu,
            );
            let mut first: Option<Vec<u32>> = None;
            for backend in Backend::available() {
                let out = conv.forward_with(backend, &input, res, relu, 1).unwrap();
                assert_eq!(out.dims(), (n, c_out, oh, ow));
                let got = out.to_nchw();
                let scale = (c * k * k) as f64;
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
fn sixteen_lane_tiles_waste_the_fewest_pixels() {
    // (pixels, tile): 2 × 2 maps at batch 1 and 3, 7 × 7 at batch 1, 14 × 14, 56 × 56.
    for (pixels, r) in [
        (1, 4),
        (4, 4),
        (12, 4),
        (49, 7),
        (196, 7),
        (3136, 8),
        (128, 8),
    ] {
        assert_eq!(zmm_tile_pixels(pixels), r, "{pixels} pixels");
    }
}

#[test]
fn an_image_gets_the_same_bits_alone_in_a_batch_and_at_any_thread_count() {
    // Large enough (> 2 M multiply-adds) to take the parallel route; the batch of 12 on 4×4
    // maps takes the banded pixel order, each image alone the plain one.
    for (n, c, h, w, c_out) in [(6, 32, 12, 12, 64), (12, 32, 4, 4, 64)] {
        let x = values(n * c * h * w, 7);
        let weight = values(c_out * c * 9, 8);
        let bias = values(c_out, 9);
        let conv = PackedConv::pack(&weight, &bias, (c_out, c, 3), (1, 1), LANES).unwrap();
        let batch = BlockedMap::from_nchw(&x, (n, c, h, w), 1).unwrap();
        let whole = conv.forward(&batch, None, true, 1).unwrap().to_nchw();
        let per_image = c_out * h * w;
        for i in [0, 3, 5, n - 1] {
            let one = &x[i * c * h * w..(i + 1) * c * h * w];
            let alone = BlockedMap::from_nchw(one, (1, c, h, w), 1).unwrap();
            let got = conv.forward(&alone, None, true, 1).unwrap().to_nchw();
            assert!(
                got == whole[i * per_image..(i + 1) * per_image],
                "{h}×{w}, image {i}"
            );
        }
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let got = pool.install(|| conv.forward(&batch, None, true, 1).unwrap().to_nchw());
            assert!(got == whole, "{h}×{w}, {threads} threads");
        }
    }
}

#[test]
fn work_splits_do_not_change_bits() {
    // 1×1 convolutions with many input blocks: a 2×2 map (one tile range, the work split over
    // block groups) and a 20×20 map (many ranges), both past the parallel threshold.
    for (n, c, hw, c_out) in [(2, 512, 2, 512), (3, 256, 20, 64)] {
        let x = values(n * c * hw * hw, 21);
        let weight = values(c_out * c, 22);
        let bias = values(c_out, 23);
        let conv = PackedConv::pack(&weight, &bias, (c_out, c, 1), (1, 0), LANES).unwrap();
        let input = BlockedMap::from_nchw(&x, (n, c, hw, hw), 1).unwrap();
        let (expected, _) = reference(
            &x,
            (n, c, hw, hw),
            &weight,
            &bias,
            (c_out, 1, 1, 0),
            None,
            true,
        );
        let mut first: Option<Vec<f32>> = None;
        for threads in [1, 2, 5] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let got = pool.install(|| conv.forward(&input, None, true, 1).unwrap().to_nchw());
            for (i, (&g, &e)) in got.iter().zip(&expected).enumerate() {
                assert!(
                    (g as f64 - e).abs() <= 1e-6 * c as f64,
                    "value {i}: {g} vs {e}"
                );
            }
            match &first {
                None => first = Some(got),
                Some(f) => assert!(*f == got, "{c}→{c_out} at {hw}²: {threads} threads differ"),
            }
        }
    }
}

#[test]
fn pools_match_their_definitions() {
    let (n, c, h, w) = (2, 12, 7, 6);
    let x: Vec<f32> = values(n * c * h * w, 11)
        .iter()
        .map(|v| v.max(0.0))
        .collect();
    let map = BlockedMap::from_nchw(&x, (n, c, h, w), 1).unwrap();
    let pooled = map.max_pool_3x3_s2(1).unwrap();
    let (oh, ow) = (4, 3);
    assert_eq!(pooled.dims(), (n, c, oh, ow));
    let got = pooled.to_nchw();
    for i in 0..n * c {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut m = 0f32; // zero padding = the network's definition after ReLU
                for y in (2 * oy).saturating_sub(1)..(2 * oy + 2).min(h) {
                    for xx in (2 * ox).saturating_sub(1)..(2 * ox + 2).min(w) {
                        m = m.max(x[(i * h + y) * w + xx]);
                    }
                }
                assert_eq!(got[(i * oh + oy) * ow + ox], m);
            }
        }
    }
    let means = map.global_avg_pool();
    for (i, &m) in means.iter().enumerate() {
        let plane = &x[i * h * w..(i + 1) * h * w];
        // In f32, pixel by pixel in row order: the bits the reports were computed with.
        let sequential = plane.iter().fold(0f32, |s, &v| s + v) / (h * w) as f32;
        assert_eq!(m, sequential, "mean {i}");
        let exact = plane.iter().map(|&v| v as f64).sum::<f64>() / (h * w) as f64;
        assert!((m as f64 - exact).abs() < 1e-6, "mean {i}: {m} vs {exact}");
    }
}

#[test]
fn mismatched_inputs_are_errors() {
    let conv =
        PackedConv::pack(&values(8 * 8 * 9, 1), &values(8, 2), (8, 8, 3), (1, 1), 8).unwrap();
    let wrong_channels = BlockedMap::from_nchw(&values(2 * 16, 3), (1, 2, 4, 4), 1).unwrap();
    assert!(conv.forward(&wrong_channels, None, true, 1).is_err());
    let no_border = BlockedMap::from_nchw(&values(8 * 16, 3), (1, 8, 4, 4), 0).unwrap();
    assert!(conv.forward(&no_border, None, true, 1).is_err());
    assert!(PackedConv::pack(&values(10, 1), &values(8, 2), (8, 8, 3), (1, 1), 8).is_err());
    // A 3-channel input map keeps 3-channel blocks; pooling needs full ones.
    let narrow = BlockedMap::from_nchw(&values(3 * 16, 3), (1, 3, 4, 4), 1).unwrap();
    assert!(narrow.max_pool_3x3_s2(1).is_err());
}

#[test]
fn stride_one_average_and_two_by_two_max_pools_match_their_definitions() {
    // 12 channels: one full block and one with padded lanes; odd width for the 2×2 pool.
    let (n, c, h, w) = (2, 12, 6, 7);
    let x = values(n * c * h * w, 21);
    let at = |i: usize, y: isize, xx: isize| {
        if y < 0 || xx < 0 || y >= h as isize || xx >= w as isize {
            0.0
        } else {
            x[(i * h + y as usize) * w + xx as usize]
        }
    };
    let map = BlockedMap::from_nchw(&x, (n, c, h, w), 1).unwrap();
    assert_eq!(map.cib, LANES);
    let avg = map.avg_pool_3x3_s1(2).unwrap();
    assert_eq!(avg.dims(), (n, c, h, w));
    let got = avg.to_nchw();
    for i in 0..n * c {
        for y in 0..h as isize {
            for xx in 0..w as isize {
                // Rows first, then columns, as the training path sums.
                let col =
                    |dx: isize| (at(i, y - 1, xx + dx) + at(i, y, xx + dx)) + at(i, y + 1, xx + dx);
                let sum = (col(-1) + col(0)) + col(1);
                let expected = sum / 9.0; // count_include_pad: always nine taps
                let idx = (i * h + y as usize) * w + xx as usize;
                assert_eq!(got[idx], expected, "average at {i} {y} {xx}");
            }
        }
    }
    let max = map.max_pool_2x2_s2(0).unwrap();
    let (oh, ow) = (h / 2, w / 2);
    assert_eq!(max.dims(), (n, c, oh, ow));
    let got = max.to_nchw();
    for i in 0..n * c {
        for oy in 0..oh {
            for ox in 0..ow {
                let m = [(0, 0), (0, 1), (1, 0), (1, 1)]
                    .iter()
                    .map(|&(dy, dx)| at(i, (2 * oy + dy) as isize, (2 * ox + dx) as isize))
                    .fold(f32::NEG_INFINITY, f32::max);
                assert_eq!(got[(i * oh + oy) * ow + ox], m, "max at {i} {oy} {ox}");
            }
        }
    }
    assert!(
        BlockedMap::from_nchw(&x, (n, c, h, w), 0)
            .unwrap()
            .avg_pool_3x3_s1(1)
            .is_err(),
        "the average pool reads a border"
    );
    let tiny = BlockedMap::from_nchw(&values(8, 1), (1, 8, 1, 1), 1).unwrap();
    assert!(tiny.max_pool_2x2_s2(1).is_err());
}

#[test]
fn concatenation_and_pixel_shuffle_move_values_to_their_definitions() {
    let (n, h, w) = (2, 3, 5);
    // Widths that put later parts at aligned (8, 16) and unaligned (12, 28) channel offsets.
    let widths = [8, 4, 16, 12, 9];
    let parts: Vec<Vec<f32>> = widths
        .iter()
        .enumerate()
        .map(|(k, &c)| values(n * c * h * w, 30 + k as u64))
        .collect();
    let maps: Vec<BlockedMap> = parts
        .iter()
        .zip(widths)
        .enumerate()
        .map(|(k, (p, c))| BlockedMap::from_nchw(p, (n, c, h, w), k % 3).unwrap())
        .collect();
    // Inputs of fewer than 8 channels keep narrow blocks; a convolution's output has full ones.
    let full: Vec<BlockedMap> = maps
        .iter()
        .map(|m| {
            if m.cib == LANES {
                m.clone()
            } else {
                let (n, c, h, w) = m.dims();
                let mut out = BlockedMap::zeros(n, c, LANES, (h, w), m.border);
                for i in 0..n {
                    for ch in 0..c {
                        for y in 0..h {
                            for x in 0..w {
                                let to = i * out.image() + out.offset(ch, y, x);
                                out.data[to] = m.data[i * m.image() + m.offset(ch, y, x)];
                            }
                        }
                    }
                }
                out
            }
        })
        .collect();
    let refs: Vec<&BlockedMap> = full.iter().collect();
    let cat = BlockedMap::concat(&refs, 1).unwrap();
    let total: usize = widths.iter().sum();
    assert_eq!(cat.dims(), (n, total, h, w));
    let got = cat.to_nchw();
    let mut expected = Vec::new();
    for i in 0..n {
        for (p, &c) in parts.iter().zip(&widths) {
            expected.extend_from_slice(&p[i * c * h * w..(i + 1) * c * h * w]);
        }
    }
    assert_eq!(got, expected);
    // Padded lanes of the last block stay zero (a later convolution multiplies them by zero
    // weights, which must not meet a NaN).
    let last = cat.blocks() - 1;
    for i in 0..n {
        for y in 0..h {
            for x in 0..w {
                let o = i * cat.image() + cat.offset(last * LANES, y, x);
                assert!(
                    cat.data[o + total % LANES..o + LANES]
                        .iter()
                        .all(|&v| v == 0.0)
                );
            }
        }
    }
    assert!(BlockedMap::concat(&[], 1).is_err());
    assert!(BlockedMap::concat(&[&maps[1]], 1).is_err(), "narrow blocks");
    let other = BlockedMap::from_nchw(&values(8 * 9, 1), (1, 8, 3, 3), 1).unwrap();
    assert!(BlockedMap::concat(&[&full[0], &other], 1).is_err());

    for c_out in [8, 3, 16] {
        let x = values(n * 4 * c_out * h * w, c_out as u64);
        let map = BlockedMap::from_nchw(&x, (n, 4 * c_out, h, w), 0).unwrap();
        let shuffled = map.pixel_shuffle_2x2(c_out, 1).unwrap();
        assert_eq!(shuffled.dims(), (n, c_out, 2 * h, 2 * w));
        let got = shuffled.to_nchw();
        for i in 0..n {
            for co in 0..c_out {
                for y in 0..2 * h {
                    for xx in 0..2 * w {
                        let q = (y % 2) * 2 + xx % 2;
                        let from = ((i * 4 * c_out + q * c_out + co) * h + y / 2) * w + xx / 2;
                        let to = ((i * c_out + co) * 2 * h + y) * 2 * w + xx;
                        assert_eq!(got[to], x[from], "c_out {c_out} at {i} {co} {y} {xx}");
                    }
                }
            }
        }
        assert!(map.pixel_shuffle_2x2(c_out + 1, 0).is_err());
    }
}
