//! `.mote` bytes -> graph: header and table checks, checksums, metadata decoding with every
//! constant resolved against the blob section, then the graph invariant.

use super::blobs;
use super::header::{self, corrupt, Section, SectionKind};
use super::MetadataIn;
use crate::ir::Graph;
use crate::tensor::{AlignedBytes, SharedBuffer};
use crate::Result;
use std::sync::Arc;

/// Decodes a `.mote` file held in `backing`. Constant tensors borrow their bytes from `backing`
/// (no copy) where they are 64-byte aligned in memory, which they are when `backing` is a file
/// mapping or an [`AlignedBytes`].
pub fn read_shared(backing: SharedBuffer) -> Result<Graph> {
    let file: &[u8] = (*backing).as_ref();
    let sections = header::decode(file)?;
    let find = |kind| -> Result<Section> {
        sections
            .iter()
            .copied()
            .find(|s| s.kind == kind)
            .ok_or_else(|| corrupt(format!("no {kind:?} section")))
    };
    let (meta, blobs) = (find(SectionKind::Metadata)?, find(SectionKind::Blobs)?);
    for s in [meta, blobs] {
        let actual = crc32fast::hash(&file[s.range()]);
        if actual != s.crc {
            return Err(corrupt(format!(
                "{:?} section checksum mismatch (stored {:#010x}, computed {actual:#010x})",
                s.kind, s.crc
            )));
        }
    }
    blobs::take_error();
    let decoded = blobs::with_source(backing.clone(), blobs.offset, blobs.len, || {
        postcard::take_from_bytes::<MetadataIn>(&file[meta.range()])
    });
    let (metadata, rest) = decoded.map_err(|e| {
        let detail = blobs::take_error().unwrap_or_else(|| e.to_string());
        corrupt(format!("metadata: {detail}"))
    })?;
    if !rest.is_empty() {
        return Err(corrupt(format!(
            "{} stray bytes after the metadata",
            rest.len()
        )));
    }
    let graph = metadata.graph;
    graph
        .validate()
        .map_err(|e| corrupt(format!("the stored graph is invalid: {e}")))?;
    Ok(graph)
}

/// Decodes a `.mote` file from memory: one aligned copy of the bytes, which the constants then
/// share.
pub fn read_bytes(bytes: &[u8]) -> Result<Graph> {
    read_shared(Arc::new(AlignedBytes::from_slice(bytes)))
}
