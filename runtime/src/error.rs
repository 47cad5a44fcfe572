//! One error type for the whole runtime: a kind to match on, and context a person can read.

use std::fmt;

/// What went wrong, coarsely; stable enough to map onto C status codes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The model file is not a valid model (bad protobuf, dangling names, cycles...).
    InvalidModel,
    /// An operator (or an attribute/dtype combination of it) that Mote does not implement.
    UnsupportedOp {
        /// ONNX op type (or IR op name).
        op: String,
        /// Node name, opset and reason.
        detail: String,
    },
    /// A tensor shape that does not fit what an op or input expects.
    ShapeMismatch,
    /// A tensor element type that does not fit what an op or input expects.
    DTypeMismatch,
    /// A `.mote` file that fails its checks.
    CorruptFile,
    /// The requested backend is not compiled in or not usable on this machine.
    BackendUnavailable,
    /// File or stream I/O.
    Io,
    /// A named input or output that the model does not have, or a missing required one.
    InvalidArgument,
    /// An allocation the runtime refused to make (sizes out of range).
    OutOfMemory,
    /// Planning a run would take the session past its [`crate::SessionOptions::memory_limit`]
    /// (checked before the memory is allocated).
    MemoryLimitExceeded,
    /// A broken invariant inside Mote: a bug, reported instead of a panic.
    Internal,
}

/// The runtime's error: a kind plus a human-readable context chain.
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    context: String,
}

/// `Result` with Mote's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Builds an error of `kind` with a message.
    pub fn new(kind: ErrorKind, context: impl Into<String>) -> Self {
        Error {
            kind,
            context: context.into(),
        }
    }
    /// The kind, to match on.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }
    /// The message (without the kind prefix).
    pub fn context(&self) -> &str {
        &self.context
    }
    /// Prepends a higher-level context ("while running node X: ...").
    pub fn context_with(mut self, outer: impl fmt::Display) -> Self {
        self.context = format!("{outer}: {}", self.context);
        self
    }
    /// Shorthand for [`ErrorKind::InvalidModel`].
    pub fn invalid_model(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidModel, msg)
    }
    /// Shorthand for [`ErrorKind::ShapeMismatch`].
    pub fn shape(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::ShapeMismatch, msg)
    }
    /// Shorthand for [`ErrorKind::DTypeMismatch`].
    pub fn dtype(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::DTypeMismatch, msg)
    }
    /// Shorthand for [`ErrorKind::Internal`].
    pub fn internal(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, msg)
    }
    /// Shorthand for [`ErrorKind::InvalidArgument`].
    pub fn argument(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, msg)
    }
    /// An unsupported op or op variant.
    pub fn unsupported(op: impl Into<String>, detail: impl Into<String>) -> Self {
        let (op, detail) = (op.into(), detail.into());
        let context = format!("unsupported operator {op}: {detail}");
        Error {
            kind: ErrorKind::UnsupportedOp { op, detail },
            context,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            ErrorKind::InvalidModel => "invalid model",
            ErrorKind::UnsupportedOp { .. } => "unsupported",
            ErrorKind::ShapeMismatch => "shape mismatch",
            ErrorKind::DTypeMismatch => "dtype mismatch",
            ErrorKind::CorruptFile => "corrupt file",
            ErrorKind::BackendUnavailable => "backend unavailable",
            ErrorKind::Io => "i/o error",
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::OutOfMemory => "out of memory",
            ErrorKind::MemoryLimitExceeded => "memory limit exceeded",
            ErrorKind::Internal => "internal error",
        };
        write!(f, "{kind}: {}", self.context)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::new(ErrorKind::Io, e.to_string())
    }
}

/// Returns early with an error built by one of [`Error`]'s constructors.
#[macro_export]
#[doc(hidden)]
macro_rules! bail {
    ($ctor:ident, $($arg:tt)*) => {
        return Err($crate::Error::$ctor(format!($($arg)*)))
    };
}
