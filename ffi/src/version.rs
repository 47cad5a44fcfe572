//! Library and ABI versions.

use std::ffi::c_char;

/// Bumped on any incompatible change of the C ABI.
const ABI_VERSION: u32 = 1;

/// The library version, "MAJOR.MINOR.PATCH" (static, never NULL).
#[no_mangle]
pub extern "C" fn mote_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The ABI version this library implements.
#[no_mangle]
pub extern "C" fn mote_abi_version() -> u32 {
    ABI_VERSION
}
