//! Every entry point reports NULL arguments and bad input as statuses, never crashes.
//! (Unit tests: the library is built only as cdylib/staticlib, so integration tests could
//! not link it.)

use crate::{
    mote_last_error, mote_model_free, mote_model_input_count, mote_model_load_file, MoteStatus,
};
use std::ffi::{CStr, CString};

fn last_error() -> String {
    // SAFETY: mote_last_error never returns NULL and the string lives until the next failure.
    unsafe { CStr::from_ptr(mote_last_error()) }
        .to_string_lossy()
        .into_owned()
}

#[test]
fn null_arguments_are_reported() {
    let mut model = std::ptr::null_mut();
    // SAFETY: NULL path is allowed by the contract; `model` is a valid out-pointer.
    let status = unsafe { mote_model_load_file(std::ptr::null(), &mut model) };
    assert_eq!(status, MoteStatus::NullPointer);
    assert!(model.is_null());
    assert!(last_error().contains("path"));
    let path = CString::new("x.onnx").unwrap();
    // SAFETY: NULL out-pointer is allowed by the contract.
    let status = unsafe { mote_model_load_file(path.as_ptr(), std::ptr::null_mut()) };
    assert_eq!(status, MoteStatus::NullPointer);
    let mut n = 0usize;
    // SAFETY: NULL model is allowed by the contract.
    assert_eq!(
        unsafe { mote_model_input_count(std::ptr::null(), &mut n) },
        MoteStatus::NullPointer
    );
    // SAFETY: freeing NULL is a no-op.
    unsafe { mote_model_free(std::ptr::null_mut()) };
}

#[test]
fn missing_and_malformed_files_are_errors() {
    let dir = std::env::temp_dir().join(format!("mote-ffi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let garbage = dir.join("garbage.onnx");
    std::fs::write(&garbage, b"\xff\xff\xff not a model").unwrap();
    for (path, expected) in [
        (dir.join("missing.onnx"), MoteStatus::Io),
        (garbage, MoteStatus::InvalidModel),
    ] {
        let c = CString::new(path.to_str().unwrap()).unwrap();
        let mut model = std::ptr::null_mut();
        // SAFETY: valid string and out-pointer.
        let status = unsafe { mote_model_load_file(c.as_ptr(), &mut model) };
        assert_eq!(status, expected, "{}", last_error());
        assert!(model.is_null());
        assert!(!last_error().is_empty());
    }
}

#[test]
fn loads_the_demo_model() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/models/digits_mlp.onnx"
    );
    let c = CString::new(path).unwrap();
    let mut model = std::ptr::null_mut();
    // SAFETY: valid string and out-pointer.
    assert_eq!(
        unsafe { mote_model_load_file(c.as_ptr(), &mut model) },
        MoteStatus::Ok,
        "{}",
        last_error()
    );
    let mut n = 0usize;
    // SAFETY: live model, valid out-pointer.
    assert_eq!(
        unsafe { mote_model_input_count(model, &mut n) },
        MoteStatus::Ok
    );
    assert_eq!(n, 1);
    // SAFETY: pointer from mote_model_load_file, freed once.
    unsafe { mote_model_free(model) };
}
