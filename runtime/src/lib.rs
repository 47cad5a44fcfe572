//! # Mote
//!
//! An embedded inference runtime. Data flows one way:
//!
//! ```text
//! ONNX bytes -> import (ONNX semantics, tract's protobuf layer only) -> ir::Graph
//!   -> passes (fold constants, dead code, types) [= what a `.mote` file stores] -> Plan (concrete shapes, folding,
//!   static arena slots) -> backend (cpu) -> outputs
//! ```
//!
//! What this crate must not know: instruction sets (no intrinsics, no CPU-feature checks:
//! kernels live in `mote-kernels` and are chosen there) and tract types outside
//! `import::onnx`.
//!
//! ```no_run
//! use mote::{Model, SessionOptions, Tensor};
//! let model = Model::load("model.onnx")?;
//! let mut session = model.session(SessionOptions::default())?;
//! let x = Tensor::from_vec(&[1, 4], vec![1.0f32, 2.0, 3.0, 4.0])?;
//! let outputs = session.run(&[("x", &x)])?;
//! # Ok::<(), mote::Error>(())
//! ```

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod backend;
mod error;
pub mod format;
pub mod import;
pub mod ir;
#[cfg(feature = "npy")]
pub mod npy;
pub mod passes;
pub mod plan;
pub mod profile;
mod session;
pub mod tensor;

pub use backend::BackendKind;
pub use error::{Error, ErrorKind, Result};
pub use profile::{OpRecord, Profile};
pub use session::{format_dims, Model, Session, SessionOptions};
pub use tensor::{DType, Tensor, TensorView};

/// ONNX helpers for tools (test data files).
#[cfg(feature = "onnx")]
pub mod onnx {
    pub use crate::import::onnx::{
        read_tensor_file, survey, tensor_to_proto_bytes, Survey, MAX_OPSET,
    };
}
