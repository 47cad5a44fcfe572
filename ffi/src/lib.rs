//! `libmote`: the C ABI over the `mote` runtime.
//!
//! Contract (kept for every function): fallible functions return a [`MoteStatus`]; out-params
//! are written only on success and set to NULL on failure; the message of the last failure on
//! this thread is `mote_last_error()`. No panic crosses the boundary: every entry point runs
//! inside `catch_unwind` and reports `MOTE_STATUS_PANIC`.
//!
//! This is the first slice of the ABI (version, status, model loading and introspection);
//! sessions and tensors arrive with the deployment issue.

#![allow(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod boundary;
mod model;
mod status;
mod version;

#[cfg(test)]
mod tests;

pub use model::{
    mote_model_free, mote_model_input_count, mote_model_load_file, mote_model_output_count,
    MoteModel,
};
pub use status::{mote_last_error, mote_status_str, MoteStatus};
pub use version::{mote_abi_version, mote_version};
