//! Criterion benches, one module per area; `cargo bench --bench main -- <filter>`.

mod statistics;

criterion::criterion_group!(benches, statistics::benches);
criterion::criterion_main!(benches);
