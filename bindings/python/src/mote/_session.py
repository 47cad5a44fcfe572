"""Session: runs a model on numpy arrays."""

import ctypes

import numpy as np

from . import _errors, _lib, _outputs, _tensor
from ._handle import Handle

_lib_ = _lib.lib


class Session:
    """Runs one model with fixed options; make it with ``Model.session()``.

    A session runs one call at a time (a call while another thread runs it raises
    SessionBusyError); for parallel runs use one session per thread. It does not need the
    model to stay open.
    """

    def __init__(self, model, threads=1, backend=None, memory_limit_bytes=0):
        options = _lib.SessionOptions()
        _errors.check(
            _lib_.mote_session_options_init(
                ctypes.byref(options), ctypes.sizeof(options), _lib.ABI_VERSION
            )
        )
        if not isinstance(threads, int) or isinstance(threads, bool) or threads < 0:
            raise _errors.InvalidArgumentError(f"threads must be an integer >= 1, not {threads!r}", 2)
        # Larger than uint32 stays larger (the library caps threads and names the limit).
        options.threads = min(threads, 2**32 - 1)
        options.backend = None if backend is None else backend.encode()
        if (
            not isinstance(memory_limit_bytes, int)
            or isinstance(memory_limit_bytes, bool)
            or not 0 <= memory_limit_bytes < 2**64
        ):
            raise _errors.InvalidArgumentError(
                "memory_limit_bytes must be an integer from 0 (unlimited) to 2**64 - 1, "
                f"not {memory_limit_bytes!r}",
                2,
            )
        options.memory_limit_bytes = memory_limit_bytes
        out = _lib.Handle()
        with model._handle.use() as h:
            _errors.check(_lib_.mote_session_new(h, ctypes.byref(options), ctypes.byref(out)))
        self._handle = Handle(out, _lib_.mote_session_free, "session")
        self._inputs = model.inputs
        self._input_codes = model._input_codes
        self._outputs = model.outputs
        self._output_codes = model._output_codes

    @property
    def inputs(self):
        return self._inputs

    @property
    def outputs(self):
        return self._outputs

    def _ordered(self, inputs):
        """The arrays in the model's input order, from a dict by name or a sequence."""
        if isinstance(inputs, dict):
            names = [i.name for i in self._inputs]
            unknown = [k for k in inputs if k not in names]
            if unknown:
                raise _errors.InvalidArgumentError(
                    f"the model has no input {unknown[0]!r} (inputs: {', '.join(names)})", 2
                )
            missing = [n for n in names if n not in inputs]
            if missing:
                raise _errors.InvalidArgumentError(f"missing input {missing[0]!r}", 2)
            return [inputs[n] for n in names]
        if isinstance(inputs, np.ndarray):  # list() would split it into rows
            raise TypeError("Session.run takes [array, ...] or {name: array}, not an array")
        arrays = list(inputs)
        if len(arrays) != len(self._inputs):
            raise _errors.InvalidArgumentError(
                f"{len(arrays)} inputs given, the model has {len(self._inputs)}", 2
            )
        return arrays

    def _input_tensors(self, arrays, tensors):
        """Fills ``tensors`` (a ctypes Handle array the caller frees) with copies of
        ``arrays``, naming the input in any error."""
        for i, (array, info, code) in enumerate(zip(arrays, self._inputs, self._input_codes)):
            try:
                tensors[i] = _tensor.to_tensor(array, code)
            except _errors.MoteError as e:
                raise type(e)(f"input {info.name!r}: {e.message}", e.status) from None

    def run(self, inputs):
        """Runs on ``inputs`` ({name: array} or [array, ...] in the model's input order)
        and returns new numpy arrays: {name: array} for a dict, else a list in the model's
        output order. Arrays are copied (made contiguous as needed); their dtypes must be
        the model's (no conversion: DtypeMismatchError)."""
        arrays = self._ordered(inputs)
        n_in, n_out = len(arrays), len(self._outputs)
        tensors = (_lib.Handle * max(n_in, 1))()
        outputs = (_lib.Handle * max(n_out, 1))()
        try:
            self._input_tensors(arrays, tensors)
            with self._handle.use() as h:
                _errors.check(_lib_.mote_session_run(h, tensors, n_in, outputs, n_out))
            results = [_tensor.from_tensor(outputs[i]) for i in range(n_out)]
        finally:
            for t in list(tensors) + list(outputs):
                _lib_.mote_tensor_free(t)  # NULL entries are a no-op
        if isinstance(inputs, dict):
            return {info.name: r for info, r in zip(self._outputs, results)}
        return results

    def _ordered_outputs(self, outputs):
        """The output arrays in the model's output order, from a dict or a sequence."""
        names = [o.name for o in self._outputs]
        if isinstance(outputs, dict):
            unknown = [k for k in outputs if k not in names]
            if unknown:
                raise _errors.InvalidArgumentError(
                    f"the model has no output {unknown[0]!r} (outputs: {', '.join(names)})", 2
                )
            missing = [n for n in names if n not in outputs]
            if missing:
                raise _errors.InvalidArgumentError(f"missing output array {missing[0]!r}", 2)
            return [outputs[n] for n in names]
        if isinstance(outputs, np.ndarray):
            raise TypeError("Session.run_into takes [array, ...] or {name: array} outputs")
        arrays = list(outputs)
        if len(arrays) != len(names):
            raise _errors.InvalidArgumentError(
                f"{len(arrays)} output arrays given, the model has {len(names)} outputs", 2
            )
        return arrays

    def run_into(self, inputs, outputs):
        """Runs on ``inputs`` (as ``run``) and writes the results into the caller's numpy
        arrays ``outputs`` ({name: array} or [array, ...] in the model's output order), one
        per model output, with no new output arrays.

        Each array must be writable, C-contiguous, little-endian, of the output's dtype and
        of the output's exact shape for these inputs. What the model's declaration rules out
        is refused before running (InvalidArgumentError, DtypeMismatchError,
        ShapeMismatchError, TypeError for a non-array); a run whose outputs turn out to
        have another shape raises ShapeMismatchError naming every misfit, and then the
        arrays' contents are unspecified."""
        arrays = self._ordered(inputs)
        out_arrays = self._ordered_outputs(outputs)
        names = [o.name for o in self._outputs]
        for name, array, info, code in zip(names, out_arrays, self._outputs, self._output_codes):
            _outputs.check_before(name, array, info, code)
        buffers = _outputs.Buffers(out_arrays)
        n_in = len(arrays)
        tensors = (_lib.Handle * max(n_in, 1))()
        try:
            self._input_tensors(arrays, tensors)
            with self._handle.use() as h:
                status = _lib_.mote_session_run_into(
                    h, tensors, n_in, buffers.raw, len(out_arrays)
                )
        finally:
            for t in tensors:
                _lib_.mote_tensor_free(t)
        if status not in (0, _errors.BufferTooSmallError.status):
            _errors.check(status)
        # Too small means some array has fewer bytes than its output, so some shape or dtype
        # differs: named here in the array's terms rather than bytes.
        buffers.check_after(names, nothing_written=status != 0)
        if status != 0:
            _errors.check(status)  # a too-small buffer whose shape matched: not expected

    @property
    def closed(self):
        return self._handle.closed

    def close(self):
        """Frees the session now (idempotent)."""
        self._handle.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        handle = getattr(self, "_handle", None)
        if handle is not None:
            handle.close()

    def __repr__(self):
        return f"<mote.Session {'closed' if self.closed else 'open'}>"

