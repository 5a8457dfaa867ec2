//! Criterion benches, one module per area; `cargo bench --bench main -- <filter>`.
//! Benchmark ids are stable across releases so that `--save-baseline <version>` and
//! `--baseline <version>` compare like with like.

mod extraction;
mod inference;
mod quickstart;
mod statistics;

// No plots: criterion's plotters backend needs system fonts, which a fresh machine set up by
// the README's commands does not have (it panics with `FontUnavailable` after the first bench).
criterion::criterion_group! {
    name = benches;
    config = criterion::Criterion::default().without_plots();
    targets = statistics::benches, extraction::benches, inference::benches, quickstart::benches
}
/// As `criterion::criterion_main!`, after the process settings the `radbench` binary applies
/// (`radbench::process`) and on a rayon worker thread, where the runner runs every cell, so
/// that the CNN rows time what a run does.
fn main() {
    radbench::process::configure_for_model_work();
    radbench::process::on_worker_pool(benches);
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
