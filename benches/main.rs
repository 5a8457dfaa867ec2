//! Criterion benches, one module per area; `cargo bench --bench main -- <filter>`.
//! Benchmark ids are stable across releases so that `--save-baseline <version>` and
//! `--baseline <version>` compare like with like.

mod extraction;
mod inference;
mod statistics;

criterion::criterion_group!(
    benches,
    statistics::benches,
    extraction::benches,
    inference::benches
);
criterion::criterion_main!(benches);
