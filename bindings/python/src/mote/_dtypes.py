"""MoteDtype codes and their numpy dtypes.

Types numpy lacks (bfloat16, the 8- and 4-bit floats, 4- and 2-bit integers) are carried
as their raw storage: bf16 as uint16 bits, the others one byte per element, as mote.h
stores them. Such an output comes back as that storage dtype; an input of such a type is
given as an array of the storage dtype.
"""

import numpy as np

from . import _errors, _lib

UNKNOWN = 0

# code: numpy dtype with the same values (bool is one byte 0/1 in both).
_EXACT = {
    1: np.float32,
    2: np.uint8,
    3: np.int8,
    4: np.uint16,
    5: np.int16,
    6: np.int32,
    7: np.int64,
    9: np.bool_,
    10: np.float16,
    11: np.float64,
    12: np.uint32,
    13: np.uint64,
}
# code: raw storage dtype, for the types numpy has no dtype for.
_RAW = {16: np.uint16, **{code: np.uint8 for code in range(17, 27)}}

_CODE_OF = {np.dtype(t): code for code, t in _EXACT.items()}


def name(code):
    """Mote's name for a code ("f32", "bf16"...)."""
    return _lib.lib.mote_dtype_name(code).decode()


def numpy_dtype(code):
    """The numpy dtype for a code: exact where numpy has one, else the raw storage dtype;
    None for UNKNOWN."""
    t = _EXACT.get(code) or _RAW.get(code)
    return None if t is None else np.dtype(t)


def is_raw(code):
    """Whether numpy_dtype(code) holds raw bits rather than the values."""
    return code in _RAW


def code_for(array_dtype, declared):
    """The code for an input array: the declared raw type when the array holds its storage,
    else the code of the array's own dtype (the library checks it against the model)."""
    if is_raw(declared) and np.dtype(array_dtype) == numpy_dtype(declared):
        return declared
    code = _CODE_OF.get(np.dtype(array_dtype))
    if code is None:
        raise _errors.DtypeMismatchError(
            f"numpy dtype {np.dtype(array_dtype)} has no Mote element type", 6
        )
    return code
