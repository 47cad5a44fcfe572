"""Model: a loaded model file or buffer and its input/output descriptions."""

import ctypes
import os
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from . import _dtypes, _errors, _lib
from ._handle import Handle

_lib_ = _lib.lib


@dataclass(frozen=True)
class TensorInfo:
    """A model input or output as the model declares it.

    ``dtype`` is a numpy dtype (None if the model does not declare it; raw storage for
    types numpy lacks, see ``dtype_name``); ``shape`` a tuple with None for dimensions only
    known at run time, or None when the rank is unknown; ``dim_names`` the symbols of those
    dimensions ("batch", "N", "?" when unnamed), None for fixed ones.
    """

    name: str
    dtype: Optional[np.dtype]
    dtype_name: str
    shape: Optional[Tuple[Optional[int], ...]]
    dim_names: Optional[Tuple[Optional[str], ...]]


def _describe(model, index, info_fn):
    """(the dtype code, the TensorInfo) of one input or output."""
    info = _lib.TensorInfo()
    info.struct_size = ctypes.sizeof(_lib.TensorInfo)
    _errors.check(info_fn(model, index, ctypes.byref(info)))
    if info.rank < 0:
        shape = dim_names = None
    else:
        shape = tuple(None if info.shape[d] < 0 else info.shape[d] for d in range(info.rank))
        dim_names = tuple(
            None if info.shape[d] >= 0 else info.dim_names[d].decode()
            for d in range(info.rank)
        )
    return info.dtype, TensorInfo(
        name=info.name.decode(),
        dtype=_dtypes.numpy_dtype(info.dtype),
        dtype_name=_dtypes.name(info.dtype),
        shape=shape,
        dim_names=dim_names,
    )


def _describe_all(model, count_fn, info_fn):
    """(the dtype codes, the TensorInfos) of every input or output."""
    count = ctypes.c_size_t()
    _errors.check(count_fn(model, ctypes.byref(count)))
    described = [_describe(model, i, info_fn) for i in range(count.value)]
    return tuple(code for code, _ in described), tuple(info for _, info in described)


class Model:
    """A loaded model: ``Model(path)`` (str or os.PathLike) or ``Model(data)`` (bytes-like:
    the bytes are read during the call only).

    ``close()`` (or leaving a ``with`` block) frees it; sessions made from it stay usable.
    """

    def __init__(self, source):
        out = _lib.Handle()
        if isinstance(source, (str, os.PathLike)):
            path = os.fsencode(source)
            _errors.check(_lib_.mote_model_load_file(path, ctypes.byref(out)))
        else:
            data = memoryview(source).cast("B")  # TypeError for what is not bytes-like
            buf = (ctypes.c_char * len(data)).from_buffer_copy(data) if len(data) else None
            _errors.check(_lib_.mote_model_load_memory(buf, len(data), ctypes.byref(out)))
        self._handle = Handle(out, _lib_.mote_model_free, "model")
        with self._handle.use() as h:
            self._input_codes, self._inputs = _describe_all(
                h, _lib_.mote_model_input_count, _lib_.mote_model_input_info
            )
            self._output_codes, self._outputs = _describe_all(
                h, _lib_.mote_model_output_count, _lib_.mote_model_output_info
            )

    @property
    def inputs(self):
        """The inputs, in the model's order (a tuple of TensorInfo)."""
        return self._inputs

    @property
    def outputs(self):
        """The outputs, in the model's order (a tuple of TensorInfo)."""
        return self._outputs

    def session(self, threads=1, backend=None, memory_limit_bytes=0):
        """A new Session over this model with ``threads`` worker threads (1 = the calling
        thread only) on ``backend`` (None or "cpu"). ``memory_limit_bytes`` bounds what the
        session holds for its plans (arena and folded constants; 0 = unlimited): a run
        whose plan exceeds it raises MemoryLimitError."""
        from ._session import Session

        return Session(
            self, threads=threads, backend=backend, memory_limit_bytes=memory_limit_bytes
        )

    @property
    def closed(self):
        return self._handle.closed

    def close(self):
        """Frees the model now (idempotent)."""
        self._handle.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        handle = getattr(self, "_handle", None)  # absent when __init__ raised
        if handle is not None:
            handle.close()

    def __repr__(self):
        state = "closed" if self.closed else f"{len(self._inputs)} in, {len(self._outputs)} out"
        return f"<mote.Model {state}>"
