//! The fixed header and the section table: encoding, and every check on them before any
//! section is read.
//!
//! ```text
//! offset  size  field
//!      0     8  magic  b"MOTE\0\r\n\x1a" (a text-mode transfer or a truncated copy breaks it)
//!      8     4  format version (u32 LE)          readers refuse any other version
//!     12     4  flags (u32 LE)                   no flag is defined: must be 0
//!     16     4  section count (u32 LE)           at most MAX_SECTIONS
//!     20     4  CRC-32 of bytes 0..32 + the section table, with this field read as 0
//!     24     8  reserved, 0
//!     32  32*n  section table: n entries of
//!               kind u32, flags u32 (0), offset u64, length u64, CRC-32 of the section u32,
//!               reserved u32 (0)
//! ```
//! Sections start 64-byte aligned, in file order, without overlap, inside the file.

use crate::{Error, ErrorKind, Result};

/// The first eight bytes of every `.mote` file.
pub const MAGIC: [u8; 8] = *b"MOTE\0\r\n\x1a";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 3;
/// Bytes before the section table.
pub(crate) const HEADER_LEN: usize = 32;
/// Bytes per section table entry.
pub(crate) const ENTRY_LEN: usize = 32;
/// A bound on the table (a version-1 file has two sections).
pub(crate) const MAX_SECTIONS: usize = 16;
/// Alignment of sections and of every constant tensor's bytes.
pub(crate) const ALIGN: usize = 64;

/// What a section holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SectionKind {
    /// The graph without constant data (postcard-encoded).
    Metadata,
    /// Constant tensors' bytes, each 64-byte aligned.
    Blobs,
}

impl SectionKind {
    fn code(self) -> u32 {
        match self {
            SectionKind::Metadata => 1,
            SectionKind::Blobs => 2,
        }
    }
    fn from_code(code: u32) -> Result<Self> {
        match code {
            1 => Ok(SectionKind::Metadata),
            2 => Ok(SectionKind::Blobs),
            _ => Err(corrupt(format!("unknown section kind {code}"))),
        }
    }
}

/// One section table entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Section {
    pub(crate) kind: SectionKind,
    pub(crate) offset: usize,
    pub(crate) len: usize,
    pub(crate) crc: u32,
}

impl Section {
    /// The section's byte range in the file.
    pub(crate) fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.len
    }
}

/// A `CorruptFile` error.
pub(crate) fn corrupt(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::CorruptFile, format!(".mote: {}", msg.into()))
}

/// True when `bytes` starts with the `.mote` magic.
pub fn is_mote(bytes: &[u8]) -> bool {
    bytes.starts_with(&MAGIC)
}

/// Rounds `n` up to the alignment.
pub(crate) fn align_up(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
}

/// Bytes of header plus table for `n` sections.
pub(crate) fn table_end(n: usize) -> usize {
    HEADER_LEN + ENTRY_LEN * n
}

/// Header and table bytes for `sections` (already laid out by the writer).
pub(crate) fn encode(sections: &[Section]) -> Vec<u8> {
    let mut out = Vec::with_capacity(table_end(sections.len()));
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(sections.len() as u32).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes()); // CRC, patched below
    out.extend_from_slice(&0u64.to_le_bytes());
    for s in sections {
        out.extend_from_slice(&s.kind.code().to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(s.offset as u64).to_le_bytes());
        out.extend_from_slice(&(s.len as u64).to_le_bytes());
        out.extend_from_slice(&s.crc.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
    }
    let crc = crc32fast::hash(&out);
    out[20..24].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Little-endian reads at fixed offsets of a slice whose length the caller checked.
fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Checks the header and table of a whole file and returns its sections, each verified to lie
/// inside the file, aligned, in order and disjoint. Section contents are not read here.
pub(crate) fn decode(file: &[u8]) -> Result<Vec<Section>> {
    if file.len() < HEADER_LEN {
        if MAGIC.starts_with(file) || is_mote(file) {
            return Err(corrupt(format!(
                "truncated: {} bytes, shorter than the {HEADER_LEN}-byte header",
                file.len()
            )));
        }
        return Err(corrupt("not a .mote file (no magic)"));
    }
    if !is_mote(file) {
        return Err(corrupt("not a .mote file (bad magic)"));
    }
    let version = u32_at(file, 8);
    if version != FORMAT_VERSION {
        return Err(Error::new(
            ErrorKind::InvalidModel,
            format!(
                ".mote format version {version} is not supported by this build of mote, which \
                 reads version {FORMAT_VERSION}; convert the model again with this version"
            ),
        ));
    }
    let flags = u32_at(file, 12);
    if flags != 0 {
        return Err(corrupt(format!("unknown header flags {flags:#x}")));
    }
    let count = u32_at(file, 16) as usize;
    if count > MAX_SECTIONS {
        return Err(corrupt(format!(
            "{count} sections (at most {MAX_SECTIONS})"
        )));
    }
    let end = table_end(count);
    if file.len() < end {
        return Err(corrupt(format!(
            "truncated: {} bytes, the section table ends at {end}",
            file.len()
        )));
    }
    let mut table = file[..end].to_vec();
    table[20..24].fill(0);
    let stored = u32_at(file, 20);
    let actual = crc32fast::hash(&table);
    if stored != actual {
        return Err(corrupt(format!(
            "header checksum mismatch (stored {stored:#010x}, computed {actual:#010x})"
        )));
    }
    if u64_at(file, 24) != 0 {
        return Err(corrupt("reserved header bytes are not zero"));
    }
    let mut sections = Vec::with_capacity(count);
    let mut next_free = end;
    for i in 0..count {
        let e = &file[HEADER_LEN + ENTRY_LEN * i..HEADER_LEN + ENTRY_LEN * (i + 1)];
        let kind = SectionKind::from_code(u32_at(e, 0))?;
        if u32_at(e, 4) != 0 || u32_at(e, 28) != 0 {
            return Err(corrupt(format!(
                "section {i}: unknown flags or reserved bits"
            )));
        }
        let offset = usize::try_from(u64_at(e, 8)).map_err(|_| corrupt("offset overflows"))?;
        let len = usize::try_from(u64_at(e, 16)).map_err(|_| corrupt("length overflows"))?;
        let stop = offset
            .checked_add(len)
            .ok_or_else(|| corrupt(format!("section {i}: offset + length overflows")))?;
        if offset % ALIGN != 0 {
            return Err(corrupt(format!(
                "section {i} starts at {offset}, not {ALIGN}-byte aligned"
            )));
        }
        if offset < next_free {
            return Err(corrupt(format!(
                "section {i} at {offset} overlaps the table or an earlier section"
            )));
        }
        if stop > file.len() {
            return Err(corrupt(format!(
                "truncated: section {i} ends at {stop}, the file has {} bytes",
                file.len()
            )));
        }
        if sections.iter().any(|s: &Section| s.kind == kind) {
            return Err(corrupt(format!("section kind {kind:?} appears twice")));
        }
        next_free = stop;
        sections.push(Section {
            kind,
            offset,
            len,
            crc: u32_at(e, 24),
        });
    }
    Ok(sections)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_sections() -> Vec<Section> {
        vec![
            Section {
                kind: SectionKind::Metadata,
                offset: 128,
                len: 10,
                crc: 1,
            },
            Section {
                kind: SectionKind::Blobs,
                offset: 192,
                len: 64,
                crc: 2,
            },
        ]
    }

    #[test]
    fn header_round_trips() {
        let sections = two_sections();
        let mut file = encode(&sections);
        file.resize(256, 0);
        assert_eq!(decode(&file).unwrap(), sections);
    }

    #[test]
    fn newer_version_is_a_clear_error() {
        let mut file = encode(&two_sections());
        file.resize(256, 0);
        let newer = FORMAT_VERSION + 1;
        file[8..12].copy_from_slice(&newer.to_le_bytes());
        let e = decode(&file).unwrap_err();
        assert_eq!(*e.kind(), ErrorKind::InvalidModel);
        assert!(
            e.to_string().contains(&format!("format version {newer}")),
            "{e}"
        );
    }

    #[test]
    fn table_checks() {
        let file = {
            let mut f = encode(&two_sections());
            f.resize(256, 0);
            f
        };
        // A section past the end.
        assert!(decode(&file[..200]).is_err());
        // Every single-byte change of header or table is caught (CRC or a field check).
        for at in 0..table_end(2) {
            let mut bad = file.clone();
            bad[at] ^= 0x20;
            let e = decode(&bad).unwrap_err();
            assert!(
                matches!(e.kind(), ErrorKind::CorruptFile | ErrorKind::InvalidModel),
                "{e}"
            );
        }
        assert!(decode(b"PK\x03\x04 not a mote file at all, longer than 32").is_err());
    }
}
