"""Caller-provided numpy output arrays for Session.run_into: checked before the run (so a
misfit array is refused without running when the model's declaration suffices), described
to the library as MoteOutputBuffers, and checked against what the run produced."""

import ctypes
import sys

import numpy as np

from . import _dtypes, _errors, _lib

# Room for the concrete shape the library reports back; ranks above this are reported as
# too small by the library, never written past.
_SHAPE_ROOM = 64


def check_before(name, array, info, code):
    """Raises if ``array`` cannot receive output ``name`` (``info``/``code``: the model's
    declaration): not an ndarray, not writable, not C-contiguous, not native little-endian
    layout, a dtype other than the declared one, or a shape the declaration rules out."""
    if not isinstance(array, np.ndarray):
        raise TypeError(
            f"output {name!r}: run_into writes into numpy arrays, not {type(array).__name__}"
        )
    if not array.flags.writeable:
        raise _errors.InvalidArgumentError(f"output {name!r}: the array is read-only", 2)
    if not array.flags.c_contiguous:
        raise _errors.InvalidArgumentError(
            f"output {name!r}: the array is not C-contiguous (np.ascontiguousarray would "
            "copy it, and the values would not reach your array)",
            2,
        )
    byteorder = array.dtype.byteorder
    if byteorder == ">" or (byteorder == "=" and sys.byteorder != "little"):
        raise _errors.DtypeMismatchError(
            f"output {name!r}: the array is big-endian; Mote writes little-endian values", 6
        )
    expected = _dtypes.numpy_dtype(code)
    if expected is not None and array.dtype != expected:
        raise _errors.DtypeMismatchError(
            f"output {name!r} is {info.dtype_name} (numpy {expected}), the array is "
            f"{array.dtype}",
            6,
        )
    if info.shape is not None and not _fits(array.shape, info.shape):
        declared = tuple("?" if d is None else d for d in info.shape)
        raise _errors.ShapeMismatchError(
            f"output {name!r} has shape {declared} (? known at run time), the array has "
            f"shape {array.shape}",
            5,
        )


def _fits(shape, declared):
    return len(shape) == len(declared) and all(
        d is None or d == n for n, d in zip(shape, declared)
    )


class Buffers:
    """The MoteOutputBuffer array for ``arrays`` (which must stay alive while it is used)."""

    def __init__(self, arrays):
        self.arrays = arrays
        n = len(arrays)
        self.raw = (_lib.OutputBuffer * max(n, 1))()
        self._shapes = [(ctypes.c_int64 * _SHAPE_ROOM)() for _ in range(n)]
        for entry, array, shape in zip(self.raw, arrays, self._shapes):
            entry.struct_size = ctypes.sizeof(_lib.OutputBuffer)
            entry.data = array.ctypes.data if array.nbytes else None
            entry.capacity = array.nbytes
            entry.shape = ctypes.cast(shape, ctypes.POINTER(ctypes.c_int64))
            entry.shape_capacity = _SHAPE_ROOM

    def produced(self, i):
        """(numpy dtype or None, shape tuple or None) the run reported for output ``i``."""
        entry = self.raw[i]
        shape = None
        if entry.rank <= _SHAPE_ROOM:
            shape = tuple(self._shapes[i][d] for d in range(entry.rank))
        return _dtypes.numpy_dtype(entry.dtype), shape

    def check_after(self, names, nothing_written):
        """Raises if what the run produced does not fit its array: DtypeMismatchError if an
        element type differs, else ShapeMismatchError; the message names every misfit."""
        problems, dtype_differs = [], False
        for i, (name, array) in enumerate(zip(names, self.arrays)):
            dtype, shape = self.produced(i)
            if dtype != array.dtype or shape != array.shape:
                dtype_differs |= dtype != array.dtype
                got = "a rank above 64" if shape is None else f"shape {shape}"
                problems.append(
                    f"output {name!r} is {dtype} with {got}, the array is {array.dtype} with "
                    f"shape {array.shape}"
                )
        if not problems:
            return
        if nothing_written:
            detail = "; ".join(problems) + " (no output was written)"
        else:
            detail = "; ".join(problems) + " (the arrays' contents are unspecified)"
        if dtype_differs:
            raise _errors.DtypeMismatchError(detail, 6)
        raise _errors.ShapeMismatchError(detail, 5)
