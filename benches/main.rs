//! Criterion benches, one module per area; `cargo bench --bench main -- <filter>`.
//! Benchmark ids are stable across releases so that `--save-baseline <version>` and
//! `--baseline <version>` compare like with like.

mod extraction;
mod inference;
mod quickstart;
mod statistics;

criterion::criterion_group!(
    benches,
    statistics::benches,
    extraction::benches,
    inference::benches,
    quickstart::benches
);
criterion::criterion_main!(benches);
