//! The quickstart end to end at the cell level: its 10 cells (2 models × 5 folds) fitted and
//! evaluated, and the report written, with the synthetic cohort and per-case features already
//! cached — i.e. what a rerun costs when only the models change. Id: `quickstart/cells_and_report`.

use criterion::{BatchSize, Criterion};
use radbench::runner::{Mode, RunOptions, run};
use std::path::Path;

/// Registers the quickstart bench.
pub fn benches(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = tempfile::tempdir().expect("temp dir");
    let cache = work.path().join("cache");
    let opts = RunOptions {
        experiment: root.join("experiments/quickstart.toml"),
        out: work.path().join("reports"),
        cache: Some(cache.clone()),
        progress: false,
        mode: Mode::Full,
    };
    // Warm-up run: generates the cohort and caches its features.
    run(&opts).expect("quickstart runs");
    let mut group = c.benchmark_group("quickstart");
    group.sample_size(10);
    group.bench_function("cells_and_report", |b| {
        b.iter_batched(
            // Forget the finished cells (and the report), keep cohort and features.
            || {
                let _ = std::fs::remove_dir_all(cache.join("cells"));
                let _ = std::fs::remove_dir_all(work.path().join("reports"));
            },
            |()| run(&opts).expect("quickstart runs"),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}
