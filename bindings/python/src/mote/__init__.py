"""Mote: on-device inference, from Python (numpy in and out) over libmote's C ABI.

    import mote, numpy as np
    with mote.Model("digits_mlp.onnx") as model, model.session(threads=2) as session:
        probs = session.run({"pixels": np.zeros((1, 64), np.float32)})["probabilities"]
"""

from . import _lib
from ._errors import (
    AbiMismatchError,
    BackendUnavailableError,
    BufferTooSmallError,
    CorruptFileError,
    DtypeMismatchError,
    InternalError,
    InvalidArgumentError,
    InvalidModelError,
    MemoryLimitError,
    MoteError,
    MoteIOError,
    NullPointerError,
    OutOfMemoryError,
    PanicError,
    SessionBusyError,
    ShapeMismatchError,
    UnsupportedError,
)
from ._model import Model, TensorInfo
from ._session import Session

#: The C ABI version this package speaks (checked against the library on import).
ABI_VERSION = _lib.ABI_VERSION
#: The path of the libmote this package loaded.
library_path = _lib.path


def version():
    """The loaded library's version, "MAJOR.MINOR.PATCH"."""
    return _lib.lib.mote_version().decode()


__all__ = [
    "ABI_VERSION",
    "AbiMismatchError",
    "BackendUnavailableError",
    "BufferTooSmallError",
    "CorruptFileError",
    "DtypeMismatchError",
    "InternalError",
    "InvalidArgumentError",
    "InvalidModelError",
    "MemoryLimitError",
    "Model",
    "MoteError",
    "MoteIOError",
    "NullPointerError",
    "OutOfMemoryError",
    "PanicError",
    "Session",
    "SessionBusyError",
    "ShapeMismatchError",
    "TensorInfo",
    "UnsupportedError",
    "library_path",
    "version",
]
