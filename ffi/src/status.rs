//! Status codes and the thread-local last error.

use std::cell::RefCell;
use std::ffi::{c_char, c_int, CString};

/// Result of every fallible C function. Numbers are stable across releases.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoteStatus {
    /// Success.
    Ok = 0,
    /// A required pointer argument was NULL.
    NullPointer = 1,
    /// An argument was invalid (bad UTF-8, unknown name...).
    InvalidArgument = 2,
    /// The model is malformed.
    InvalidModel = 3,
    /// The model uses an operator or type Mote does not support.
    Unsupported = 4,
    /// A tensor shape did not match.
    ShapeMismatch = 5,
    /// A tensor element type did not match.
    DtypeMismatch = 6,
    /// File or stream I/O failed.
    Io = 7,
    /// A requested backend is not available.
    BackendUnavailable = 8,
    /// An allocation was refused.
    OutOfMemory = 9,
    /// A corrupt `.mote` file.
    CorruptFile = 10,
    /// A bug inside Mote (reported instead of crashing).
    Internal = 11,
    /// A panic was caught at the boundary (a bug inside Mote).
    Panic = 12,
    /// A caller-provided buffer is too small; the needed size was reported.
    BufferTooSmall = 13,
    /// The session is running a call on another thread (sessions run one call at a time).
    SessionBusy = 14,
    /// The caller was compiled against another ABI version or a struct of an unknown size.
    AbiMismatch = 15,
    /// Planning a run would take the session past its `memory_limit_bytes` (nothing was
    /// allocated for it; the session stays usable for smaller inputs).
    MemoryLimitExceeded = 16,
}

impl MoteStatus {
    /// Every status, in numeric order (so `from_code` cannot miss one).
    pub(crate) const ALL: [MoteStatus; 17] = [
        MoteStatus::Ok,
        MoteStatus::NullPointer,
        MoteStatus::InvalidArgument,
        MoteStatus::InvalidModel,
        MoteStatus::Unsupported,
        MoteStatus::ShapeMismatch,
        MoteStatus::DtypeMismatch,
        MoteStatus::Io,
        MoteStatus::BackendUnavailable,
        MoteStatus::OutOfMemory,
        MoteStatus::CorruptFile,
        MoteStatus::Internal,
        MoteStatus::Panic,
        MoteStatus::BufferTooSmall,
        MoteStatus::SessionBusy,
        MoteStatus::AbiMismatch,
        MoteStatus::MemoryLimitExceeded,
    ];

    fn from_code(code: c_int) -> Option<MoteStatus> {
        let index = usize::try_from(code).ok()?;
        Self::ALL.get(index).copied()
    }
}

impl From<&mote::ErrorKind> for MoteStatus {
    fn from(kind: &mote::ErrorKind) -> Self {
        use mote::ErrorKind as K;
        match kind {
            K::InvalidModel => MoteStatus::InvalidModel,
            K::UnsupportedOp { .. } => MoteStatus::Unsupported,
            K::ShapeMismatch => MoteStatus::ShapeMismatch,
            K::DTypeMismatch => MoteStatus::DtypeMismatch,
            K::CorruptFile => MoteStatus::CorruptFile,
            K::BackendUnavailable => MoteStatus::BackendUnavailable,
            K::Io => MoteStatus::Io,
            K::InvalidArgument => MoteStatus::InvalidArgument,
            K::OutOfMemory => MoteStatus::OutOfMemory,
            K::MemoryLimitExceeded => MoteStatus::MemoryLimitExceeded,
            _ => MoteStatus::Internal,
        }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records the message returned by `mote_last_error` on this thread.
pub(crate) fn set_last_error(message: &str) {
    let c = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

/// The message of the last failed call on this thread ("" if none). Valid until the next
/// failing call on this thread; never NULL.
#[no_mangle]
pub extern "C" fn mote_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// A static, human-readable name for a status ("ok", "null pointer"...), "unknown status" for
/// a number that is not a `MoteStatus`. Never NULL.
// Takes an `int`, not the enum: a C caller can pass any number, and an out-of-range value
// in a Rust enum would be undefined behaviour.
#[no_mangle]
pub extern "C" fn mote_status_str(status: c_int) -> *const c_char {
    let Some(status) = MoteStatus::from_code(status) else {
        return c"unknown status".as_ptr();
    };
    let s: &'static [u8] = match status {
        MoteStatus::Ok => b"ok\0",
        MoteStatus::NullPointer => b"null pointer\0",
        MoteStatus::InvalidArgument => b"invalid argument\0",
        MoteStatus::InvalidModel => b"invalid model\0",
        MoteStatus::Unsupported => b"unsupported\0",
        MoteStatus::ShapeMismatch => b"shape mismatch\0",
        MoteStatus::DtypeMismatch => b"dtype mismatch\0",
        MoteStatus::Io => b"i/o error\0",
        MoteStatus::BackendUnavailable => b"backend unavailable\0",
        MoteStatus::OutOfMemory => b"out of memory\0",
        MoteStatus::CorruptFile => b"corrupt file\0",
        MoteStatus::Internal => b"internal error\0",
        MoteStatus::Panic => b"panic\0",
        MoteStatus::BufferTooSmall => b"buffer too small\0",
        MoteStatus::SessionBusy => b"session busy\0",
        MoteStatus::AbiMismatch => b"abi mismatch\0",
        MoteStatus::MemoryLimitExceeded => b"memory limit exceeded\0",
    };
    s.as_ptr().cast()
}
