//! The single entry wrapper: catch panics, map errors to status codes, record messages; and
//! the small checks every entry point makes on its pointer arguments.

use crate::status::{set_last_error, MoteStatus};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A failed call: the status to return and the message for `mote_last_error()`.
pub(crate) type Failure = (MoteStatus, String);

/// Runs `f`, turning its error or panic into a status and a last-error message.
///
/// `AssertUnwindSafe` is sound here: after a panic the only state the caller can still reach
/// is behind handles, and a session that panicked mid-run is at worst left with a cached plan
/// it rebuilds (its lock is poisoned and reported, see `session.rs`).
pub(crate) fn guard(f: impl FnOnce() -> Result<(), Failure>) -> MoteStatus {
    let run = || {
        #[cfg(test)]
        test_hooks::maybe_panic();
        f()
    };
    match catch_unwind(AssertUnwindSafe(run)) {
        Ok(Ok(())) => MoteStatus::Ok,
        Ok(Err((status, message))) => {
            set_last_error(&message);
            status
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            set_last_error(&format!("internal panic (a bug in Mote): {what}"));
            MoteStatus::Panic
        }
    }
}

/// A runtime error as a boundary error.
pub(crate) fn from_error(e: mote::Error) -> Failure {
    (MoteStatus::from(e.kind()), e.to_string())
}

/// The error for a NULL argument.
pub(crate) fn null(name: &str) -> Failure {
    (
        MoteStatus::NullPointer,
        format!("argument '{name}' is NULL"),
    )
}

/// An invalid-argument failure.
pub(crate) fn invalid(message: impl Into<String>) -> Failure {
    (MoteStatus::InvalidArgument, message.into())
}

/// Clears an out-pointer first thing, so that it is NULL on every failure path.
///
/// # Safety
/// `out` must be NULL or valid for a pointer write.
pub(crate) unsafe fn clear_out<T>(out: *mut *mut T, name: &str) -> Result<(), Failure> {
    if out.is_null() {
        return Err(null(name));
    }
    // SAFETY: non-null, and the caller guarantees it is valid for writes.
    unsafe { out.write(std::ptr::null_mut()) };
    Ok(())
}

/// A shared reference from a handle pointer, or a NULL-pointer failure.
///
/// # Safety
/// `ptr` must be NULL or point to a live `T` that is not mutated during `'a`.
pub(crate) unsafe fn handle<'a, T>(ptr: *const T, name: &str) -> Result<&'a T, Failure> {
    // SAFETY: forwarded contract; `as_ref` handles NULL.
    unsafe { ptr.as_ref() }.ok_or_else(|| null(name))
}

/// A slice from a caller's (pointer, length); NULL is allowed only for length 0.
///
/// # Safety
/// `ptr` must be NULL or valid for reads of `len` elements during `'a`.
pub(crate) unsafe fn slice<'a, T>(
    ptr: *const T,
    len: usize,
    name: &str,
) -> Result<&'a [T], Failure> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(null(name));
    }
    if !ptr.is_aligned() {
        return Err(invalid(format!("argument '{name}' is misaligned")));
    }
    if len
        .checked_mul(size_of::<T>())
        .is_none_or(|n| n > isize::MAX as usize)
    {
        return Err(invalid(format!(
            "argument '{name}' has an impossible length {len}"
        )));
    }
    // SAFETY: non-null, aligned, and the caller guarantees `len` readable elements.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Test-only: make the next guarded call on this thread panic inside the guard, to prove
/// that every entry point converts a panic into `MOTE_STATUS_PANIC`.
#[cfg(test)]
pub(crate) mod test_hooks {
    use std::cell::Cell;

    thread_local! {
        static PANIC_NEXT: Cell<bool> = const { Cell::new(false) };
    }

    pub(crate) fn panic_next_call() {
        // Keep the forced panics out of the test log; every other panic still prints.
        static QUIET: std::sync::Once = std::sync::Once::new();
        QUIET.call_once(|| {
            let default = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if info.payload().downcast_ref::<&str>() != Some(&FORCED) {
                    default(info);
                }
            }));
        });
        PANIC_NEXT.with(|p| p.set(true));
    }

    const FORCED: &str = "forced by a test";

    pub(super) fn maybe_panic() {
        if PANIC_NEXT.with(|p| p.replace(false)) {
            std::panic::panic_any(FORCED);
        }
    }
}
