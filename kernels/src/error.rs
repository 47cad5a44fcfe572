//! The crate's one error type: small, allocation only on the error path, no dependencies.

use std::fmt;

/// Why a kernel refused its arguments.
///
/// Kernels validate every index they will touch *before* touching anything, so an `Err` means no
/// output element was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelError {
    kind: KernelErrorKind,
    context: String,
}

/// The category of a [`KernelError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KernelErrorKind {
    /// A slice is too short (or has the wrong length) for the shape, strides or offsets given.
    OutOfBounds,
    /// The parameters contradict each other or overflow `usize` (e.g. a zero stride where one is
    /// required, an empty kernel window, `min > max` in a clip).
    InvalidParams,
    /// The parameters are valid but this kernel does not handle them (e.g. too many spatial axes).
    Unsupported,
}

impl KernelError {
    /// An error of `kind` with a human-readable `context`.
    pub fn new(kind: KernelErrorKind, context: impl Into<String>) -> Self {
        Self {
            kind,
            context: context.into(),
        }
    }

    /// Shorthand for [`KernelErrorKind::OutOfBounds`].
    pub fn out_of_bounds(context: impl Into<String>) -> Self {
        Self::new(KernelErrorKind::OutOfBounds, context)
    }

    /// Shorthand for [`KernelErrorKind::InvalidParams`].
    pub fn invalid(context: impl Into<String>) -> Self {
        Self::new(KernelErrorKind::InvalidParams, context)
    }

    /// Shorthand for [`KernelErrorKind::Unsupported`].
    pub fn unsupported(context: impl Into<String>) -> Self {
        Self::new(KernelErrorKind::Unsupported, context)
    }

    /// The category, for callers that map kernel errors onto their own kinds.
    pub fn kind(&self) -> KernelErrorKind {
        self.kind
    }

    /// What exactly was wrong.
    pub fn context(&self) -> &str {
        &self.context
    }
}

impl fmt::Display for KernelErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KernelErrorKind::OutOfBounds => "out of bounds",
            KernelErrorKind::InvalidParams => "invalid kernel parameters",
            KernelErrorKind::Unsupported => "unsupported by this kernel",
        })
    }
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.context)
    }
}

impl std::error::Error for KernelError {}
