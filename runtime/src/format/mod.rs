//! The `.mote` file format: Mote's IR after the portable passes, in a container that loads
//! without parsing protobuf or copying weights.
//!
//! ```text
//! [ header 32 B | section table 32 B x n ]  pad to 64
//! [ metadata section ]                      pad to 64   postcard-encoded graph, no constant data
//! [ blob section ]                                      constant tensors, each 64-byte aligned
//! ```
//! - `header.rs`: magic, format version, flags, section table, header checksum (layout there).
//! - `graph_serde.rs` + `blobs.rs`: the metadata is the IR's serde encoding (postcard, compact
//!   varints); each constant is a [`blobs::ConstRef`] (dtype, shape, offset and length in the blob
//!   section) and its bytes live in the blob section.
//! - `writer.rs` / `reader.rs`: the two directions; `mmap.rs`: file mapping.
//!
//! Every section carries a CRC-32; the reader checks the header, the table (offsets aligned,
//! in range, disjoint), both checksums, every constant's range and byte length, and then the
//! graph invariant, so a corrupt or truncated file is an [`ErrorKind::CorruptFile`] error.
//!
//! Compatibility: the metadata encodes IR enums by variant index and structs by field order.
//! Any change to an IR type's serialized shape (a variant or field added, removed or
//! reordered) must bump [`FORMAT_VERSION`]; readers refuse other versions with a message
//! saying to convert the model again.
//!
//! [`ErrorKind::CorruptFile`]: crate::ErrorKind::CorruptFile

mod blobs;
mod graph_serde;
mod header;
mod mmap;
mod reader;
mod writer;

pub(crate) use blobs::de_error;
pub use header::{is_mote, FORMAT_VERSION, MAGIC};
pub use reader::{read_bytes, read_shared};
pub use writer::write;

use crate::ir::Graph;
use crate::Result;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::Path;

/// Everything the metadata section holds.
#[derive(Serialize)]
struct Metadata<'a> {
    /// Which build wrote the file (for messages; not checked).
    producer: String,
    graph: &'a Graph,
}

#[derive(Deserialize)]
struct MetadataIn {
    #[allow(dead_code)]
    producer: String,
    graph: Graph,
}

/// Reads a `.mote` file through a read-only memory mapping: constant tensors use the mapped
/// bytes in place. The file must not be modified while the graph (or a model built from it)
/// is alive.
pub fn read_path(path: impl AsRef<Path>) -> Result<Graph> {
    read_shared(mmap::map_file(path.as_ref())?)
}

/// True when the file at `path` starts with the `.mote` magic.
pub fn file_is_mote(path: impl AsRef<Path>) -> Result<bool> {
    let path = path.as_ref();
    let mut head = Vec::with_capacity(MAGIC.len());
    std::fs::File::open(path)
        .and_then(|f| f.take(MAGIC.len() as u64).read_to_end(&mut head))
        .map_err(|e| {
            crate::Error::new(
                crate::ErrorKind::Io,
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
    Ok(is_mote(&head))
}

#[cfg(test)]
mod tests;
