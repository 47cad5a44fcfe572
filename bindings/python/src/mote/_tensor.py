"""numpy arrays to and from MoteTensor handles."""

import ctypes

import numpy as np

from . import _dtypes, _errors, _lib

_lib_ = _lib.lib


def to_tensor(array, declared):
    """A new MoteTensor with a copy of ``array`` (made C-contiguous and little-endian
    first if needed). ``declared`` is the model's dtype code for this input. The caller
    frees the returned handle."""
    array = np.asarray(array)
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    array = np.ascontiguousarray(array)
    code = _dtypes.code_for(array.dtype, declared)
    shape = (ctypes.c_int64 * array.ndim)(*array.shape)
    out = _lib.Handle()
    _errors.check(
        _lib_.mote_tensor_new(
            code, shape, array.ndim, array.ctypes.data if array.nbytes else None,
            array.nbytes, ctypes.byref(out),
        )
    )
    return out


def from_tensor(tensor):
    """A numpy array with a copy of a MoteTensor's contents (the handle stays the caller's)."""
    code = ctypes.c_int32()
    _errors.check(_lib_.mote_tensor_dtype(tensor, ctypes.byref(code)))
    dims = ctypes.POINTER(ctypes.c_int64)()
    rank = ctypes.c_size_t()
    _errors.check(_lib_.mote_tensor_shape(tensor, ctypes.byref(dims), ctypes.byref(rank)))
    shape = tuple(dims[i] for i in range(rank.value))
    data = ctypes.c_void_p()
    size = ctypes.c_size_t()
    _errors.check(_lib_.mote_tensor_data(tensor, ctypes.byref(data), ctypes.byref(size)))
    dtype = _dtypes.numpy_dtype(code.value)
    if dtype is None:
        raise _errors.InternalError(f"an output of unknown element type {code.value}", 11)
    result = np.empty(shape, dtype)
    if result.nbytes != size.value:
        raise _errors.InternalError(
            f"an output of shape {shape} and type {_dtypes.name(code.value)} has "
            f"{size.value} bytes, expected {result.nbytes}",
            11,
        )
    if size.value:
        ctypes.memmove(result.ctypes.data, data.value, size.value)
    return result
