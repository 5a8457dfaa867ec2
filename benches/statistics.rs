//! Statistics benches: DeLong (CIs + paired test) and AUC at n = 1k…1M, and a 2,000-replicate
//! stratified bootstrap of the AUC at n = 10k. Inputs come from [`synthetic`], a splitmix64
//! formula that `scripts/bench_reference.py` repeats exactly, so the numpy / scikit-learn
//! timings printed by that script are on the same numbers.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput};
use radbench::eval::bootstrap::{Aucs, BootstrapSpec, bootstrap};
use radbench::eval::delong::delong_paired_test;
use radbench::eval::roc::auc;

/// splitmix64 of `k` (Steele, Lea & Flood 2014), offset by a fixed seed.
fn mix(k: u64) -> u64 {
    let mut z = k
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(0x5EED_0000_2024_0424);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn uniform(k: u64) -> f64 {
    (mix(k) >> 11) as f64 / (1_u64 << 53) as f64
}

/// n cases/controls (≈30% cases) and two correlated scores.
pub fn synthetic(n: usize) -> (Vec<bool>, Vec<f64>, Vec<f64>) {
    let mut labels = Vec::with_capacity(n);
    let (mut a, mut b) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n as u64 {
        let y = uniform(3 * i) < 0.3;
        let shift = if y { 1.0 } else { 0.0 };
        let ai = uniform(3 * i + 1) + 0.35 * shift;
        labels.push(y);
        a.push(ai);
        b.push(0.5 * ai + 0.5 * uniform(3 * i + 2) + 0.1 * shift);
    }
    (labels, a, b)
}

/// Registers the statistics benches.
pub fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("delong_ci_and_paired_test");
    group.sample_size(10);
    for n in [1_000, 10_000, 100_000, 1_000_000] {
        let (y, a, b) = synthetic(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |bench, _| {
            bench.iter(|| {
                let t = delong_paired_test(black_box(&a), black_box(&b), &y, 0.95).ok();
                // The two CIs come from the variances the test already holds.
                t.map(|t| {
                    (
                        t.p,
                        t.auc_a - 1.96 * t.variance_a.sqrt(),
                        t.auc_b + 1.96 * t.variance_b.sqrt(),
                    )
                })
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("auc");
    group.sample_size(10);
    for n in [1_000, 10_000, 100_000, 1_000_000] {
        let (y, a, _) = synthetic(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |bench, _| {
            bench.iter(|| auc(black_box(&a), &y).ok())
        });
    }
    group.finish();

    let mut group = c.benchmark_group("bootstrap_auc_2000_stratified");
    group.sample_size(10);
    let (y, a, _) = synthetic(10_000);
    let spec = BootstrapSpec {
        replicates: 2000,
        seed: 1,
        stratified: true,
        level: 0.95,
    };
    let stat = Aucs::new(&[&a], &y).ok();
    if let Some(stat) = stat {
        group.bench_function("10000", |bench| {
            bench.iter(|| bootstrap(&stat, &y, &spec).ok())
        });
    }
    group.finish();
}

#[cfg(test)]
mod tests {
    #[test]
    fn synthetic_is_stable() {
        let (y, a, _) = super::synthetic(5);
        assert_eq!(y.len(), 5);
        assert!(a.iter().all(|v| (0.0..1.35).contains(v)));
    }
}
