//! Copying a run's outputs into buffers the caller owns (`mote_session_run_into`).
//!
//! The runtime returns owned output tensors, so this is one copy per output; its value is
//! that the caller's memory is reused across runs and no handle needs freeing.

use crate::boundary::{invalid, null, Failure};
use crate::dtype::code_of;
use crate::sized::struct_size_of;
use crate::status::MoteStatus;
use std::ffi::c_void;
use std::ptr::{addr_of, addr_of_mut};

/// One caller-provided output buffer for `mote_session_run_into`, in an array with one entry
/// per model output. Set `struct_size = sizeof(MoteOutputBuffer)` in every entry (the struct
/// may grow; the library steps through the array by the caller's size). The library reads
/// only the "in" fields and writes only the "out" fields.
#[repr(C)]
pub struct MoteOutputBuffer {
    /// In: `sizeof(MoteOutputBuffer)` as the caller was compiled, equal in every entry.
    pub struct_size: usize,
    /// In: where the output's bytes go (may be NULL when `capacity` is 0).
    pub data: *mut c_void,
    /// In: bytes writable at `data`.
    pub capacity: usize,
    /// In: NULL, or room for `shape_capacity` sizes of the output's concrete shape.
    pub shape: *mut i64,
    /// In: values writable at `shape`.
    pub shape_capacity: usize,
    /// Out: bytes of the output (what `capacity` must hold), set even when too small.
    pub size: usize,
    /// Out: rank of the output.
    pub rank: usize,
    /// Out: element type of the output (a `MoteDtype` value).
    pub dtype: i32,
}

/// What the library reads from one entry.
struct Request {
    data: *mut c_void,
    capacity: usize,
    shape: *mut i64,
    shape_capacity: usize,
}

/// Reports every output's size, rank, dtype and shape into the caller's buffers, then copies
/// all outputs if all fit, or none.
///
/// # Safety
/// `outputs` must be valid for reads and writes of `results.len()` entries of
/// `outputs[0].struct_size` bytes each, with `data`/`shape` valid for `capacity` bytes and
/// `shape_capacity` values.
pub(crate) unsafe fn copy_outputs(
    results: &[mote::Tensor],
    outputs: *mut MoteOutputBuffer,
) -> Result<(), Failure> {
    if results.is_empty() {
        return Ok(());
    }
    // SAFETY: forwarded contract (non-null: the caller checked it for a non-empty list).
    let stride = unsafe { struct_size_of(outputs.cast_const(), "outputs") }?;
    if stride % align_of::<MoteOutputBuffer>() != 0 {
        return Err(invalid(format!(
            "outputs[0].struct_size {stride} is not a multiple of the struct's alignment"
        )));
    }
    let mut too_small = Vec::new();
    let mut requests = Vec::with_capacity(results.len());
    for (i, tensor) in results.iter().enumerate() {
        // SAFETY: the caller guarantees `results.len()` entries of `stride` bytes; `stride`
        // is a multiple of the alignment, so every entry is aligned like the first.
        let entry = unsafe { outputs.byte_add(i * stride) };
        // SAFETY: in bounds and aligned (above); only plain fields are read and written,
        // through raw places, so no reference to caller memory is formed.
        let request = unsafe { report(entry, i, stride, tensor) }?;
        let size = tensor.bytes().len();
        let rank = tensor.shape().len();
        if request.capacity < size || (!request.shape.is_null() && request.shape_capacity < rank) {
            too_small.push(format!(
                "output {i} needs {size} bytes and {rank} shape values, its buffer has {} and {}",
                request.capacity,
                if request.shape.is_null() {
                    0
                } else {
                    request.shape_capacity
                }
            ));
        }
        requests.push(request);
    }
    if !too_small.is_empty() {
        return Err((
            MoteStatus::BufferTooSmall,
            format!(
                "output buffers too small (no output copied): {}",
                too_small.join("; ")
            ),
        ));
    }
    for (tensor, request) in results.iter().zip(&requests) {
        let bytes = tensor.bytes();
        if !bytes.is_empty() {
            // SAFETY: `report` checked `data` non-null when capacity > 0, and capacity >= the
            // length (checked above); our tensor is a fresh allocation, so they cannot overlap.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    bytes.as_ptr(),
                    request.data.cast::<u8>(),
                    bytes.len(),
                )
            };
        }
    }
    Ok(())
}

/// Reads entry `i`'s request and writes its out fields (and shape, when it fits).
///
/// # Safety
/// `entry` must be aligned and valid for reads and writes of `stride >= size_of` bytes.
unsafe fn report(
    entry: *mut MoteOutputBuffer,
    i: usize,
    stride: usize,
    tensor: &mote::Tensor,
) -> Result<Request, Failure> {
    // SAFETY: `entry` is valid and aligned per the contract; only raw field places are used.
    let request = unsafe {
        let own_size = addr_of!((*entry).struct_size).read();
        if own_size != stride {
            return Err((
                MoteStatus::AbiMismatch,
                format!("outputs[{i}].struct_size is {own_size}, outputs[0] has {stride}: set every entry's to sizeof(MoteOutputBuffer)"),
            ));
        }
        Request {
            data: addr_of!((*entry).data).read(),
            capacity: addr_of!((*entry).capacity).read(),
            shape: addr_of!((*entry).shape).read(),
            shape_capacity: addr_of!((*entry).shape_capacity).read(),
        }
    };
    if request.data.is_null() && request.capacity != 0 {
        return Err(null(&format!("outputs[{i}].data")));
    }
    if !request.shape.is_null() && !request.shape.is_aligned() {
        return Err(invalid(format!("outputs[{i}].shape is misaligned")));
    }
    let dims = tensor.shape();
    // SAFETY: as above; these are the entry's out fields.
    unsafe {
        addr_of_mut!((*entry).size).write(tensor.bytes().len());
        addr_of_mut!((*entry).rank).write(dims.len());
        addr_of_mut!((*entry).dtype).write(code_of(Some(tensor.dtype())));
    }
    if !request.shape.is_null() && request.shape_capacity >= dims.len() {
        for (axis, &d) in dims.iter().enumerate() {
            // SAFETY: non-null, aligned, `axis < rank <= shape_capacity` writable values.
            unsafe {
                request
                    .shape
                    .add(axis)
                    .write(i64::try_from(d).unwrap_or(i64::MAX))
            };
        }
    }
    Ok(request)
}
