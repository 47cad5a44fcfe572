//! Tensors owned by the library: inputs the caller fills, outputs a run returns.

use crate::boundary::{clear_out, from_error, guard, handle, invalid, null, slice, Failure};
use crate::dtype::{code_of, from_code};
use crate::status::MoteStatus;
use std::ffi::c_void;

/// An opaque tensor: an element type, a shape and its bytes (row-major, little-endian, one
/// element per byte for sub-byte types). Reading functions may run on one tensor from many
/// threads at once; `mote_tensor_data_mut` and `mote_tensor_free` need exclusive use.
pub struct MoteTensor {
    pub(crate) inner: mote::Tensor,
    /// The shape as C reads it, kept so `mote_tensor_shape` can lend a pointer.
    shape: Vec<i64>,
}

impl MoteTensor {
    pub(crate) fn new(inner: mote::Tensor) -> MoteTensor {
        let shape = inner
            .shape()
            .iter()
            // A tensor in memory has fewer than i64::MAX elements per axis.
            .map(|&d| i64::try_from(d).unwrap_or(i64::MAX))
            .collect();
        MoteTensor { inner, shape }
    }

    /// Moves the tensor to the heap and returns the caller's handle.
    pub(crate) fn into_raw(self) -> *mut MoteTensor {
        Box::into_raw(Box::new(self))
    }
}

/// Creates a tensor of `dtype` (a `MoteDtype` value) and shape `shape[0..rank]` in `*out`,
/// copying `byte_len` bytes from `data`, which must be exactly the tensor's size
/// (`mote_dtype_size(dtype)` times the element count; SHAPE_MISMATCH otherwise). With
/// `data == NULL` and `byte_len == 0` the tensor is zero-filled: fill it in place through
/// `mote_tensor_data_mut` to avoid a copy. `rank == 0` is a scalar (`shape` may be NULL).
///
/// # Safety
/// `shape` must be NULL or valid for reads of `rank` values; `data` NULL or valid for reads
/// of `byte_len` bytes; `out` NULL or valid for a pointer write.
#[no_mangle]
pub unsafe extern "C" fn mote_tensor_new(
    dtype: i32,
    shape: *const i64,
    rank: usize,
    data: *const c_void,
    byte_len: usize,
    out: *mut *mut MoteTensor,
) -> MoteStatus {
    guard(|| {
        // SAFETY: forwarded contract.
        unsafe { clear_out(out, "out") }?;
        let dtype = from_code(dtype)?;
        // SAFETY: forwarded contract.
        let dims = unsafe { slice(shape, rank, "shape") }?;
        let dims = dims
            .iter()
            .enumerate()
            .map(|(axis, &d)| {
                usize::try_from(d)
                    .map_err(|_| invalid(format!("shape[{axis}] is {d}: sizes must be >= 0")))
            })
            .collect::<Result<Vec<usize>, Failure>>()?;
        let tensor = if data.is_null() {
            if byte_len != 0 {
                return Err(null("data"));
            }
            let bytes = mote::tensor::byte_len(dtype, &dims).map_err(from_error)?;
            probe_allocation(bytes)?;
            mote::Tensor::zeros(dtype, &dims).map_err(from_error)?
        } else {
            // SAFETY: forwarded contract (bytes need no alignment).
            let bytes = unsafe { slice(data.cast::<u8>(), byte_len, "data") }?;
            mote::Tensor::from_bytes(dtype, &dims, bytes).map_err(from_error)?
        };
        // SAFETY: `out` was checked non-null and writable by `clear_out`.
        unsafe { out.write(MoteTensor::new(tensor).into_raw()) };
        Ok(())
    })
}

/// Frees a tensor. NULL is a no-op.
///
/// # Safety
/// `tensor` must be NULL or a tensor handle not freed before, and no other call may be using
/// it.
#[no_mangle]
pub unsafe extern "C" fn mote_tensor_free(tensor: *mut MoteTensor) {
    if !tensor.is_null() {
        let _ = guard(|| {
            // SAFETY: the caller passes a pointer from Box::into_raw, freed once.
            drop(unsafe { Box::from_raw(tensor) });
            Ok(())
        });
    }
}

/// Writes the tensor's element type (a `MoteDtype` value) to `*dtype`.
///
/// # Safety
/// `tensor` must be NULL or a live tensor; `dtype` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn mote_tensor_dtype(
    tensor: *const MoteTensor,
    dtype: *mut i32,
) -> MoteStatus {
    guard(|| {
        if dtype.is_null() {
            return Err(null("dtype"));
        }
        // SAFETY: forwarded contract.
        let t = unsafe { handle(tensor, "tensor") }?;
        // SAFETY: non-null; the caller guarantees it writable.
        unsafe { dtype.write(code_of(Some(t.inner.dtype()))) };
        Ok(())
    })
}

/// Writes a pointer to the tensor's `*rank` sizes to `*dims` (valid while the tensor lives;
/// NULL-free even for rank 0).
///
/// # Safety
/// `tensor` must be NULL or a live tensor; `dims` and `rank` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn mote_tensor_shape(
    tensor: *const MoteTensor,
    dims: *mut *const i64,
    rank: *mut usize,
) -> MoteStatus {
    guard(|| {
        if dims.is_null() {
            return Err(null("dims"));
        }
        if rank.is_null() {
            return Err(null("rank"));
        }
        // SAFETY: forwarded contract.
        let t = unsafe { handle(tensor, "tensor") }?;
        // SAFETY: both non-null; the caller guarantees them writable.
        unsafe {
            dims.write(t.shape.as_ptr());
            rank.write(t.shape.len());
        }
        Ok(())
    })
}

/// Writes a read-only pointer to the tensor's bytes to `*data` and their number to
/// `*byte_len` (valid while the tensor lives and is not written).
///
/// # Safety
/// `tensor` must be NULL or a live tensor; `data` and `byte_len` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn mote_tensor_data(
    tensor: *const MoteTensor,
    data: *mut *const c_void,
    byte_len: *mut usize,
) -> MoteStatus {
    guard(|| {
        if data.is_null() {
            return Err(null("data"));
        }
        if byte_len.is_null() {
            return Err(null("byte_len"));
        }
        // SAFETY: forwarded contract.
        let t = unsafe { handle(tensor, "tensor") }?;
        let bytes = t.inner.bytes();
        // SAFETY: both non-null; the caller guarantees them writable.
        unsafe {
            data.write(bytes.as_ptr().cast());
            byte_len.write(bytes.len());
        }
        Ok(())
    })
}

/// Writes a writable pointer to the tensor's bytes to `*data` and their number to
/// `*byte_len` (valid while the tensor lives), to fill an input in place.
///
/// # Safety
/// `tensor` must be NULL or a live tensor no other call is using; `data` and `byte_len`
/// NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn mote_tensor_data_mut(
    tensor: *mut MoteTensor,
    data: *mut *mut c_void,
    byte_len: *mut usize,
) -> MoteStatus {
    guard(|| {
        if data.is_null() {
            return Err(null("data"));
        }
        if byte_len.is_null() {
            return Err(null("byte_len"));
        }
        // SAFETY: NULL is handled; the caller guarantees a live tensor used by no one else.
        let t = unsafe { tensor.as_mut() }.ok_or_else(|| null("tensor"))?;
        let bytes = t.inner.view_mut().bytes;
        // SAFETY: both non-null; the caller guarantees them writable.
        unsafe {
            data.write(bytes.as_mut_ptr().cast());
            byte_len.write(bytes.len());
        }
        Ok(())
    })
}

/// Refuses a zero-filled allocation the system cannot make. The runtime's buffers abort the
/// process when an allocation fails, and a caller can ask for any size here; a fallible
/// reservation of the same size (released at once, its pages never touched) turns the
/// impossible ones into OUT_OF_MEMORY.
fn probe_allocation(bytes: usize) -> Result<(), Failure> {
    let mut probe: Vec<u8> = Vec::new();
    probe.try_reserve_exact(bytes).map_err(|_| {
        (
            MoteStatus::OutOfMemory,
            format!("cannot allocate a {bytes}-byte tensor"),
        )
    })
}
