//! The single entry wrapper: catch panics, map errors to status codes, record messages.

use crate::status::{set_last_error, MoteStatus};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`, turning its error or panic into a status and a last-error message.
pub(crate) fn guard(f: impl FnOnce() -> Result<(), (MoteStatus, String)>) -> MoteStatus {
    match catch_unwind(AssertUnwindSafe(f)) {
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
pub(crate) fn from_error(e: mote::Error) -> (MoteStatus, String) {
    (MoteStatus::from(e.kind()), e.to_string())
}

/// The error for a NULL argument.
pub(crate) fn null(name: &str) -> (MoteStatus, String) {
    (
        MoteStatus::NullPointer,
        format!("argument '{name}' is NULL"),
    )
}
