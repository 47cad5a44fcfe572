//! Writing a model in the format the output path's extension names: `.onnx` (the ONNX model
//! as is) or `.mote` (Mote loads the ONNX model, folding QDQ into its integer ops, and saves
//! its own format).

use crate::onnx::{self, pb};
use crate::{Error, Result};
use std::path::Path;

/// The formats `-o` can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Onnx,
    Mote,
}

impl Format {
    /// The format named by `path`'s extension.
    pub fn of(path: &Path) -> Result<Format> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("onnx") => Ok(Format::Onnx),
            Some("mote") => Ok(Format::Mote),
            _ => Err(Error::Usage(format!(
                "{}: the output's extension picks the format; use .onnx or .mote",
                path.display()
            ))),
        }
    }
}

/// Writes `model` to `path` in the format its extension names; returns the bytes written.
pub fn write_model(model: &pb::ModelProto, path: &Path) -> Result<u64> {
    let format = Format::of(path)?;
    let bytes = onnx::encode(model);
    match format {
        Format::Onnx => std::fs::write(path, &bytes).map_err(|e| Error::io(path, e))?,
        Format::Mote => mote::Model::from_bytes(&bytes)?.save_mote(path)?,
    }
    Ok(std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len())
}
