//! Criterion benches, one module per area, all in one binary.

mod extraction;

criterion::criterion_group!(all, extraction::benches);
criterion::criterion_main!(all);
