"""Exceptions: one class per MoteStatus, raised with the library's per-thread message."""

from . import _lib


class MoteError(Exception):
    """A failed libmote call. ``status`` is the MoteStatus number, ``message`` the text."""

    status = None

    def __init__(self, message, status=None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status

    @property
    def status_name(self):
        """The library's name for the status ("shape mismatch"...)."""
        return _lib.lib.mote_status_str(self.status or 0).decode()


def _status_class(name, status, doc):
    return type(name, (MoteError,), {"status": status, "__doc__": doc})


NullPointerError = _status_class("NullPointerError", 1, "A required pointer was NULL.")
InvalidArgumentError = _status_class("InvalidArgumentError", 2, "An argument was invalid.")
InvalidModelError = _status_class("InvalidModelError", 3, "The model is malformed.")
UnsupportedError = _status_class("UnsupportedError", 4, "An operator or type Mote lacks.")
ShapeMismatchError = _status_class("ShapeMismatchError", 5, "A tensor shape did not match.")
DtypeMismatchError = _status_class("DtypeMismatchError", 6, "An element type did not match.")
MoteIOError = _status_class("MoteIOError", 7, "File or stream I/O failed.")
BackendUnavailableError = _status_class(
    "BackendUnavailableError", 8, "A requested backend is not available."
)
OutOfMemoryError = _status_class("OutOfMemoryError", 9, "An allocation was refused.")
CorruptFileError = _status_class("CorruptFileError", 10, "A corrupt .mote file.")
InternalError = _status_class("InternalError", 11, "A bug inside Mote.")
PanicError = _status_class("PanicError", 12, "A panic caught at the boundary (a bug).")
BufferTooSmallError = _status_class("BufferTooSmallError", 13, "A buffer is too small.")
SessionBusyError = _status_class(
    "SessionBusyError", 14, "The session is running a call on another thread."
)
AbiMismatchError = _status_class("AbiMismatchError", 15, "Built against another ABI.")
# A subclass of OutOfMemoryError: ``except mote.OutOfMemoryError`` catches both.
MemoryLimitError = type(
    "MemoryLimitError",
    (OutOfMemoryError,),
    {
        "status": 16,
        "__doc__": "A run's plan would exceed the session's memory_limit_bytes "
        "(nothing was allocated; smaller inputs still run).",
    },
)

_BY_STATUS = {
    cls.status: cls
    for cls in (
        NullPointerError,
        InvalidArgumentError,
        InvalidModelError,
        UnsupportedError,
        ShapeMismatchError,
        DtypeMismatchError,
        MoteIOError,
        BackendUnavailableError,
        OutOfMemoryError,
        CorruptFileError,
        InternalError,
        PanicError,
        BufferTooSmallError,
        SessionBusyError,
        AbiMismatchError,
        MemoryLimitError,
    )
}


def check(status):
    """Raises the exception for a non-OK status, with this thread's mote_last_error()."""
    if status == 0:
        return
    message = _lib.lib.mote_last_error().decode("utf-8", "replace")
    cls = _BY_STATUS.get(status, MoteError)
    raise cls(message, status)
