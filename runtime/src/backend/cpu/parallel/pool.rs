//! The worker threads of one session: a fork-join pool whose workers spin between jobs.
//!
//! Why not a general work-stealing pool: an op's parts take a few to a few hundred
//! microseconds, and a run hands out hundreds of them back to back. A worker that goes to
//! sleep between two ops costs a futex wake-up per op, which in a virtual machine (an
//! inter-processor interrupt through the hypervisor) takes tens of microseconds: more than a
//! small layer's whole work, and enough to make two threads slower than one. So each worker
//! keeps polling its job slot for [`SPIN`] after its last job, as onnxruntime's intra-op
//! threads do, and parks only when the session is idle.
//!
//! A job is a borrowed closure `f(worker index)`; [`Pool::dispatch`] hands it to the workers,
//! runs `f(0)` on the calling thread, and returns only when every worker has finished it, so
//! the borrow outlives every use.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

use super::lock;
use crate::{Error, Result};

/// How long an idle worker keeps polling before it parks: longer than the gap between two
/// ops of a run, short enough that an idle session stops burning a core at once.
const SPIN: Duration = Duration::from_micros(300);

/// A job: what each thread runs, given its index (0 = the calling thread).
type Job<'a> = dyn Fn(usize) + Sync + 'a;

/// One worker thread's mailbox.
struct Slot {
    /// Sequence number of the last job posted to this worker.
    posted: AtomicU64,
    /// Sequence number of the last job this worker finished.
    done: AtomicU64,
    /// The posted job; valid while `posted != done` (see [`Pool::dispatch`]).
    job: Mutex<Option<JobPtr>>,
    /// Set while the worker is parked (or about to park), so posters unpark it.
    parked: AtomicBool,
    thread: Mutex<Option<Thread>>,
}

/// A job's address with its lifetime erased. The poster keeps the job alive until the worker
/// reports it done.
#[derive(Clone, Copy)]
struct JobPtr(*const Job<'static>);

// SAFETY: the pointee is `Sync` (a `Job`), and `dispatch` keeps it alive while a worker uses it.
unsafe impl Send for JobPtr {}

struct Shared {
    slots: Vec<Slot>,
    shutdown: AtomicBool,
    /// Held by the thread whose run uses the pool; another thread runs without it.
    in_use: AtomicBool,
}

/// Worker threads started once; the calling thread is worker 0.
pub(crate) struct Pool {
    shared: Arc<Shared>,
    handles: Vec<JoinHandle<()>>,
}

thread_local! {
    /// The pool the calling thread's current run splits its ops over.
    static CURRENT: Cell<Option<*const Pool>> = const { Cell::new(None) };
}

impl Pool {
    /// A pool of `threads` threads in all: `threads − 1` workers are started.
    pub(crate) fn new(threads: usize) -> Result<Self> {
        let shared = Arc::new(Shared {
            slots: (1..threads)
                .map(|_| Slot {
                    posted: AtomicU64::new(0),
                    done: AtomicU64::new(0),
                    job: Mutex::new(None),
                    parked: AtomicBool::new(false),
                    thread: Mutex::new(None),
                })
                .collect(),
            shutdown: AtomicBool::new(false),
            in_use: AtomicBool::new(false),
        });
        let mut pool = Pool {
            shared,
            handles: Vec::new(),
        };
        for index in 1..threads {
            let shared = Arc::clone(&pool.shared);
            let handle = thread::Builder::new()
                .name(format!("mote-worker-{index}"))
                .spawn(move || work(&shared, index))
                .map_err(|e| Error::internal(format!("cannot start worker thread: {e}")))?;
            *lock(&pool.shared.slots[index - 1].thread) = Some(handle.thread().clone());
            pool.handles.push(handle);
        }
        Ok(pool)
    }

    /// Threads in all, the calling one included.
    pub(crate) fn threads(&self) -> usize {
        self.shared.slots.len() + 1
    }

    /// Runs `f` with this pool as the calling thread's current pool, so the ops `f` runs
    /// split their work over it. If another thread is using the pool, `f` runs on the calling
    /// thread alone.
    pub(crate) fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        if self.shared.in_use.swap(true, Ordering::Acquire) {
            return f();
        }
        struct Release<'a>(&'a Shared, Option<*const Pool>);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                CURRENT.with(|c| c.set(self.1));
                self.0.in_use.store(false, Ordering::Release);
            }
        }
        let previous = CURRENT.with(|c| c.replace(Some(self as *const Pool)));
        let _release = Release(&self.shared, previous);
        f()
    }

    /// Calls `f` with the calling thread's current pool, if it has one.
    pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Pool>) -> R) -> R {
        let current = CURRENT.with(|c| c.get());
        // SAFETY: `CURRENT` points at a pool only inside `Pool::run` on this thread, which
        // borrows the pool for that whole time.
        f(current.map(|p| unsafe { &*p }))
    }

    /// Runs `job(0)` on the calling thread and `job(i)` on workers `1 ≤ i < helpers + 1`;
    /// returns when all have finished. `job` must not panic (callers catch panics inside it).
    pub(crate) fn dispatch(&self, helpers: usize, job: &Job<'_>) {
        let helpers = helpers.min(self.shared.slots.len());
        // SAFETY: only the lifetime is erased; this function does not return before every
        // worker given the pointer has set `done`, after its last use of it.
        let ptr =
            JobPtr(unsafe { std::mem::transmute::<*const Job<'_>, *const Job<'static>>(job) });
        let slots = &self.shared.slots[..helpers];
        for slot in slots {
            *lock(&slot.job) = Some(ptr);
            slot.posted.fetch_add(1, Ordering::SeqCst);
            if slot.parked.load(Ordering::SeqCst) {
                if let Some(t) = lock(&slot.thread).as_ref() {
                    t.unpark();
                }
            }
        }
        job(0);
        for slot in slots {
            let target = slot.posted.load(Ordering::Relaxed);
            while slot.done.load(Ordering::Acquire) != target {
                std::hint::spin_loop();
            }
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        for slot in &self.shared.slots {
            if let Some(t) = lock(&slot.thread).as_ref() {
                t.unpark();
            }
        }
        for handle in self.handles.drain(..) {
            let _ = handle.join();
        }
    }
}

/// A worker's loop: wait for a job (spinning, then parked), run it, report it done.
fn work(shared: &Shared, index: usize) {
    let slot = &shared.slots[index - 1];
    let mut seen = 0;
    loop {
        let mut idle_since = Instant::now();
        let mut polls = 0u32;
        loop {
            let posted = slot.posted.load(Ordering::SeqCst);
            if posted != seen {
                seen = posted;
                break;
            }
            if shared.shutdown.load(Ordering::SeqCst) {
                return;
            }
            polls = polls.wrapping_add(1);
            if polls % 256 != 0 {
                std::hint::spin_loop();
                continue;
            }
            if idle_since.elapsed() < SPIN {
                continue;
            }
            // Announce the park before re-checking, so a poster either sees `parked` and
            // unparks, or posted before the re-check and is seen by it.
            slot.parked.store(true, Ordering::SeqCst);
            if slot.posted.load(Ordering::SeqCst) == seen && !shared.shutdown.load(Ordering::SeqCst)
            {
                thread::park();
            }
            slot.parked.store(false, Ordering::SeqCst);
            idle_since = Instant::now();
        }
        if let Some(JobPtr(job)) = *lock(&slot.job) {
            // SAFETY: the poster keeps the job alive until `done` reaches `seen` (below). A
            // panic is caught (jobs catch their own; this is the backstop) so `done` is set.
            let run = std::panic::AssertUnwindSafe(|| unsafe { (*job)(index) });
            let _ = std::panic::catch_unwind(run);
        }
        slot.done.store(seen, Ordering::Release);
    }
}
