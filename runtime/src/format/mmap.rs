//! The one place the runtime maps a file into memory (the crate's only `unsafe`).

#![allow(unsafe_code)]

use crate::tensor::SharedBuffer;
use crate::{Error, ErrorKind, Result};
use std::path::Path;
use std::sync::Arc;

/// Maps `path` read-only. Tensors built over the mapping borrow it; pages are read from disk
/// when first touched and shared with the page cache, so loading adds no copy of the weights.
pub(crate) fn map_file(path: &Path) -> Result<SharedBuffer> {
    let file = std::fs::File::open(path).map_err(|e| {
        Error::new(
            ErrorKind::Io,
            format!("cannot open {}: {e}", path.display()),
        )
    })?;
    // SAFETY: the mapping is read-only (no `&mut` is ever made to it), and Rust's aliasing
    // rules only break if another process writes or truncates the file while it is mapped.
    // That is the documented contract of `Model::load` for `.mote` files (as for any mmap
    // loader): the file must not be modified while a model loaded from it is alive. The
    // checksums are verified after mapping, so a file modified before loading is rejected.
    let map = unsafe { memmap2::Mmap::map(&file) }
        .map_err(|e| Error::new(ErrorKind::Io, format!("cannot map {}: {e}", path.display())))?;
    Ok(Arc::new(map))
}
