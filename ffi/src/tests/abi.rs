//! Versions, status names, and the sized-struct and ABI-version checks.

use super::util::*;
use crate::*;
use std::ffi::CStr;

fn text(p: *const std::ffi::c_char) -> String {
    // SAFETY: the callers pass static NUL-terminated strings from the library.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

#[test]
fn versions_and_status_names() {
    assert_eq!(text(mote_version()), env!("CARGO_PKG_VERSION"));
    assert_eq!(mote_abi_version(), MOTE_ABI_VERSION);
    for (i, status) in MoteStatus::ALL.iter().enumerate() {
        assert_eq!(*status as usize, i, "ALL is in numeric order");
        assert_ne!(text(mote_status_str(i as i32)), "unknown status");
    }
    assert_eq!(
        text(mote_status_str(MoteStatus::BufferTooSmall as i32)),
        "buffer too small"
    );
    assert_eq!(text(mote_status_str(-1)), "unknown status");
    assert_eq!(
        text(mote_status_str(MoteStatus::ALL.len() as i32)),
        "unknown status"
    );
}

#[test]
fn options_init_checks_the_callers_abi_and_size() {
    let mut o = default_options();
    assert_eq!(
        (o.threads, o.memory_limit_bytes, o.abi_version),
        (1, 0, MOTE_ABI_VERSION)
    );
    assert!(o.backend.is_null());
    // SAFETY: valid struct; the wrong version is the point.
    let status = unsafe { mote_session_options_init(&mut o, size_of::<MoteSessionOptions>(), 99) };
    assert_eq!(status, MoteStatus::AbiMismatch);
    assert!(last_error().contains("ABI version 99"), "{}", last_error());
    // SAFETY: valid struct; the too-small size is the point.
    let status = unsafe { mote_session_options_init(&mut o, 8, MOTE_ABI_VERSION) };
    assert_eq!(status, MoteStatus::AbiMismatch);
}

/// A caller compiled against a newer header: a bigger struct with fields this library does
/// not know.
#[repr(C)]
struct NewerOptions {
    known: MoteSessionOptions,
    future_field: u64,
}

#[test]
fn session_new_checks_struct_size_version_and_unknown_fields() {
    let model = load_demo();
    let try_new = |o: *const MoteSessionOptions| {
        let mut s = std::ptr::null_mut();
        // SAFETY: live model; `o` is valid for its struct_size.
        let status = unsafe { mote_session_new(model, o, &mut s) };
        // SAFETY: NULL or a new session, freed once.
        unsafe { mote_session_free(s) };
        if status != MoteStatus::Ok {
            assert!(s.is_null());
        }
        status
    };
    let mut newer = NewerOptions {
        known: default_options(),
        future_field: 7,
    };
    // SAFETY: the struct is valid for the size given.
    ok(unsafe {
        mote_session_options_init(
            &mut newer.known,
            size_of::<NewerOptions>(),
            MOTE_ABI_VERSION,
        )
    });
    assert_eq!(newer.future_field, 0, "init zeroes fields it does not know");
    assert_eq!(try_new(&newer.known), MoteStatus::Ok, "{}", last_error());
    newer.future_field = 1;
    assert_eq!(try_new(&newer.known), MoteStatus::Unsupported);
    assert!(last_error().contains("newer mote.h"), "{}", last_error());

    let mut o = default_options();
    o.abi_version = 2;
    assert_eq!(try_new(&o), MoteStatus::AbiMismatch);
    let mut o = default_options();
    o.struct_size = 4;
    assert_eq!(try_new(&o), MoteStatus::AbiMismatch);
    for threads in [0, 1025, u32::MAX] {
        let mut o = default_options();
        o.threads = threads;
        assert_eq!(
            try_new(&o),
            MoteStatus::InvalidArgument,
            "threads {threads}"
        );
    }
    let mut o = default_options();
    o.struct_size = usize::MAX;
    assert_eq!(
        try_new(&o),
        MoteStatus::AbiMismatch,
        "a garbage size is not trusted"
    );
    for (backend, expected) in [
        (c"cpu", MoteStatus::Ok),
        (c"cuda", MoteStatus::BackendUnavailable),
        (c"wgpu", MoteStatus::BackendUnavailable),
        (c"tpu", MoteStatus::InvalidArgument),
    ] {
        let mut o = default_options();
        o.backend = backend.as_ptr();
        assert_eq!(try_new(&o), expected, "{backend:?}: {}", last_error());
    }
    assert_eq!(
        try_new(std::ptr::null()),
        MoteStatus::Ok,
        "NULL options are the defaults"
    );
    // SAFETY: from mote_model_load_file, freed once.
    unsafe { mote_model_free(model) };
}
