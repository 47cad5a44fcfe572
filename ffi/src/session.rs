//! Sessions: creating them and running them, with outputs the library allocates or buffers
//! the caller provides.

use crate::boundary::{clear_out, from_error, guard, handle, invalid, null, slice, Failure};
use crate::model::MoteModel;
use crate::options::{to_runtime, MoteSessionOptions};
use crate::output::{copy_outputs, MoteOutputBuffer};
use crate::status::MoteStatus;
use crate::tensor::MoteTensor;
use std::sync::{Mutex, TryLockError};

/// An opaque session: runs one model with fixed options, caching a plan per set of input
/// shapes. A session runs one call at a time: a call made while another thread is inside a
/// call on the same session returns SESSION_BUSY (it never blocks or races). A session may be
/// used from different threads one after the other. For parallel runs, create one session
/// per thread from the same model.
pub struct MoteSession {
    /// The lock turns concurrent misuse into SESSION_BUSY instead of a data race; it is
    /// uncontended in correct use, so it costs one atomic operation per run.
    pub(crate) inner: Mutex<mote::Session>,
    outputs: usize,
}

// What the header promises rests on these: a session may move between threads (and its
// lock may be taken from any thread), a model may be shared by threads.
const _: () = {
    const fn send<T: Send>() {}
    const fn send_sync<T: Send + Sync>() {}
    send::<mote::Session>();
    send_sync::<mote::Model>();
    send_sync::<Mutex<mote::Session>>();
    send_sync::<mote::Tensor>();
};

/// Creates a session over `model` in `*out`. `options` may be NULL for the defaults (one
/// thread, CPU). The session does not borrow the model: the model may be freed first.
///
/// # Safety
/// `model` must be NULL or a live model; `options` NULL or an initialised
/// `MoteSessionOptions` (see `mote_session_options_init`); `out` NULL or valid for a pointer
/// write.
#[no_mangle]
pub unsafe extern "C" fn mote_session_new(
    model: *const MoteModel,
    options: *const MoteSessionOptions,
    out: *mut *mut MoteSession,
) -> MoteStatus {
    guard(|| {
        // SAFETY: forwarded contract.
        unsafe { clear_out(out, "out") }?;
        // SAFETY: forwarded contract.
        let model = unsafe { handle(model, "model") }?;
        // SAFETY: forwarded contract.
        let options = unsafe { to_runtime(options) }?;
        let session = model.inner.session(options).map_err(from_error)?;
        let boxed = Box::into_raw(Box::new(MoteSession {
            inner: Mutex::new(session),
            outputs: model.inner.outputs().len(),
        }));
        // SAFETY: `out` was checked non-null and writable by `clear_out`.
        unsafe { out.write(boxed) };
        Ok(())
    })
}

/// Frees a session (and stops its worker threads). NULL is a no-op.
///
/// # Safety
/// `session` must be NULL or a session handle not freed before, and no other call may be
/// using it.
#[no_mangle]
pub unsafe extern "C" fn mote_session_free(session: *mut MoteSession) {
    if !session.is_null() {
        let _ = guard(|| {
            // SAFETY: the caller passes a pointer from Box::into_raw, freed once.
            drop(unsafe { Box::from_raw(session) });
            Ok(())
        });
    }
}

/// Runs the session on `inputs[0..n_inputs]` (in the model's input order, see
/// `mote_model_input_index`) and writes one new tensor per model output to
/// `outputs[0..n_outputs]` (in the model's output order; `n_outputs` must be the model's
/// output count). The caller frees each with `mote_tensor_free`. On failure every
/// `outputs[i]` is NULL.
///
/// # Safety
/// `session` must be NULL or a live session; `inputs` NULL or valid for reads of `n_inputs`
/// pointers, each NULL or a live tensor; `outputs` NULL or valid for writes of `n_outputs`
/// pointers.
#[no_mangle]
pub unsafe extern "C" fn mote_session_run(
    session: *const MoteSession,
    inputs: *const *const MoteTensor,
    n_inputs: usize,
    outputs: *mut *mut MoteTensor,
    n_outputs: usize,
) -> MoteStatus {
    guard(|| {
        if outputs.is_null() && n_outputs != 0 {
            return Err(null("outputs"));
        }
        if !outputs.is_aligned() {
            return Err(invalid("argument 'outputs' is misaligned"));
        }
        for i in 0..n_outputs {
            // SAFETY: the caller guarantees `n_outputs` writable pointers (checked non-null).
            unsafe { outputs.add(i).write(std::ptr::null_mut()) };
        }
        // SAFETY: forwarded contract.
        let s = unsafe { handle(session, "session") }?;
        check_output_count(s, n_outputs)?;
        // SAFETY: forwarded contract.
        let results = unsafe { run(s, inputs, n_inputs) }?;
        for (i, tensor) in results.into_iter().enumerate() {
            // SAFETY: `i < n_outputs` (checked count); the caller guarantees them writable.
            unsafe { outputs.add(i).write(MoteTensor::new(tensor).into_raw()) };
        }
        Ok(())
    })
}

/// Runs the session on `inputs[0..n_inputs]` (as `mote_session_run`) and copies output `i`
/// into the caller's `outputs[i]` (`n_outputs` must be the model's output count). Every
/// buffer gets its output's `size`, `rank` and `dtype`, and its `shape` when
/// `shape_capacity >= rank`. If any output does not fit (`capacity < size`, or a non-NULL
/// `shape` with `shape_capacity < rank`) the call copies no data and returns
/// BUFFER_TOO_SMALL, naming the needed sizes in `mote_last_error()`; grow and call again.
///
/// # Safety
/// As `mote_session_run` for `session` and `inputs`; `outputs` NULL or valid for reads and
/// writes of `n_outputs` structs of `outputs[0].struct_size` bytes each, whose `data` and
/// `shape` point to `capacity` writable bytes and `shape_capacity` writable values.
#[no_mangle]
pub unsafe extern "C" fn mote_session_run_into(
    session: *const MoteSession,
    inputs: *const *const MoteTensor,
    n_inputs: usize,
    outputs: *mut MoteOutputBuffer,
    n_outputs: usize,
) -> MoteStatus {
    guard(|| {
        // SAFETY: forwarded contract.
        let s = unsafe { handle(session, "session") }?;
        check_output_count(s, n_outputs)?;
        if outputs.is_null() && n_outputs != 0 {
            return Err(null("outputs"));
        }
        // SAFETY: forwarded contract.
        let results = unsafe { run(s, inputs, n_inputs) }?;
        // SAFETY: forwarded contract.
        unsafe { copy_outputs(&results, outputs) }
    })
}

fn check_output_count(s: &MoteSession, n_outputs: usize) -> Result<(), Failure> {
    if n_outputs != s.outputs {
        return Err(invalid(format!(
            "n_outputs is {n_outputs}, the model has {} outputs",
            s.outputs
        )));
    }
    Ok(())
}

/// Runs the session on the caller's input handles.
///
/// # Safety
/// `inputs` must be NULL or valid for reads of `n_inputs` pointers, each NULL or a live
/// tensor not written during the call.
unsafe fn run(
    s: &MoteSession,
    inputs: *const *const MoteTensor,
    n_inputs: usize,
) -> Result<Vec<mote::Tensor>, Failure> {
    if inputs.is_null() && n_inputs != 0 {
        return Err(null("inputs"));
    }
    // SAFETY: forwarded contract.
    let handles = unsafe { slice(inputs, n_inputs, "inputs") }?;
    let tensors = handles
        .iter()
        .enumerate()
        // SAFETY: forwarded contract: each pointer is NULL or a live tensor.
        .map(|(i, &t)| unsafe { handle(t, &format!("inputs[{i}]")) }.map(|t| &t.inner))
        .collect::<Result<Vec<&mote::Tensor>, Failure>>()?;
    let mut session = match s.inner.try_lock() {
        Ok(session) => session,
        Err(TryLockError::WouldBlock) => {
            return Err((
                MoteStatus::SessionBusy,
                "the session is running a call on another thread; a session runs one call at \
                 a time (create one session per thread)"
                    .into(),
            ))
        }
        // A panic inside an earlier run may have left the session's plan cache half-built.
        Err(TryLockError::Poisoned(_)) => {
            return Err((
                MoteStatus::Internal,
                "an earlier call on this session panicked; free it and create a new one".into(),
            ))
        }
    };
    session.run_ordered(&tensors).map_err(from_error)
}
