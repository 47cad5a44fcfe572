"""Finds and loads libmote, and declares the C functions of include/mote.h to ctypes.

The library is looked for, in order, at the path in the ``MOTE_LIB`` environment variable
(an existing build, e.g. ``target/release/libmote.so``) and next to this file, where
``pip install`` puts the copy it built or bundled.
"""

import ctypes
import os
import sys
from pathlib import Path

#: The C ABI this module was written against (``MOTE_ABI_VERSION`` in mote.h).
ABI_VERSION = 1


def _library_name():
    if sys.platform == "darwin":
        return "libmote.dylib"
    if sys.platform == "win32":
        return "mote.dll"
    return "libmote.so"


def _find_library():
    env = os.environ.get("MOTE_LIB")
    if env:
        if not Path(env).is_file():
            raise ImportError(f"MOTE_LIB={env!r} is not a file")
        return env
    bundled = Path(__file__).resolve().parent / _library_name()
    if bundled.is_file():
        return str(bundled)
    raise ImportError(
        f"libmote not found: no {bundled} (pip install builds it) and MOTE_LIB is not set"
    )


class TensorInfo(ctypes.Structure):
    """``MoteTensorInfo``."""

    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("name", ctypes.c_char_p),
        ("dtype", ctypes.c_int32),
        ("rank", ctypes.c_int64),
        ("shape", ctypes.POINTER(ctypes.c_int64)),
        ("dim_names", ctypes.POINTER(ctypes.c_char_p)),
    ]


class SessionOptions(ctypes.Structure):
    """``MoteSessionOptions``."""

    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("abi_version", ctypes.c_uint32),
        ("threads", ctypes.c_uint32),
        ("backend", ctypes.c_char_p),
        ("memory_limit_bytes", ctypes.c_uint64),
    ]


class OutputBuffer(ctypes.Structure):
    """``MoteOutputBuffer``."""

    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("data", ctypes.c_void_p),
        ("capacity", ctypes.c_size_t),
        ("shape", ctypes.POINTER(ctypes.c_int64)),
        ("shape_capacity", ctypes.c_size_t),
        ("size", ctypes.c_size_t),
        ("rank", ctypes.c_size_t),
        ("dtype", ctypes.c_int32),
    ]


class _Opaque(ctypes.Structure):
    """Stands for the opaque handle types: only pointers to it are used."""


Handle = ctypes.POINTER(_Opaque)
_status = ctypes.c_int
_size = ctypes.c_size_t
_p_size = ctypes.POINTER(ctypes.c_size_t)
_p_handle = ctypes.POINTER(Handle)

# name: (restype, argtypes), in mote.h's order.
_SIGNATURES = {
    "mote_dtype_size": (_size, [ctypes.c_int32]),
    "mote_dtype_name": (ctypes.c_char_p, [ctypes.c_int32]),
    "mote_model_load_file": (_status, [ctypes.c_char_p, _p_handle]),
    "mote_model_load_memory": (_status, [ctypes.c_void_p, _size, _p_handle]),
    "mote_model_free": (None, [Handle]),
    "mote_model_input_count": (_status, [Handle, _p_size]),
    "mote_model_output_count": (_status, [Handle, _p_size]),
    "mote_model_input_index": (_status, [Handle, ctypes.c_char_p, _p_size]),
    "mote_model_output_index": (_status, [Handle, ctypes.c_char_p, _p_size]),
    "mote_model_input_info": (_status, [Handle, _size, ctypes.POINTER(TensorInfo)]),
    "mote_model_output_info": (_status, [Handle, _size, ctypes.POINTER(TensorInfo)]),
    "mote_session_options_init": (
        _status,
        [ctypes.POINTER(SessionOptions), _size, ctypes.c_uint32],
    ),
    "mote_session_new": (_status, [Handle, ctypes.POINTER(SessionOptions), _p_handle]),
    "mote_session_free": (None, [Handle]),
    "mote_session_run": (_status, [Handle, ctypes.POINTER(Handle), _size, _p_handle, _size]),
    "mote_session_run_into": (
        _status,
        [Handle, ctypes.POINTER(Handle), _size, ctypes.POINTER(OutputBuffer), _size],
    ),
    "mote_last_error": (ctypes.c_char_p, []),
    "mote_status_str": (ctypes.c_char_p, [ctypes.c_int]),
    "mote_tensor_new": (
        _status,
        [ctypes.c_int32, ctypes.POINTER(ctypes.c_int64), _size, ctypes.c_void_p, _size, _p_handle],
    ),
    "mote_tensor_free": (None, [Handle]),
    "mote_tensor_dtype": (_status, [Handle, ctypes.POINTER(ctypes.c_int32)]),
    "mote_tensor_shape": (
        _status,
        [Handle, ctypes.POINTER(ctypes.POINTER(ctypes.c_int64)), _p_size],
    ),
    "mote_tensor_data": (_status, [Handle, ctypes.POINTER(ctypes.c_void_p), _p_size]),
    "mote_version": (ctypes.c_char_p, []),
    "mote_abi_version": (ctypes.c_uint32, []),
}


def _load():
    path = _find_library()
    lib = ctypes.CDLL(path)  # CDLL releases the GIL during calls: sessions run in parallel.
    for name, (restype, argtypes) in _SIGNATURES.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    found = lib.mote_abi_version()
    if found != ABI_VERSION:
        raise ImportError(
            f"{path} implements the Mote C ABI {found}; this package needs {ABI_VERSION}"
        )
    return lib, path


lib, path = _load()
