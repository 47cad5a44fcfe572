//! `libmote`: the C ABI over the `mote` runtime.
//!
//! Contract (kept for every function): fallible functions return a [`MoteStatus`]; out-params
//! are written only on success, and handle out-params are set to NULL on failure; the
//! message of the last failure on this thread is `mote_last_error()`. No panic crosses the
//! boundary: every entry point runs inside `catch_unwind` (`boundary::guard`) and reports
//! `MOTE_STATUS_PANIC`. Handles are boxes handed out as raw pointers and freed by their
//! `_free` function; structs that may grow start with `struct_size` (`sized.rs`).
//!
//! Data flow: bytes or a path -> `MoteModel` (immutable, shared by threads) -> `MoteSession`
//! (one per thread) -> run over `MoteTensor` inputs -> `MoteTensor` outputs or the caller's
//! `MoteOutputBuffer`s.

#![allow(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod boundary;
mod dtype;
mod info;
mod model;
mod options;
mod output;
mod session;
mod sized;
mod status;
mod tensor;
mod version;

#[cfg(test)]
mod tests;

pub use dtype::{mote_dtype_name, mote_dtype_size, MoteDtype};
pub use info::MoteTensorInfo;
pub use model::{
    mote_model_free, mote_model_input_count, mote_model_input_index, mote_model_input_info,
    mote_model_load_file, mote_model_load_memory, mote_model_output_count, mote_model_output_index,
    mote_model_output_info, MoteModel,
};
pub use options::{mote_session_options_init, MoteSessionOptions};
pub use output::MoteOutputBuffer;
pub use session::{
    mote_session_free, mote_session_new, mote_session_run, mote_session_run_into, MoteSession,
};
pub use status::{mote_last_error, mote_status_str, MoteStatus};
pub use tensor::{
    mote_tensor_data, mote_tensor_data_mut, mote_tensor_dtype, mote_tensor_free, mote_tensor_new,
    mote_tensor_shape, MoteTensor,
};
pub use version::{
    mote_abi_version, mote_version, MOTE_ABI_VERSION, MOTE_VERSION_MAJOR, MOTE_VERSION_MINOR,
    MOTE_VERSION_PATCH,
};
