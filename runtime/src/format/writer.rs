//! Graph -> `.mote` bytes: metadata through serde + postcard, constants laid out 64-byte
//! aligned in the blob section, checksums, then the header.

use super::blobs::{self};
use super::header::{self, align_up, Section, SectionKind};
use super::Metadata;
use crate::ir::Graph;
use crate::{Error, Result};

/// Encodes `graph` (normally the graph after the portable passes, as [`crate::Model`] holds it)
/// as a `.mote` file.
pub fn write(graph: &Graph) -> Result<Vec<u8>> {
    let meta = Metadata {
        producer: format!("mote {}", env!("CARGO_PKG_VERSION")),
        graph,
    };
    let (encoded, sink) = blobs::with_sink(|| postcard::to_allocvec(&meta));
    let metadata =
        encoded.map_err(|e| Error::internal(format!("cannot encode the graph as .mote: {e}")))?;

    let meta_offset = align_up(header::table_end(2));
    let blob_offset = align_up(meta_offset + metadata.len());
    let blob_len = usize::try_from(sink.len())
        .map_err(|_| Error::internal("constants larger than the address space"))?;
    let mut file = vec![0u8; blob_offset + blob_len];
    file[meta_offset..meta_offset + metadata.len()].copy_from_slice(&metadata);
    for (offset, t) in &sink.tensors {
        let at = blob_offset + *offset as usize;
        file[at..at + t.bytes().len()].copy_from_slice(t.bytes());
    }
    let blob_range = blob_offset..blob_offset + blob_len;
    let sections = [
        Section {
            kind: SectionKind::Metadata,
            offset: meta_offset,
            len: metadata.len(),
            crc: crc32fast::hash(&metadata),
        },
        Section {
            kind: SectionKind::Blobs,
            offset: blob_offset,
            len: blob_len,
            crc: crc32fast::hash(&file[blob_range]),
        },
    ];
    let head = header::encode(&sections);
    file[..head.len()].copy_from_slice(&head);
    Ok(file)
}
