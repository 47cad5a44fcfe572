//! Splitting one op's work over `Inputs::threads()` threads: the one place every CPU kernel
//! family (MatMul/Gemm/attention, conv/pool/norm, the vision ops, broadcast elementwise) cuts
//! its work up.
//!
//! The policy:
//!
//! - **One pool per session.** A session with `threads > 1` owns a [`WorkerPool`] created once
//!   and runs every plan with it as the calling thread's current pool ([`WorkerPool::run`]);
//!   the parts of an op go to that pool's workers, so `threads` is honoured and nothing is
//!   oversubscribed. Outside a pool (a session with one thread, or a part already running on
//!   a worker) everything runs on the calling thread.
//! - **The calling thread does a share.** The first part runs on the caller, so `workers`
//!   parts cost `workers - 1` hand-offs, and one worker costs none.
//! - **Workers spin between ops** ([`pool`]): a hand-off to a polling worker costs well under
//!   a microsecond, where waking a parked one costs tens in a virtual machine.
//! - **Minimum work per extra thread.** A hand-off still costs something, so [`worker_count`]
//!   only adds a thread per `min_work_per_thread` units of work. Each family passes its own
//!   minimum, tuned to how much a unit of its work costs.
//! - **Contiguous, balanced parts.** Work is cut into contiguous runs of independent units
//!   (rows, planes, heads, elements) whose lengths differ by at most one. Each unit is computed
//!   by the same code whatever the split, so results are bit-identical for every thread count.
//! - **Errors.** Every part runs to its end; the first error in part order is returned, and a
//!   panicking worker becomes an internal error.

// The one module of the runtime allowed `unsafe`: handing a borrowed job to a long-lived
// thread needs its lifetime erased (as rayon and crossbeam do inside), with the wait that makes
// it sound right beside it.
#[allow(unsafe_code)]
mod pool;

use crate::{Error, Result};
use pool::Pool;
use std::ops::Range;
use std::sync::Mutex;

/// Threads worth using for `units` independent units costing `work` in all (in whatever
/// measure `min_work_per_thread` uses: multiply-adds, output elements): at most `threads`, at
/// most one per unit, one more only per `min_work_per_thread` of work, and always at least one.
pub(crate) fn worker_count(
    threads: usize,
    units: usize,
    work: usize,
    min_work_per_thread: usize,
) -> usize {
    threads
        .min(units)
        .min(work / min_work_per_thread.max(1))
        .max(1)
}

/// Runs `f(range)` for `workers` contiguous ranges of `0..units` and returns the results in
/// range order (empty when `units` is 0).
// Only the attentions use it today: unused in a build without them.
#[cfg_attr(not(feature = "ops-transformer"), allow(dead_code))]
pub(crate) fn map_ranges<R: Send>(
    units: usize,
    workers: usize,
    f: impl Fn(Range<usize>) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    if units == 0 {
        return Ok(Vec::new());
    }
    run_parts(split(units, workers).collect(), f)
}

/// Runs `f(first_unit, chunk)` on `data`, a run of units of `unit_len` elements each, cut into
/// `workers` chunks of whole units (`first_unit`: the chunk's first unit). With one worker or
/// `unit_len` 0 it is a single call `f(0, data)`.
pub(crate) fn for_each_chunk_mut<T: Send>(
    data: &mut [T],
    unit_len: usize,
    workers: usize,
    f: impl Fn(usize, &mut [T]) -> Result<()> + Sync,
) -> Result<()> {
    if data.len() % unit_len.max(1) != 0 {
        return Err(Error::internal(format!(
            "{} elements are not whole units of {unit_len}",
            data.len()
        )));
    }
    // One closure type for both paths, so the op body is compiled once (see `call_guarded`).
    let body = |(first, chunk): (usize, &mut [T])| f(first, chunk);
    if unit_len == 0 || workers <= 1 {
        return call_guarded(&body, (0, data));
    }
    run_parts(chunks(data, unit_len, workers), body).map(drop)
}

/// `data` cut into `workers` chunks of whole `unit_len`-element units, each with the index of
/// its first unit. Generic over the element type only, not over the op's closure, so it is
/// compiled a few times rather than once per op.
#[inline(never)]
fn chunks<T>(data: &mut [T], unit_len: usize, workers: usize) -> Vec<(usize, &mut [T])> {
    let mut chunks = Vec::with_capacity(workers);
    let mut rest = data;
    for range in split(rest.len() / unit_len, workers) {
        let (chunk, tail) = std::mem::take(&mut rest).split_at_mut(range.len() * unit_len);
        chunks.push((range.start, chunk));
        rest = tail;
    }
    chunks
}

/// Runs `f(index, unit)` for every `unit_len`-element unit of `data`, in order within each of
/// `workers` chunks ([`for_each_chunk_mut`]); nothing when `unit_len` is 0.
// Only vision ops use it today: unused in a build without them.
#[cfg_attr(not(feature = "ops-vision"), allow(dead_code))]
pub(crate) fn for_each_unit_mut<T: Send>(
    data: &mut [T],
    unit_len: usize,
    workers: usize,
    f: impl Fn(usize, &mut [T]) -> Result<()> + Sync,
) -> Result<()> {
    if unit_len == 0 {
        return Ok(());
    }
    for_each_chunk_mut(data, unit_len, workers, |first, chunk| {
        chunk
            .chunks_exact_mut(unit_len)
            .enumerate()
            .try_for_each(|(i, unit)| f(first + i, unit))
    })
}

/// Runs `f` on every part (owned work items, e.g. column blocks of one matrix), the first on
/// the calling thread; returns the first error in part order.
pub(crate) fn for_each_part<P: Send>(
    parts: Vec<P>,
    f: impl Fn(P) -> Result<()> + Sync,
) -> Result<()> {
    run_parts(parts, f).map(drop)
}

/// `0..units` cut into `parts` contiguous ranges (at least one, at most one per unit) whose
/// lengths differ by at most one.
fn split(units: usize, parts: usize) -> impl Iterator<Item = Range<usize>> {
    let parts = parts.clamp(1, units.max(1));
    let (base, extra) = (units / parts, units % parts);
    (0..parts).scan(0, move |start, p| {
        let len = base + usize::from(p < extra);
        let range = *start..*start + len;
        *start += len;
        Some(range)
    })
}

/// Runs `f` on every part, the first on the calling thread and the others on the current
/// pool's workers (part `i` on thread `i mod threads`), and returns the results in part
/// order, or the first error in part order.
fn run_parts<P: Send, R: Send>(parts: Vec<P>, f: impl Fn(P) -> Result<R> + Sync) -> Result<Vec<R>> {
    run_parts_dyn(parts, &|part: P| call_guarded(&f, part))
}

/// The body of [`run_parts`] behind a `dyn` call: generic over the part and result types
/// (a few dozen pairs), not over the op's closure (hundreds), which each instantiated the
/// whole distribution machinery (~1.5 MB of the shared library). The cost is one indirect
/// call per part.
#[inline(never)]
fn run_parts_dyn<P: Send, R: Send>(
    parts: Vec<P>,
    guarded: &(dyn Fn(P) -> Result<R> + Sync),
) -> Result<Vec<R>> {
    Pool::with_current(|pool| match pool {
        Some(pool) if parts.len() > 1 && pool.threads() > 1 => {
            let n = parts.len();
            let threads = pool.threads().min(n);
            let parts: Vec<Mutex<Option<P>>> =
                parts.into_iter().map(|p| Mutex::new(Some(p))).collect();
            let results: Vec<Mutex<Option<Result<R>>>> = (0..n).map(|_| Mutex::new(None)).collect();
            let job = |thread: usize| {
                for i in (thread..n).step_by(threads) {
                    if let Some(part) = lock(&parts[i]).take() {
                        *lock(&results[i]) = Some(guarded(part));
                    }
                }
            };
            pool.dispatch(threads - 1, &job);
            results
                .into_iter()
                .map(|r| {
                    r.into_inner()
                        .unwrap_or_else(|e| e.into_inner())
                        .unwrap_or_else(|| Err(Error::internal("a worker part did not run")))
                })
                .collect()
        }
        _ => parts.into_iter().map(guarded).collect(),
    })
}

/// `f(part)`, with a panic turned into an internal error.
///
/// Never inlined, on purpose: `f` is an op's whole loop nest, compiled here once whatever
/// calls it (the serial path and the worker job of `run_parts`, the single-chunk path of
/// `for_each_chunk_mut`) rather than once per call site. The cost is one call per part, each
/// part being a thread's share of an op.
#[inline(never)]
fn call_guarded<P, R>(f: &impl Fn(P) -> Result<R>, part: P) -> Result<R> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(part)))
        .unwrap_or_else(|_| Err(Error::internal("a worker thread panicked")))
}

/// Locks `m`, ignoring poisoning (parts, results and job slots are plain data, valid
/// whatever panicked).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The worker threads of one session, created once.
pub(crate) struct WorkerPool {
    pool: Option<Pool>,
}

impl WorkerPool {
    /// A pool of `threads` threads in all (none is started for 1).
    pub(crate) fn new(threads: usize) -> Result<Self> {
        if threads <= 1 {
            return Ok(WorkerPool { pool: None });
        }
        Ok(WorkerPool {
            pool: Some(Pool::new(threads)?),
        })
    }

    /// Runs `f` on the calling thread with this pool as its current pool, so the ops it runs
    /// split their work over the pool's threads.
    pub(crate) fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.pool {
            Some(pool) => pool.run(f),
            None => f(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_count_follows_threads_units_and_work() {
        assert_eq!(worker_count(4, 100, 1000, 100), 4);
        assert_eq!(worker_count(4, 2, 1000, 100), 2);
        assert_eq!(worker_count(4, 100, 250, 100), 2);
        assert_eq!(worker_count(4, 100, 50, 100), 1);
        assert_eq!(worker_count(0, 0, 0, 0), 1);
    }

    #[test]
    fn ranges_cover_every_unit_once() {
        let r: Vec<_> = split(10, 3).collect();
        assert_eq!(r, [0..4, 4..7, 7..10]);
        assert_eq!(split(2, 5).count(), 2);
        assert_eq!(split(0, 4).collect::<Vec<_>>(), [0..0]);
    }

    #[test]
    fn every_unit_is_visited_once_and_results_match_for_1_to_4_workers() {
        let expected: Vec<usize> = (0..7).flat_map(|u| [u + 1; 3]).collect();
        for workers in 1..=4 {
            let mut data = vec![0usize; 7 * 3];
            for_each_chunk_mut(&mut data, 3, workers, |first, chunk| {
                for (u, unit) in chunk.chunks_mut(3).enumerate() {
                    unit.iter_mut().for_each(|x| *x += first + u + 1);
                }
                Ok(())
            })
            .unwrap();
            assert_eq!(data, expected, "workers = {workers}");

            let mut data = vec![0usize; 7 * 3];
            for_each_unit_mut(&mut data, 3, workers, |u, unit| {
                unit.iter_mut().for_each(|x| *x += u + 1);
                Ok(())
            })
            .unwrap();
            assert_eq!(data, expected, "workers = {workers}");

            let parts = map_ranges(7, workers, |r| Ok(r.collect::<Vec<_>>())).unwrap();
            assert_eq!(parts.len(), workers);
            assert_eq!(parts.concat(), (0..7).collect::<Vec<_>>());
        }
    }

    #[test]
    fn the_first_error_in_part_order_propagates() {
        for workers in 1..=4 {
            let mut data = vec![0u8; 8];
            let err = for_each_unit_mut(&mut data, 1, workers, |u, _| {
                if u >= 5 {
                    Err(Error::internal(format!("unit {u}")))
                } else {
                    Ok(())
                }
            })
            .unwrap_err();
            assert!(err.to_string().contains("unit 5"), "{err}");
            let err = map_ranges(8, workers, |r| {
                if r.end > 4 {
                    Err(Error::internal(format!("from {}", r.start)))
                } else {
                    Ok(())
                }
            })
            .unwrap_err();
            let first_failing = split(8, workers).find(|r| r.end > 4).unwrap().start;
            assert!(err.to_string().contains(&format!("from {first_failing}")));
        }
    }

    #[test]
    fn edge_cases() {
        assert!(map_ranges(0, 4, |_| Ok(())).unwrap().is_empty());
        let mut calls = std::sync::atomic::AtomicUsize::new(0);
        for_each_unit_mut(&mut [0u8; 0], 0, 4, |_, _| {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        })
        .unwrap();
        assert_eq!(*calls.get_mut(), 0);
        assert!(for_each_chunk_mut(&mut [0u8; 7], 3, 2, |_, _| Ok(())).is_err());
    }

    #[test]
    fn parts_run_on_every_pool_thread_and_panics_become_errors() {
        let pool = WorkerPool::new(3).unwrap();
        for round in 0..3 {
            pool.run(|| {
                // 7 parts over 3 threads: each once, results in part order, all threads used.
                let ids = map_ranges(7, 7, |r| Ok((r.start, std::thread::current().id())));
                let ids = ids.unwrap();
                let order: Vec<usize> = ids.iter().map(|&(start, _)| start).collect();
                assert_eq!(order, (0..7).collect::<Vec<_>>());
                let threads: std::collections::HashSet<_> = ids.iter().map(|&(_, t)| t).collect();
                assert_eq!(threads.len(), 3, "round {round}");
                let err = for_each_part(vec![0, 1, 2], |p| {
                    if p == 1 {
                        panic!("part {p} fails on purpose");
                    }
                    Ok(())
                })
                .unwrap_err();
                assert!(err.to_string().contains("panicked"), "{err}");
            });
            // Let the workers park, so the next round wakes them.
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }

    #[test]
    fn a_pool_in_use_by_another_thread_runs_ops_serially() {
        let pool = WorkerPool::new(2).unwrap();
        pool.run(|| {
            std::thread::scope(|s| {
                s.spawn(|| {
                    pool.run(|| {
                        let ids = map_ranges(4, 4, |_| Ok(std::thread::current().id())).unwrap();
                        assert!(ids.iter().all(|&t| t == std::thread::current().id()));
                    })
                });
            });
        });
    }
}
