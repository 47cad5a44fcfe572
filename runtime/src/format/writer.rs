//! Graph -> `.mote` bytes: metadata through serde + postcard, constants laid out 64-byte
//! aligned in the blob section, checksums, then the header.

use super::blobs;
use super::header::{self, align_up, Section, SectionKind};
use super::Metadata;
use crate::ir::Graph;
use crate::{Error, Result};

/// Encodes `graph` (normally the graph after the portable passes, as [`crate::Model`] holds it)
/// as a `.mote` file.
pub fn write(graph: &Graph) -> Result<Vec<u8>> {
    // Refuse what no reader would accept rather than write a file that cannot be loaded.
    let depth = nesting_depth(graph);
    if depth > blobs::MAX_DEPTH {
        return Err(Error::unsupported(
            ".mote",
            format!(
                "control-flow bodies nested {depth} deep (the format allows {})",
                blobs::MAX_DEPTH
            ),
        ));
    }
    write_unchecked(graph)
}

/// [`write`] without the nesting check (tests use it to make files the reader must refuse).
pub(super) fn write_unchecked(graph: &Graph) -> Result<Vec<u8>> {
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

/// Levels of graphs, counting `graph` itself.
fn nesting_depth(graph: &Graph) -> usize {
    1 + graph
        .nodes
        .iter()
        .flat_map(|n| n.op.subgraphs())
        .map(nesting_depth)
        .max()
        .unwrap_or(0)
}
