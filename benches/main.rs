//! Criterion benches, one module per area; `cargo bench --bench main -- <filter>`.

mod extraction;
mod statistics;

criterion::criterion_group!(benches, statistics::benches, extraction::benches);
criterion::criterion_main!(benches);
