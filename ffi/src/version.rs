//! Library and ABI versions.
//!
//! The header carries `MOTE_ABI_VERSION` (the ABI it declares) and the library answers
//! `mote_abi_version()` (the ABI it implements): a caller compares the two once at start-up,
//! and `mote_session_options_init` checks the version the caller was compiled with.

use std::ffi::c_char;

/// The C ABI version declared by this header. Bumped on any incompatible change of the ABI
/// (a removed or changed function or struct field); additions that old callers cannot notice
/// (new functions, new status codes, new trailing fields of sized structs) keep it.
pub const MOTE_ABI_VERSION: u32 = 1;

/// Major version of the library this header comes with (the `Cargo.toml` version; a unit
/// test keeps them equal).
pub const MOTE_VERSION_MAJOR: u32 = 0;
/// Minor version of the library this header comes with.
pub const MOTE_VERSION_MINOR: u32 = 1;
/// Patch version of the library this header comes with.
pub const MOTE_VERSION_PATCH: u32 = 0;

/// The library version, "MAJOR.MINOR.PATCH" (static, never NULL).
#[no_mangle]
pub extern "C" fn mote_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The ABI version this library implements; compare with `MOTE_ABI_VERSION` (see
/// `MOTE_ABI_MATCHES()`).
#[no_mangle]
pub extern "C" fn mote_abi_version() -> u32 {
    MOTE_ABI_VERSION
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_version_macros_match_cargo_toml() {
        let parse = |s: &str| s.parse::<u32>().unwrap();
        assert_eq!(MOTE_VERSION_MAJOR, parse(env!("CARGO_PKG_VERSION_MAJOR")));
        assert_eq!(MOTE_VERSION_MINOR, parse(env!("CARGO_PKG_VERSION_MINOR")));
        assert_eq!(MOTE_VERSION_PATCH, parse(env!("CARGO_PKG_VERSION_PATCH")));
    }
}
