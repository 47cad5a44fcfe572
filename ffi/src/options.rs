//! Session options: a sized struct the caller owns, initialised by the library so that
//! fields added by later versions get their defaults.

use crate::boundary::{from_error, guard, invalid, Failure};
use crate::sized::{check_unknown_tail_is_zero, struct_size_of};
use crate::status::MoteStatus;
use crate::version::MOTE_ABI_VERSION;
use std::ffi::{c_char, CStr};

/// The most worker threads a session may ask for: far above any core count, and low enough
/// that a garbage value cannot make the runtime try to allocate billions of thread slots.
const MAX_THREADS: u32 = 1024;

/// How a session runs. Initialise with `MOTE_SESSION_OPTIONS_INIT(&opts)` (or
/// `mote_session_options_init`), then change fields; the struct may grow in later versions.
#[repr(C)]
pub struct MoteSessionOptions {
    /// `sizeof(MoteSessionOptions)` as the caller was compiled (set by the init call).
    pub struct_size: usize,
    /// `MOTE_ABI_VERSION` as the caller was compiled (set by the init call; checked by
    /// `mote_session_new`).
    pub abi_version: u32,
    /// Worker threads for kernels that split work, 1 to 1024 (1 = the calling thread only).
    /// Default 1.
    pub threads: u32,
    /// Backend name: NULL or "cpu" (default NULL = "cpu"). "wgpu" and "cuda" are named but not
    /// built yet: BACKEND_UNAVAILABLE; any other name: INVALID_ARGUMENT.
    pub backend: *const c_char,
    /// The most bytes the session may hold for its cached plans; 0 = unlimited (the
    /// default). Counted per plan (one per set of input shapes): the static arena of
    /// intermediate values plus the constants folded for those shapes. A run whose plan alone
    /// exceeds the limit fails with MEMORY_LIMIT_EXCEEDED before the arena is allocated; a
    /// plan that fits alone but not beside the cached ones evicts them. Not counted: the
    /// model's weights, weights packed at session creation, output tensors, values whose
    /// shape depends on input data, kernels' temporary buffers and thread stacks.
    pub memory_limit_bytes: u64,
}

/// Fills `*options` with the defaults. `struct_size` is `sizeof(MoteSessionOptions)` and
/// `abi_version` is `MOTE_ABI_VERSION`, both as the caller was compiled: pass them through
/// `MOTE_SESSION_OPTIONS_INIT(&opts)`. ABI_MISMATCH if the caller's header is of another ABI
/// version or its struct is smaller than this library's; a larger struct (a newer header)
/// gets its unknown fields zeroed.
///
/// # Safety
/// `options` must be NULL or valid for writes of `struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn mote_session_options_init(
    options: *mut MoteSessionOptions,
    struct_size: usize,
    abi_version: u32,
) -> MoteStatus {
    guard(|| {
        check_abi(abi_version)?;
        if options.is_null() {
            return Err(crate::boundary::null("options"));
        }
        let ours = size_of::<MoteSessionOptions>();
        if struct_size < ours {
            return Err(too_small(struct_size));
        }
        if !options.is_aligned() {
            return Err(invalid("argument 'options' is misaligned"));
        }
        // SAFETY: non-null and aligned; the caller guarantees `struct_size >= ours` writable
        // bytes. The tail (fields of a newer header) is zeroed: "not set".
        unsafe {
            options
                .cast::<u8>()
                .add(ours)
                .write_bytes(0, struct_size - ours);
            options.write(MoteSessionOptions {
                struct_size,
                abi_version,
                threads: 1,
                backend: std::ptr::null(),
                memory_limit_bytes: 0,
            });
        }
        Ok(())
    })
}

/// The runtime's options for a caller's struct (NULL = defaults).
///
/// # Safety
/// `options` must be NULL or valid for reads of `options->struct_size` bytes, with `backend`
/// NULL or a NUL-terminated string.
pub(crate) unsafe fn to_runtime(
    options: *const MoteSessionOptions,
) -> Result<mote::SessionOptions, Failure> {
    if options.is_null() {
        return Ok(mote::SessionOptions::default());
    }
    // SAFETY: forwarded contract.
    let given = unsafe { struct_size_of(options, "options") }?;
    // SAFETY: forwarded contract; `struct_size_of` checked `given >= size_of`.
    unsafe { check_unknown_tail_is_zero(options, given, "options") }?;
    // SAFETY: non-null, aligned and at least our size (checked above).
    let o = unsafe { &*options };
    check_abi(o.abi_version)?;
    let backend = if o.backend.is_null() {
        mote::BackendKind::Cpu
    } else {
        // SAFETY: non-null; the caller guarantees a NUL-terminated string.
        let name = unsafe { CStr::from_ptr(o.backend) }
            .to_str()
            .map_err(|_| invalid("options->backend is not UTF-8"))?;
        name.parse::<mote::BackendKind>().map_err(from_error)?
    };
    if o.threads == 0 || o.threads > MAX_THREADS {
        return Err(invalid(format!(
            "options->threads is {}: it must be between 1 and {MAX_THREADS}",
            o.threads
        )));
    }
    Ok(mote::SessionOptions {
        backend,
        threads: o.threads as usize,
        // Above the address space (32-bit targets) no plan can reach it: unlimited in effect.
        memory_limit: usize::try_from(o.memory_limit_bytes).unwrap_or(usize::MAX),
    })
}

fn check_abi(abi_version: u32) -> Result<(), Failure> {
    if abi_version != MOTE_ABI_VERSION {
        return Err((
            MoteStatus::AbiMismatch,
            format!(
                "the caller was built against mote.h of ABI version {abi_version}, this library \
                 implements ABI version {MOTE_ABI_VERSION}"
            ),
        ));
    }
    Ok(())
}

fn too_small(struct_size: usize) -> Failure {
    (
        MoteStatus::AbiMismatch,
        format!(
            "struct_size {struct_size} is smaller than this library's MoteSessionOptions ({} \
             bytes): pass sizeof(MoteSessionOptions)",
            size_of::<MoteSessionOptions>()
        ),
    )
}
