//! What a model declares about one input or output, laid out once at load time so that
//! `mote_model_*_info` can hand out pointers that live as long as the model.

use crate::dtype::code_of;
use mote::ir::{Dim, ValueInfo};
use std::ffi::{c_char, CString};

/// Description of a model input or output, filled by `mote_model_input_info` /
/// `mote_model_output_info`. Set `struct_size = sizeof(MoteTensorInfo)` before the call (the
/// struct may grow: the library checks the size and leaves fields it does not know alone).
/// Every pointer is owned by the model and valid until `mote_model_free`.
#[repr(C)]
pub struct MoteTensorInfo {
    /// In: `sizeof(MoteTensorInfo)` as the caller was compiled.
    pub struct_size: usize,
    /// The value's name (NUL-terminated UTF-8).
    pub name: *const c_char,
    /// A `MoteDtype` value; `MOTE_DTYPE_UNKNOWN` if the model does not declare it.
    pub dtype: i32,
    /// Number of dimensions; -1 when the model does not declare the rank (then `shape` and
    /// `dim_names` are NULL).
    pub rank: i64,
    /// `rank` sizes; -1 for a dimension only known at run time (symbolic or unnamed).
    pub shape: *const i64,
    /// `rank` entries: for a -1 dimension its symbol ("batch", or "?" when the model gave it
    /// no name), NULL for a fixed dimension. Inputs that share a symbol must have equal sizes
    /// there.
    pub dim_names: *const *const c_char,
}

/// The owned storage behind one `MoteTensorInfo`.
pub(crate) struct IoInfo {
    pub(crate) name: String,
    c_name: CString,
    dtype: i32,
    rank: i64,
    shape: Vec<i64>,
    /// Owns the strings `dim_name_ptrs` points into.
    _dim_names: Vec<Option<CString>>,
    dim_name_ptrs: Vec<*const c_char>,
}

impl IoInfo {
    pub(crate) fn new(value: &ValueInfo) -> IoInfo {
        let dims = value.shape.as_deref();
        let shape = dims.map_or_else(Vec::new, |dims| {
            dims.iter()
                .map(|d| match d {
                    // Sizes past i64::MAX cannot occur in memory; saturate rather than wrap.
                    Dim::Known(n) => i64::try_from(*n).unwrap_or(i64::MAX),
                    Dim::Symbol(_) => -1,
                })
                .collect()
        });
        let dim_names: Vec<Option<CString>> = dims.map_or_else(Vec::new, |dims| {
            dims.iter()
                .map(|d| match d {
                    Dim::Known(_) => None,
                    Dim::Symbol(s) => Some(c_string(s)),
                })
                .collect()
        });
        let dim_name_ptrs = dim_names
            .iter()
            .map(|n| n.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()))
            .collect();
        IoInfo {
            name: value.name.clone(),
            c_name: c_string(&value.name),
            dtype: code_of(value.dtype),
            rank: dims.map_or(-1, |d| d.len() as i64),
            shape,
            _dim_names: dim_names,
            dim_name_ptrs,
        }
    }

    /// The C view; its pointers borrow from `self`.
    pub(crate) fn to_c(&self, struct_size: usize) -> MoteTensorInfo {
        let known_rank = self.rank >= 0;
        MoteTensorInfo {
            struct_size,
            name: self.c_name.as_ptr(),
            dtype: self.dtype,
            rank: self.rank,
            shape: if known_rank {
                self.shape.as_ptr()
            } else {
                std::ptr::null()
            },
            dim_names: if known_rank {
                self.dim_name_ptrs.as_ptr()
            } else {
                std::ptr::null()
            },
        }
    }
}

/// A C string of a name; an interior NUL (impossible in ONNX names) becomes a space rather
/// than an error, since these are descriptions.
fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}
