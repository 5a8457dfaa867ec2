//! Process-wide settings for CPU model work, applied once at the start of `main` by the
//! `radbench` binary, the criterion benches and the kernels example, so that all three time the
//! same configuration.
//!
//! Neither setting changes any value radbench computes; both change only how fast it runs.

/// Applies both settings below. Call it first thing in `main`, before any other thread exists.
pub fn configure_for_model_work() {
    quiet_candle_thread_pool();
    keep_freed_buffers();
}

/// candle's CPU thread pool busy-waits between ops by default. On a quiet machine that was
/// at best a little faster for training (one measurement 11 %, a paired one no difference at
/// 1.25× the CPU time); on a shared one it roughly doubled CNN training time, so radbench
/// parks idle workers unless the user has chosen `CANDLE_BARRIER_POOL_SPIN_LIMIT` themselves.
fn quiet_candle_thread_pool() {
    if std::env::var_os("CANDLE_BARRIER_POOL_SPIN_LIMIT").is_none() {
        // SAFETY: called at the start of main, before any other thread exists (documented
        // contract of `configure_for_model_work`).
        unsafe { std::env::set_var("CANDLE_BARRIER_POOL_SPIN_LIMIT", "0") };
    }
}

/// Every candle op allocates its output, and CNN training frees and re-allocates buffers of
/// a few MB hundreds of times per step. glibc serves such sizes with `mmap` and returns them
/// with `munmap`, so every step paid page faults and page clearing again (about a quarter of
/// a width-16 ResNet-18 training step: 140 → 104 ms). Raising the mmap and trim thresholds
/// keeps freed buffers in the heap for reuse. The cost is resident memory: up to the
/// thresholds' worth of freed space stays mapped instead of going back to the system.
fn keep_freed_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // glibc's largest accepted mmap threshold on 64-bit targets (it refuses more).
        const MMAP_THRESHOLD: libc::c_int = 32 << 20;
        const TRIM_THRESHOLD: libc::c_int = 512 << 20;
        // SAFETY: mallopt only adjusts glibc's allocator parameters; it is called before any
        // other thread exists. A refused setting (return 0) leaves glibc's default in place.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
            libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
        }
    }
}

/// Runs `f` on one of rayon's worker threads (directly when already on one), as the runner runs
/// every cell.
///
/// A parallel loop started from a thread outside rayon's pool is injected into the pool, and the
/// calling thread sleeps until a worker wakes it: two futex round trips per loop. A training step
/// starts hundreds of such loops; run from `main` they cost a width-16 ResNet-18 step about a
/// tenth of its time (46 → 43 ms at batch 32 on 2 threads). From a worker a nested loop is only
/// pushed onto that worker's own queue. No value changes: every parallel loop in radbench gives
/// the same result whichever thread runs which part.
pub fn on_worker_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        f()
    } else {
        rayon::scope(|_| f())
    }
}
