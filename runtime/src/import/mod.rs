//! Model loading: bytes or a path in, a validated [`Graph`](crate::ir::Graph) out.

#[cfg(feature = "onnx")]
pub(crate) mod onnx;

use crate::ir::Graph;
use crate::{Error, ErrorKind, Result};
use std::path::Path;

/// Loads a model file (ONNX).
pub fn load_path(path: impl AsRef<Path>) -> Result<Graph> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| {
        Error::new(
            ErrorKind::Io,
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    load_bytes_in(&bytes, path.parent())
}

/// Loads a model from memory (external data, if any, cannot be resolved).
pub fn load_bytes(bytes: &[u8]) -> Result<Graph> {
    load_bytes_in(bytes, None)
}

#[allow(unused_variables)]
fn load_bytes_in(bytes: &[u8], dir: Option<&Path>) -> Result<Graph> {
    #[cfg(feature = "onnx")]
    return onnx::load(bytes, dir);
    #[cfg(not(feature = "onnx"))]
    Err(Error::new(
        ErrorKind::BackendUnavailable,
        "ONNX import is not compiled in (feature \"onnx\")",
    ))
}
