//! Loading models and asking about their inputs and outputs.

use crate::boundary::{clear_out, from_error, guard, handle, invalid, null, slice, Failure};
use crate::info::{IoInfo, MoteTensorInfo};
use crate::sized::struct_size_of;
use crate::status::MoteStatus;
use std::ffi::{c_char, c_void, CStr};

/// An opaque loaded model. Immutable once loaded: every `mote_model_*` function may be called
/// on one model from many threads at once, and sessions may be created from it concurrently.
pub struct MoteModel {
    pub(crate) inner: mote::Model,
    inputs: Vec<IoInfo>,
    outputs: Vec<IoInfo>,
}

impl MoteModel {
    fn new(inner: mote::Model) -> MoteModel {
        let inputs = inner.inputs().into_iter().map(IoInfo::new).collect();
        let outputs = inner.outputs().into_iter().map(IoInfo::new).collect();
        MoteModel {
            inner,
            inputs,
            outputs,
        }
    }

    /// Hands a loaded model to the caller through `out` (already checked and cleared).
    fn publish(model: mote::Model, out: *mut *mut MoteModel) {
        let boxed = Box::into_raw(Box::new(MoteModel::new(model)));
        // SAFETY: `out` was checked non-null and writable by `clear_out`.
        unsafe { out.write(boxed) };
    }
}

/// Loads the model file at `path` (UTF-8, NUL-terminated) into `*out`. ONNX files with
/// external data resolve it relative to the file's folder.
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
        // SAFETY: forwarded contract.
        unsafe { clear_out(out, "out") }?;
        if path.is_null() {
            return Err(null("path"));
        }
        // SAFETY: non-null, and the caller guarantees a NUL-terminated string.
        let path = unsafe { CStr::from_ptr(path) }
            .to_str()
            .map_err(|_| invalid("path is not UTF-8"))?;
        let model = mote::Model::load(path).map_err(from_error)?;
        MoteModel::publish(model, out);
        Ok(())
    })
}

/// Loads a model from the `len` bytes at `data` into `*out`. The bytes are read during the
/// call only: the caller may free them on return. The format is recognised from the bytes
/// (`.mote` by its magic, ONNX otherwise; a library built without ONNX import answers
/// BACKEND_UNAVAILABLE for ONNX). ONNX external data cannot be resolved from memory.
///
/// # Safety
/// `data` must be NULL or valid for reads of `len` bytes; `out` must be NULL or valid for a
/// pointer write.
#[no_mangle]
pub unsafe extern "C" fn mote_model_load_memory(
    data: *const c_void,
    len: usize,
    out: *mut *mut MoteModel,
) -> MoteStatus {
    guard(|| {
        // SAFETY: forwarded contract.
        unsafe { clear_out(out, "out") }?;
        if data.is_null() {
            return Err(null("data"));
        }
        // SAFETY: forwarded contract (bytes need no alignment).
        let bytes = unsafe { slice(data.cast::<u8>(), len, "data") }?;
        if bytes.is_empty() {
            return Err((MoteStatus::InvalidModel, "the model buffer is empty".into()));
        }
        let model = mote::Model::from_bytes(bytes).map_err(from_error)?;
        MoteModel::publish(model, out);
        Ok(())
    })
}

/// Frees a model. NULL is a no-op. Sessions created from the model keep what they need of
/// it and stay usable; `MoteTensorInfo` pointers into the model become invalid.
///
/// # Safety
/// `model` must be NULL or a pointer from `mote_model_load_*` not freed before, and no other
/// call may be using it.
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
    unsafe { write_with(model, count, "count", |m| Ok(m.inputs.len())) }
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
    unsafe { write_with(model, count, "count", |m| Ok(m.outputs.len())) }
}

/// Writes the position of the input called `name` to `*index` (INVALID_ARGUMENT if none).
///
/// # Safety
/// `model` must be NULL or a live model; `name` NULL or a NUL-terminated string; `index`
/// NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn mote_model_input_index(
    model: *const MoteModel,
    name: *const c_char,
    index: *mut usize,
) -> MoteStatus {
    let lookup = |m: &MoteModel| {
        // SAFETY: forwarded contract (`name`).
        unsafe { find(&m.inputs, name, "input") }
    };
    // SAFETY: forwarded contract (`model`, `index`).
    unsafe { write_with(model, index, "index", lookup) }
}

/// Writes the position of the output called `name` to `*index` (INVALID_ARGUMENT if none).
///
/// # Safety
/// As `mote_model_input_index`.
#[no_mangle]
pub unsafe extern "C" fn mote_model_output_index(
    model: *const MoteModel,
    name: *const c_char,
    index: *mut usize,
) -> MoteStatus {
    let lookup = |m: &MoteModel| {
        // SAFETY: forwarded contract (`name`).
        unsafe { find(&m.outputs, name, "output") }
    };
    // SAFETY: forwarded contract (`model`, `index`).
    unsafe { write_with(model, index, "index", lookup) }
}

/// Describes input `index` in `*info` (set `info->struct_size` first).
///
/// # Safety
/// `model` must be NULL or a live model; `info` NULL or valid for reads and writes of
/// `info->struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn mote_model_input_info(
    model: *const MoteModel,
    index: usize,
    info: *mut MoteTensorInfo,
) -> MoteStatus {
    // SAFETY: forwarded contract.
    unsafe { describe(model, index, info, false) }
}

/// Describes output `index` in `*info` (set `info->struct_size` first). Output shapes are
/// as the model declares them; a run reports the concrete ones.
///
/// # Safety
/// As `mote_model_input_info`.
#[no_mangle]
pub unsafe extern "C" fn mote_model_output_info(
    model: *const MoteModel,
    index: usize,
    info: *mut MoteTensorInfo,
) -> MoteStatus {
    // SAFETY: forwarded contract.
    unsafe { describe(model, index, info, true) }
}

/// Computes a value from a live model and writes it to `*dst`.
///
/// # Safety
/// `model` must be NULL or a live model; `dst` NULL or valid for a write.
unsafe fn write_with<T>(
    model: *const MoteModel,
    dst: *mut T,
    dst_name: &str,
    f: impl FnOnce(&MoteModel) -> Result<T, Failure>,
) -> MoteStatus {
    guard(|| {
        if dst.is_null() {
            return Err(null(dst_name));
        }
        // SAFETY: forwarded contract.
        let m = unsafe { handle(model, "model") }?;
        let value = f(m)?;
        // SAFETY: non-null; the caller guarantees it is writable.
        unsafe { dst.write(value) };
        Ok(())
    })
}

/// The index of the value called `name` (a caller's C string) in `list`.
///
/// # Safety
/// `name` must be NULL or a NUL-terminated string.
unsafe fn find(list: &[IoInfo], name: *const c_char, what: &str) -> Result<usize, Failure> {
    if name.is_null() {
        return Err(null("name"));
    }
    // SAFETY: non-null; the caller guarantees a NUL-terminated string.
    let name = unsafe { CStr::from_ptr(name) }
        .to_str()
        .map_err(|_| invalid("name is not UTF-8"))?;
    list.iter().position(|v| v.name == name).ok_or_else(|| {
        let known: Vec<&str> = list.iter().map(|v| v.name.as_str()).collect();
        invalid(format!(
            "the model has no {what} named '{name}' (its {what}s: {})",
            known.join(", ")
        ))
    })
}

/// Fills `*info` for input or output `index`.
///
/// # Safety
/// As `mote_model_input_info`.
unsafe fn describe(
    model: *const MoteModel,
    index: usize,
    info: *mut MoteTensorInfo,
    output: bool,
) -> MoteStatus {
    guard(|| {
        // SAFETY: forwarded contract.
        let struct_size = unsafe { struct_size_of(info, "info") }?;
        // SAFETY: forwarded contract.
        let m = unsafe { handle(model, "model") }?;
        let (list, what) = if output {
            (&m.outputs, "output")
        } else {
            (&m.inputs, "input")
        };
        let value = list.get(index).ok_or_else(|| {
            invalid(format!(
                "{what} index {index} is out of range (the model has {})",
                list.len()
            ))
        })?;
        // SAFETY: `struct_size_of` checked non-null, aligned and at least this struct's size;
        // the caller guarantees it writable. Fields a newer header added past ours are left
        // as the caller set them.
        unsafe { info.write(value.to_c(struct_size)) };
        Ok(())
    })
}
