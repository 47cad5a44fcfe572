//! `calibrate`'s error: what went wrong, in words a user can act on.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The Mote runtime refused the model or a run.
    #[error(transparent)]
    Runtime(#[from] mote::Error),
    /// A model file that cannot be read or edited as ONNX.
    #[error("ONNX model: {0}")]
    Onnx(String),
    /// Calibration data that does not fit the model (missing input, wrong shape or dtype,
    /// unreadable file...).
    #[error("calibration data: {0}")]
    Data(String),
    /// A calibration table file that cannot be parsed or does not fit the model.
    #[error("calibration table: {0}")]
    Table(String),
    /// Options that contradict each other or the model.
    #[error("{0}")]
    Usage(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
