use super::super::tests::{reference, values};
use super::*;

/// (batch, c_in, h, w, c_out): odd and even sizes, 1×1 and 2×1 maps, channel counts that are
/// not multiples of 8.
const CASES: [(usize, usize, usize, usize, usize); 7] = [
    (2, 8, 7, 7, 8),
    (1, 12, 6, 9, 12),
    (3, 32, 2, 2, 64),
    (5, 8, 1, 1, 8),
    (2, 16, 2, 1, 24),
    (1, 64, 14, 14, 64),
    (4, 24, 5, 8, 16),
];

#[test]
fn matches_the_definition_on_every_backend_and_chunking_bit_for_bit_across_them() {
    for (idx, &(n, c, h, w, c_out)) in CASES.iter().enumerate() {
        let seed = 50 + idx as u64;
        let x = values(n * c * h * w, seed);
        let weight = values(c_out * c * 9, seed + 100);
        let bias = values(c_out, seed + 200);
        let input = BlockedMap::from_nchw(&x, (n, c, h, w), 1).unwrap();
        let conv = WinogradConv::pack(&weight, &bias, (c_out, c)).unwrap();
        let res_nchw = values(n * c_out * h * w, seed + 300);
        let residual = BlockedMap::from_nchw(&res_nchw, (n, c_out, h, w), 1).unwrap();
        for (with_residual, relu) in [(false, true), (true, true), (false, false)] {
            let res = with_residual.then_some(&residual);
            let (expected, _) = reference(
                &x,
                (n, c, h, w),
                &weight,
                &bias,
                (c_out, 3, 1, 1),
                with_residual.then_some(&res_nchw[..]),
                relu,
            );
            let mut first: Option<Vec<u32>> = None;
            for backend in Backend::available() {
                for chunk in [1, 7, CHUNK_TILES] {
                    let out = conv
                        .forward_chunked(backend, &input, res, relu, 1, chunk)
                        .unwrap();
                    assert_eq!(out.dims(), (n, c_out, h, w));
                    let got = out.to_nchw();
                    // Winograd's transforms add a few roundings per product: the bound is a
                    // few units more than the direct convolution's.
                    let scale = (c * 9) as f64;
                    for (i, (&g, &e)) in got.iter().zip(&expected).enumerate() {
                        assert!(
                            (g as f64 - e).abs() <= 4e-6 * scale,
                            "case {idx} {backend:?} chunk {chunk}: value {i} is {g}, definition {e}"
                        );
                    }
                    let bits: Vec<u32> = got.iter().map(|v| v.to_bits()).collect();
                    match &first {
                        None => first = Some(bits),
                        Some(f) => assert!(
                            *f == bits,
                            "case {idx}: {backend:?} chunk {chunk} differs in bits"
                        ),
                    }
                }
            }
        }
    }
}

#[test]
fn an_image_gets_the_same_bits_alone_in_a_batch_and_at_any_thread_count() {
    // Large enough (> 2 M multiply-adds) for both parallel routes.
    let (n, c, h, w, c_out) = (6, 32, 12, 12, 64);
    let x = values(n * c * h * w, 17);
    let conv =
        WinogradConv::pack(&values(c_out * c * 9, 18), &values(c_out, 19), (c_out, c)).unwrap();
    let batch = BlockedMap::from_nchw(&x, (n, c, h, w), 1).unwrap();
    let whole = conv.forward(&batch, None, true, 1).unwrap().to_nchw();
    let per_image = c_out * h * w;
    for i in [0, 3, 5] {
        let one = &x[i * c * h * w..(i + 1) * c * h * w];
        let alone = BlockedMap::from_nchw(one, (1, c, h, w), 1).unwrap();
        let got = conv.forward(&alone, None, true, 1).unwrap().to_nchw();
        assert!(
            got == whole[i * per_image..(i + 1) * per_image],
            "image {i}"
        );
    }
    for threads in [1, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        for chunk in [5, 200] {
            let got = pool.install(|| {
                conv.forward_chunked(Backend::detect(), &batch, None, true, 1, chunk)
                    .unwrap()
                    .to_nchw()
            });
            assert!(got == whole, "{threads} threads, chunk {chunk}");
        }
    }
}

#[test]
fn mismatched_inputs_are_errors() {
    let conv = WinogradConv::pack(&values(8 * 8 * 9, 1), &values(8, 2), (8, 8)).unwrap();
    let wrong_channels = BlockedMap::from_nchw(&values(2 * 16, 3), (1, 2, 4, 4), 1).unwrap();
    assert!(conv.forward(&wrong_channels, None, true, 1).is_err());
    let no_border = BlockedMap::from_nchw(&values(8 * 16, 3), (1, 8, 4, 4), 0).unwrap();
    assert!(conv.forward(&no_border, None, true, 1).is_err());
    let input = BlockedMap::from_nchw(&values(8 * 16, 3), (1, 8, 4, 4), 1).unwrap();
    let wrong_residual = BlockedMap::from_nchw(&values(8 * 9, 4), (1, 8, 3, 3), 1).unwrap();
    assert!(
        conv.forward(&input, Some(&wrong_residual), true, 1)
            .is_err()
    );
    assert!(WinogradConv::pack(&values(10, 1), &values(8, 2), (8, 8)).is_err());
}
