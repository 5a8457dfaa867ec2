//! The f32 matrix products behind radbench's own convolutions (im2col lowering, the training
//! gradients, the 3-D convolutions): gemm, on one thread below a size, with its depth blocks
//! pinned so that a product's bits do not depend on the CPU's cache (see
//! [`pinned_depth_blocks`]).

use candle_core::Result;

/// Below this many multiply-adds a GEMM runs on the calling thread: waking gemm's workers for
/// a small product costs more than it saves (a width-16 ResNet-18 at batch 1 ran twice as slow
/// on 2 threads as on 1). gemm's result does not depend on its thread count, so neither does
/// any value here.
const PARALLEL_MIN_MACS: usize = 1 << 21;

/// gemm's threading for an `m×k · k×n` product.
pub(crate) fn gemm_parallelism(m: usize, n: usize, k: usize) -> gemm::Parallelism {
    let threads = candle_core::utils::get_num_threads();
    if threads > 1 && m.saturating_mul(n).saturating_mul(k) >= PARALLEL_MIN_MACS {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    }
}

/// `dst[m, n] = lhs[m, k] · rhs[k, n]` (overwriting dst, row-major `[m, n]`), with each operand
/// given as (values, column stride, row stride).
pub(crate) fn matmul(
    mnk: (usize, usize, usize),
    dst: &mut [f32],
    lhs: (&[f32], usize, usize),
    rhs: (&[f32], usize, usize),
    par: gemm::Parallelism,
) -> Result<()> {
    gemm_into(mnk, dst, false, lhs, rhs, par)
}

/// As [`matmul`], adding the product to `dst` when `accumulate`.
pub(crate) fn gemm_into(
    mnk: (usize, usize, usize),
    dst: &mut [f32],
    accumulate: bool,
    lhs: (&[f32], usize, usize),
    rhs: (&[f32], usize, usize),
    par: gemm::Parallelism,
) -> Result<()> {
    gemm_rows_into(mnk, (dst, mnk.1), accumulate, lhs, rhs, par)
}

/// As [`gemm_into`], with the rows of `dst` `dst.1` values apart (a block of a larger
/// row-major matrix). The values do not depend on the stride.
pub(crate) fn gemm_rows_into(
    (m, n, k): (usize, usize, usize),
    (dst, dst_rs): (&mut [f32], usize),
    accumulate: bool,
    lhs: (&[f32], usize, usize),
    rhs: (&[f32], usize, usize),
    par: gemm::Parallelism,
) -> Result<()> {
    let extent = |(v, cs, rs): (&[f32], usize, usize), rows: usize, cols: usize| {
        rows == 0 || cols == 0 || (rows - 1) * rs + (cols - 1) * cs < v.len()
    };
    if dst_rs < n || !extent((dst, 1, dst_rs), m, n) || !extent(lhs, m, k) || !extent(rhs, k, n) {
        candle_core::bail!("conv matmul: operands of {m}×{k}·{k}×{n} out of bounds")
    }
    let depth = pinned_depth_blocks((m, n, k), dst_rs, (lhs.1, lhs.2), (rhs.1, rhs.2));
    for block in 0..k.div_ceil(depth).max(1) {
        let start = block * depth;
        let kb = depth.min(k - start);
        // The first block overwrites dst (unless accumulating); later ones add to it, as
        // gemm's own loop over depth blocks does.
        let add = accumulate || block > 0;
        // SAFETY: the check above keeps every strided access inside the slices (this block's
        // columns of lhs and rows of rhs are a part of them), and dst is exclusively borrowed.
        unsafe {
            gemm::gemm(
                m,
                n,
                kb,
                dst.as_mut_ptr(),
                1,
                dst_rs as isize,
                add,
                lhs.0.as_ptr().wrapping_add(start * lhs.1),
                lhs.1 as isize,
                lhs.2 as isize,
                rhs.0.as_ptr().wrapping_add(start * rhs.2),
                rhs.1 as isize,
                rhs.2 as isize,
                if add { 1.0 } else { 0.0 },
                1.0,
                false,
                false,
                false,
                par,
            );
        }
    }
    Ok(())
}

/// The most depth (k) gemm sums in one block before adding the block to the output, on a
/// first-level data cache of 32 kB, 8-way (Zen 2–4, Intel cores before Ice Lake).
const GEMM_DEPTH_BLOCK: usize = 512;

/// How much of the depth `k` one gemm call may sum at once so that the product's value does
/// not depend on the CPU it runs on: `k` itself, or an even split into blocks of at most
/// [`GEMM_DEPTH_BLOCK`]. Strides are (column, row), as gemm takes them.
///
/// gemm splits a long depth into blocks and adds each block's partial products to the output,
/// so a value's rounding depends on where the blocks end. On its general path it sizes them
/// from the first-level cache it detects: 512 on a 32 kB 8-way cache, 1024 on a 48 kB 12-way
/// one (Zen 5, Intel cores since Ice Lake), so one convolution gave different bits on the two.
/// Split here as gemm splits on a 32 kB cache, every block is at most 512 deep, which gemm
/// sums whole on any cache. Calls that take gemm's other paths (see
/// [`gemm_sizes_depth_by_cache`]) block by fixed sizes and are left whole.
fn pinned_depth_blocks(
    (m, n, k): (usize, usize, usize),
    dst_rs: usize,
    lhs: (usize, usize),
    rhs: (usize, usize),
) -> usize {
    if k > GEMM_DEPTH_BLOCK && gemm_sizes_depth_by_cache((m, n, k), dst_rs, lhs, rhs) {
        k.div_ceil(k.div_ceil(GEMM_DEPTH_BLOCK))
    } else {
        k.max(1)
    }
}

/// Whether gemm 0.19 (f32, x86-64 with FMA) takes its general path for this call (row-major
/// destination, column stride 1), whose depth blocks follow the detected cache, rather than
/// one of the paths it tries first: the depth ≤ 2 outer product, the dot-product kernels for at
/// most 256 outputs, matrix–vector products, and at most 64 × 64 outputs (fixed blocks of 512).
/// Mirrors `gemm_basic_generic`'s order of tests, after gemm transposes a problem whose
/// destination has rows longer than one value.
fn gemm_sizes_depth_by_cache(
    (m, n, k): (usize, usize, usize),
    dst_rs: usize,
    (lhs_cs, lhs_rs): (usize, usize),
    (rhs_cs, rhs_rs): (usize, usize),
) -> bool {
    let (m, n, dst_cs, dst_rs, lhs_cs, lhs_rs, rhs_cs, rhs_rs) = if 1 < dst_rs {
        (n, m, dst_rs, 1, rhs_rs, rhs_cs, lhs_rs, lhs_cs)
    } else {
        (m, n, 1, dst_rs, lhs_cs, lhs_rs, rhs_cs, rhs_rs)
    };
    let horizontal = lhs_cs == 1 && rhs_rs == 1 && m * n <= 256;
    let gemv = (n <= 1 && ((lhs_rs == 1 && dst_rs == 1) || (lhs_cs == 1 && rhs_rs == 1)))
        || (m <= 1 && ((rhs_cs == 1 && dst_cs == 1) || (rhs_rs == 1 && lhs_cs == 1)));
    m > 0 && n > 0 && k > 2 && !horizontal && !gemv && (m > 64 || n > 64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `dst (+)= lhs · rhs` summed as gemm sums on any FMA CPU once the depth is pinned:
    /// within a depth block one fused multiply-add chain per value from zero, then the block
    /// added to the output.
    fn blocked_depth_reference(
        (m, n, k): (usize, usize, usize),
        dst: &[f32],
        accumulate: bool,
        lhs: &[f32],
        rhs: &[f32],
        depth: usize,
    ) -> Vec<f32> {
        let mut out = dst.to_vec();
        for (block, start) in (0..k).step_by(depth).enumerate() {
            for i in 0..m {
                for j in 0..n {
                    let mut acc = 0f32;
                    for kk in start..(start + depth).min(k) {
                        acc = lhs[i * k + kk].mul_add(rhs[kk * n + j], acc);
                    }
                    let o = &mut out[i * n + j];
                    *o = if accumulate || block > 0 {
                        *o + acc
                    } else {
                        acc
                    };
                }
            }
        }
        out
    }

    #[test]
    fn long_products_sum_in_the_same_depth_blocks_on_every_cpu() {
        // 100 × 70 outputs of depth 1100: gemm's general path, which on its own blocks the
        // depth by the detected cache (512 or 1024); pinned, it is three blocks of 367, 367, 366.
        let (m, n, k) = (100, 70, 1100);
        assert_eq!(pinned_depth_blocks((m, n, k), n, (1, k), (1, n)), 367);
        let mut rng = crate::seed::rng_for(7, &["gemm-depth-test"]);
        let mut values = |len: usize| -> Vec<f32> {
            (0..len)
                .map(|_| rand::RngExt::random_range(&mut rng, -1.0f32..1.0))
                .collect()
        };
        let (lhs, rhs, start) = (values(m * k), values(k * n), values(m * n));
        for accumulate in [false, true] {
            let want = blocked_depth_reference((m, n, k), &start, accumulate, &lhs, &rhs, 367);
            for par in [gemm::Parallelism::None, gemm::Parallelism::Rayon(2)] {
                let mut dst = start.clone();
                gemm_into(
                    (m, n, k),
                    &mut dst,
                    accumulate,
                    (&lhs, 1, k),
                    (&rhs, 1, n),
                    par,
                )
                .unwrap();
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert!(
                    bits(&dst) == bits(&want),
                    "accumulate {accumulate}, {par:?}"
                );
            }
        }
    }

    #[test]
    fn only_gemms_general_path_is_pinned() {
        // A training convolution's weight gradient: 64 × 576 outputs of depth 2048.
        assert_eq!(
            pinned_depth_blocks((64, 576, 2048), 576, (2048, 1), (576, 1)),
            512
        );
        // Depth at most 512, or at most 64 × 64 outputs (fixed blocks of 512): whole.
        assert_eq!(
            pinned_depth_blocks((100, 100, 512), 100, (1, 512), (1, 100)),
            512
        );
        assert_eq!(
            pinned_depth_blocks((64, 64, 4096), 64, (1, 4096), (1, 64)),
            4096
        );
        // Dot products (≤ 256 outputs, lhs rows and rhs columns contiguous) and
        // matrix–vector products: whole.
        assert_eq!(
            pinned_depth_blocks((2, 100, 4096), 100, (1, 4096), (4096, 1)),
            4096
        );
        assert_eq!(
            pinned_depth_blocks((1, 300, 4096), 300, (1, 4096), (1, 300)),
            4096
        );
        // The same 2 × 100 product with a row-major rhs takes the general path.
        assert_eq!(
            pinned_depth_blocks((2, 100, 4096), 100, (1, 4096), (1, 100)),
            512
        );
    }
}
