//! Loading models and asking about them.

use crate::boundary::{from_error, guard, null};
use crate::status::MoteStatus;
use std::ffi::{c_char, CStr};

/// An opaque loaded model (shareable across threads).
pub struct MoteModel {
    inner: mote::Model,
}

/// Loads the model at `path` (UTF-8, NUL-terminated) into `*out`. On failure `*out` is NULL.
///
/// # Safety
/// `path` must be NULL or a valid NUL-terminated string; `out` must be NULL or valid for a
/// pointer write.
#[no_mangle]
pub unsafe extern "C" fn mote_model_load_file(
    path: *const c_char,
    out: *mut *mut MoteModel,
) -> MoteStatus {
    guard(|| {
        if out.is_null() {
            return Err(null("out"));
        }
        // SAFETY: `out` is non-null and the caller guarantees it is valid for writes.
        unsafe { *out = std::ptr::null_mut() };
        if path.is_null() {
            return Err(null("path"));
        }
        // SAFETY: non-null, and the caller guarantees a NUL-terminated string.
        let path = unsafe { CStr::from_ptr(path) }
            .to_str()
            .map_err(|_| (MoteStatus::InvalidArgument, "path is not UTF-8".to_string()))?;
        let model = mote::Model::load(path).map_err(from_error)?;
        let boxed = Box::into_raw(Box::new(MoteModel { inner: model }));
        // SAFETY: checked non-null above.
        unsafe { *out = boxed };
        Ok(())
    })
}

/// Frees a model from `mote_model_load_file`. NULL is a no-op.
///
/// # Safety
/// `model` must be NULL or a pointer from `mote_model_load_file` not freed before.
#[no_mangle]
pub unsafe extern "C" fn mote_model_free(model: *mut MoteModel) {
    if !model.is_null() {
        let _ = guard(|| {
            // SAFETY: the caller passes a pointer from Box::into_raw, freed once.
            drop(unsafe { Box::from_raw(model) });
            Ok(())
        });
    }
}

/// Writes the number of model inputs to `*count`.
///
/// # Safety
/// `model` must be NULL or a live model; `count` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn mote_model_input_count(
    model: *const MoteModel,
    count: *mut usize,
) -> MoteStatus {
    // SAFETY: forwarded contract.
    unsafe { io_count(model, count, |m| m.inputs().len()) }
}

/// Writes the number of model outputs to `*count`.
///
/// # Safety
/// `model` must be NULL or a live model; `count` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn mote_model_output_count(
    model: *const MoteModel,
    count: *mut usize,
) -> MoteStatus {
    // SAFETY: forwarded contract.
    unsafe { io_count(model, count, |m| m.outputs().len()) }
}

unsafe fn io_count(
    model: *const MoteModel,
    count: *mut usize,
    f: impl FnOnce(&mote::Model) -> usize,
) -> MoteStatus {
    guard(|| {
        if count.is_null() {
            return Err(null("count"));
        }
        if model.is_null() {
            return Err(null("model"));
        }
        // SAFETY: non-null; the caller guarantees a live model.
        let m = unsafe { &(*model).inner };
        // SAFETY: non-null; the caller guarantees it is writable.
        unsafe { *count = f(m) };
        Ok(())
    })
}
