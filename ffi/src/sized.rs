//! Structs that may grow start with `size_t struct_size`, the size the caller was compiled
//! with. A caller built against an older header passes a smaller size, a newer one a larger
//! size; this module reads that field and decides what the library may touch.

use crate::boundary::{null, Failure};
use crate::status::MoteStatus;

/// Larger than any version of these structs will be; a bigger `struct_size` is garbage (an
/// uninitialised struct), and trusting it would read or step past the caller's memory.
const MAX_STRUCT_SIZE: usize = 4096;

/// Reads the leading `struct_size` field of a caller's struct and checks that it holds at
/// least every field of this ABI version's `T` (there is no older layout yet).
///
/// # Safety
/// `ptr` must be NULL or valid for reading a `usize` at its start.
pub(crate) unsafe fn struct_size_of<T>(ptr: *const T, name: &str) -> Result<usize, Failure> {
    if ptr.is_null() {
        return Err(null(name));
    }
    if !ptr.cast::<usize>().is_aligned() {
        return Err((
            MoteStatus::InvalidArgument,
            format!("argument '{name}' is misaligned"),
        ));
    }
    // SAFETY: non-null, aligned, and every sized struct starts with a `size_t` the caller
    // guarantees readable.
    let given = unsafe { ptr.cast::<usize>().read() };
    let ours = size_of::<T>();
    if given > MAX_STRUCT_SIZE {
        return Err((
            MoteStatus::AbiMismatch,
            format!(
                "{name}->struct_size is {given}, not a plausible struct size (uninitialised?): \
                 set it to sizeof of the struct"
            ),
        ));
    }
    if given < ours {
        return Err((
            MoteStatus::AbiMismatch,
            format!(
                "{name}->struct_size is {given}, this library needs at least {ours}: set it to \
                 sizeof of the struct (was the caller built against another mote.h?)"
            ),
        ));
    }
    Ok(given)
}

/// Checks that the bytes of a caller's struct past this library's `T` (fields of a newer
/// header) are all zero, i.e. the caller asked for nothing this library does not know.
///
/// # Safety
/// `ptr` must be valid for reads of `given` bytes, with `given >= size_of::<T>()`.
pub(crate) unsafe fn check_unknown_tail_is_zero<T>(
    ptr: *const T,
    given: usize,
    name: &str,
) -> Result<(), Failure> {
    let ours = size_of::<T>();
    // SAFETY: the caller guarantees `given` readable bytes and `ours <= given`.
    let tail = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>().add(ours), given - ours) };
    if tail.iter().any(|&b| b != 0) {
        return Err((
            MoteStatus::Unsupported,
            format!(
                "{name} sets fields past the {ours} bytes this library knows (a newer mote.h?); \
                 this library cannot honour them"
            ),
        ));
    }
    Ok(())
}
