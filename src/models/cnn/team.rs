//! A forward pass's thread team: the calling thread and one spinning helper per other thread of
//! rayon's pool share each layer's work items through an atomic counter.
//!
//! Why not rayon alone: a folded network's layers are short (a width-16 ResNet-18 at batch 1
//! runs twenty convolutions in ≈ 0.2 ms), and a parallel loop started from a thread outside
//! rayon's pool hands the loop to the pool and puts the caller to sleep until it ends. That
//! hand-off and wake-up cost more than a small layer's work, so such layers ran on one thread.
//! Inside a team ([`with_team`]) the caller takes items itself from the first moment, helpers
//! join as soon as they see a layer published, and the caller waits for helpers only while
//! they finish items already taken: a few atomic operations per layer, as with onnxruntime's
//! own spinning thread pool.
//!
//! Results do not depend on the team: every item computes fixed outputs in a fixed order, so
//! which thread takes it changes no bit (the blocked convolution's contract, see `blocked`).
//!
//! Protocol: `epoch` is odd while a layer is published. A helper announces itself in `active`,
//! then re-reads `epoch`; the caller retires a layer by making `epoch` even and then waiting
//! for `active` to reach zero. With both sides sequentially consistent, a helper either is
//! counted before the retirement's check or sees the retired epoch, so no helper touches a
//! layer's closure (which borrows the caller's stack) after [`for_each`] returns.

use rayon::prelude::*;
use std::any::Any;
use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};

/// What the caller publishes: one call per participant, which claims items until none remain.
type Participate<'a> = dyn Fn() + Sync + 'a;

/// State shared by the caller and its helpers.
struct Shared {
    /// Odd while a layer is published; bumped twice per layer.
    epoch: AtomicUsize,
    /// Helpers inside the published layer's closure (or about to check whether they may be).
    active: AtomicUsize,
    /// Set when the forward pass ends: helpers return to rayon's pool.
    finished: AtomicBool,
    /// The published layer's closure, lifetime erased; read only under the protocol above.
    job: Mutex<Option<JobPtr>>,
    /// A panic raised in a helper's item, re-raised on the caller when the layer retires.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

/// A `&Participate` with its lifetime erased (see the protocol in the module docs).
#[derive(Clone, Copy)]
struct JobPtr(*const Participate<'static>);
// SAFETY: the pointee is `Sync`, and the protocol keeps it alive while any helper can use it.
unsafe impl Send for JobPtr {}

thread_local! {
    /// The team this thread leads, if any.
    static TEAM: RefCell<Option<Arc<Shared>>> = const { RefCell::new(None) };
}

/// Runs `f` with a team led by the calling thread when that pays: the caller is outside
/// rayon's pool (inside it, rayon's own joins are cheap), the pool has more than one thread,
/// and no team is already active here. Otherwise runs `f` as is.
pub(crate) fn with_team<R>(f: impl FnOnce() -> R) -> R {
    with_helpers(rayon::current_num_threads().saturating_sub(1), f)
}

/// As [`with_team`] with `helpers` helpers (tests ask for more than the pool has threads: the
/// extra ones start when a thread frees up, or find the team finished).
fn with_helpers<R>(helpers: usize, f: impl FnOnce() -> R) -> R {
    if helpers == 0 || rayon::current_thread_index().is_some() || active() {
        return f();
    }
    let shared = Arc::new(Shared {
        epoch: AtomicUsize::new(0),
        active: AtomicUsize::new(0),
        finished: AtomicBool::new(false),
        job: Mutex::new(None),
        panic: Mutex::new(None),
    });
    for _ in 0..helpers {
        let shared = Arc::clone(&shared);
        rayon::spawn(move || help(&shared));
    }
    /// Ends the team on every exit path, panics included.
    struct Leave(Arc<Shared>);
    impl Drop for Leave {
        fn drop(&mut self) {
            self.0.finished.store(true, SeqCst);
            TEAM.with(|t| t.borrow_mut().take());
        }
    }
    TEAM.with(|t| *t.borrow_mut() = Some(Arc::clone(&shared)));
    let _leave = Leave(shared);
    f()
}

/// Whether the calling thread leads a team.
pub(crate) fn active() -> bool {
    TEAM.with(|t| t.borrow().is_some())
}

/// A helper's loop: join every layer published until the team finishes. While idle it spins,
/// and every so often runs rayon work queued meanwhile (a parallel loop the caller started
/// outside the team must not wait on a pool whose threads all spin here).
fn help(shared: &Shared) {
    let mut seen = 0;
    let mut idle = 0u32;
    while !shared.finished.load(SeqCst) {
        let epoch = shared.epoch.load(SeqCst);
        if epoch % 2 == 1 && epoch != seen {
            seen = epoch;
            idle = 0;
            shared.active.fetch_add(1, SeqCst);
            // Copied out so the lock is not held while the job runs.
            let job = *lock(&shared.job);
            if shared.epoch.load(SeqCst) == epoch
                && let Some(JobPtr(job)) = job
            {
                // SAFETY: the layer is still published and this helper is counted in `active`,
                // so the caller has not returned from `for_each` (module docs).
                let run = AssertUnwindSafe(|| unsafe { (*job)() });
                if let Err(panic) = catch_unwind(run) {
                    lock(&shared.panic).get_or_insert(panic);
                }
            }
            shared.active.fetch_sub(1, SeqCst);
        } else {
            idle = idle.wrapping_add(1);
            if idle.is_multiple_of(64) {
                rayon::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }
}

/// Runs `item(k)` for every `k` in `0..n`, each exactly once, in parallel: on the calling
/// thread's team when it leads one, else on rayon's pool.
pub(crate) fn for_each(n: usize, item: impl Fn(usize) + Sync) {
    for_each_init(n, || (), |(), k| item(k));
}

/// As [`for_each`], with per-participant state made by `init` (scratch buffers), at most once
/// per thread and layer.
pub(crate) fn for_each_init<T>(
    n: usize,
    init: impl Fn() -> T + Sync,
    item: impl Fn(&mut T, usize) + Sync,
) {
    let team = TEAM.with(|t| t.borrow().clone());
    if n <= 1 && team.is_some() {
        // Nothing to share: the caller takes it without publishing a layer.
        if n == 1 {
            item(&mut init(), 0);
        }
        return;
    }
    let Some(shared) = team else {
        (0..n)
            .into_par_iter()
            .for_each_init(&init, |state, k| item(state, k));
        return;
    };
    if shared.epoch.load(SeqCst) % 2 == 1 {
        // Called from one of the caller's own items: the team is busy with that layer.
        let mut state = init();
        (0..n).for_each(|k| item(&mut state, k));
        return;
    }
    let next = AtomicUsize::new(0);
    let participate = || {
        let mut state: Option<T> = None;
        loop {
            let k = next.fetch_add(1, SeqCst);
            if k >= n {
                break;
            }
            item(state.get_or_insert_with(&init), k);
        }
    };
    let erased: &Participate<'_> = &participate;
    // SAFETY: only the lifetime is erased; `Retire` keeps the closure alive until no helper
    // can reach it (module docs).
    let erased: *const Participate<'static> = unsafe { std::mem::transmute(erased) };
    *lock(&shared.job) = Some(JobPtr(erased));
    shared.epoch.fetch_add(1, SeqCst);
    /// Retires the layer on every exit path: a panic in `item` must not leave helpers inside
    /// a closure whose stack frame is gone.
    struct Retire<'a>(&'a Shared);
    impl Drop for Retire<'_> {
        fn drop(&mut self) {
            self.0.epoch.fetch_add(1, SeqCst);
            while self.0.active.load(SeqCst) != 0 {
                std::hint::spin_loop();
            }
            *lock(&self.0.job) = None;
        }
    }
    let retire = Retire(&shared);
    participate();
    drop(retire);
    if let Some(panic) = lock(&shared.panic).take() {
        resume_unwind(panic);
    }
}

/// `mutex`'s guard; a poisoned lock still guards valid data here (an `Option` set whole).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// `f(state, k, chunk)` for every chunk `k` of `chunk_len` values of `data` (the last may be
/// shorter), `min_chunks` or more to a task, in parallel as [`for_each_init`] (`state` from
/// `init`, per participant).
pub(crate) fn for_each_chunk_mut_init<T: Send, S>(
    data: &mut [T],
    chunk_len: usize,
    min_chunks: usize,
    init: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, usize, &mut [T]) + Sync,
) {
    let chunk_len = chunk_len.max(1);
    if !active() {
        data.par_chunks_mut(chunk_len)
            .with_min_len(min_chunks)
            .enumerate()
            .for_each_init(&init, |state, (k, chunk)| f(state, k, chunk));
        return;
    }
    let (len, per_task) = (data.len(), min_chunks.max(1));
    let chunks = len.div_ceil(chunk_len);
    let base = Disjoint(data.as_mut_ptr());
    for_each_init(chunks.div_ceil(per_task), init, |state, task| {
        for k in task * per_task..((task + 1) * per_task).min(chunks) {
            let start = k * chunk_len;
            // SAFETY: chunks are disjoint and inside `data`, which outlives this call; each is
            // handed out once.
            let chunk = unsafe {
                std::slice::from_raw_parts_mut(base.get().add(start), chunk_len.min(len - start))
            };
            f(state, k, chunk);
        }
    });
}

/// As [`for_each_chunk_mut_init`] without state.
pub(crate) fn for_each_chunk_mut<T: Send>(
    data: &mut [T],
    chunk_len: usize,
    min_chunks: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    for_each_chunk_mut_init(data, chunk_len, min_chunks, || (), |(), k, c| f(k, c));
}

/// A pointer to a buffer whose disjoint parts several threads write.
struct Disjoint<T>(*mut T);
// SAFETY: users write disjoint parts only (see `for_each_chunk_mut_init`).
unsafe impl<T: Send> Sync for Disjoint<T> {}
impl<T> Disjoint<T> {
    fn get(&self) -> *mut T {
        self.0
    }
}

#[cfg(test)]
#[path = "team_tests.rs"]
mod tests;
