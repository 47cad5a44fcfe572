//! 64-byte aligned byte storage, so any element type (and future SIMD loads) can view it
//! without copies or alignment faults.
//!
//! Storage is either owned (cache lines on the heap) or shared: a 64-byte aligned range of a
//! longer read-only buffer, such as a memory-mapped `.mote` file whose constant tensors are used
//! in place. Shared storage is copy-on-write: the first mutable access copies the range into
//! owned lines, so a caller can never write through to the file or to another tensor.

use std::ops::Range;
use std::sync::Arc;

/// One cache line. The unit of allocation of [`AlignedBytes`].
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, align(64))]
struct Line([u8; 64]);

/// A read-only buffer that tensors may borrow ranges of (a file mapping, a loaded file). Its
/// `as_ref()` must return the same bytes on every call (true of `memmap2::Mmap`, `Vec<u8>` and
/// [`AlignedBytes`]).
pub type SharedBuffer = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// Growable, zero-initialised, 64-byte aligned bytes.
#[derive(Clone, Default)]
pub struct AlignedBytes {
    /// Owned storage; empty while `shared` is set.
    lines: Vec<Line>,
    /// Borrowed storage: `backing[offset..offset + len]`, checked in range and 64-byte aligned
    /// when built.
    shared: Option<(SharedBuffer, usize)>,
    len: usize,
}

impl AlignedBytes {
    /// `len` zero bytes.
    pub fn zeroed(len: usize) -> Self {
        AlignedBytes {
            lines: vec![Line([0; 64]); len.div_ceil(64)],
            shared: None,
            len,
        }
    }

    /// A copy of `bytes`.
    pub fn from_slice(bytes: &[u8]) -> Self {
        let mut b = Self::zeroed(bytes.len());
        b.as_mut_slice().copy_from_slice(bytes);
        b
    }

    /// `backing[range]` without a copy when the range starts 64-byte aligned in memory, else a
    /// copy (so views stay aligned either way). `None` when the range is not inside `backing`.
    pub fn shared(backing: SharedBuffer, range: Range<usize>) -> Option<Self> {
        let whole = (*backing).as_ref();
        let bytes = whole.get(range.clone())?;
        if bytes.is_empty() || (bytes.as_ptr() as usize) % 64 != 0 {
            return Some(Self::from_slice(bytes));
        }
        Some(AlignedBytes {
            lines: Vec::new(),
            len: bytes.len(),
            shared: Some((backing, range.start)),
        })
    }

    /// True when the bytes are borrowed from a shared buffer (not copied).
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes that can be held without reallocating.
    pub fn capacity(&self) -> usize {
        self.lines.len() * 64
    }

    /// Sets the length, growing (zero-filled) when needed. Existing bytes are kept.
    pub fn resize(&mut self, len: usize) {
        let lines = self.make_owned();
        let n = len.div_ceil(64);
        if n > lines.len() {
            lines.resize(n, Line([0; 64]));
        }
        self.len = len;
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match &self.shared {
            // In range: checked by `shared`, and the backing is immutable.
            Some((backing, offset)) => &(**backing).as_ref()[*offset..*offset + self.len],
            None => &bytemuck::cast_slice::<Line, u8>(&self.lines)[..self.len],
        }
    }

    /// The bytes, mutably (copying shared bytes into owned storage first).
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        let len = self.len;
        &mut bytemuck::cast_slice_mut::<Line, u8>(self.make_owned())[..len]
    }

    /// Owned lines holding the current bytes; copies shared storage once.
    fn make_owned(&mut self) -> &mut Vec<Line> {
        if let Some((backing, offset)) = self.shared.take() {
            let bytes = &(*backing).as_ref()[offset..offset + self.len];
            self.lines = vec![Line([0; 64]); self.len.div_ceil(64)];
            bytemuck::cast_slice_mut::<Line, u8>(&mut self.lines)[..self.len]
                .copy_from_slice(bytes);
        }
        &mut self.lines
    }
}

impl AsRef<[u8]> for AlignedBytes {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl std::fmt::Debug for AlignedBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let how = if self.is_shared() { ", shared" } else { "" };
        write!(f, "AlignedBytes({} bytes{how})", self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_range_is_borrowed_and_copied_on_write() {
        let backing: SharedBuffer = Arc::new(AlignedBytes::from_slice(&[7u8; 256]));
        let mut b = AlignedBytes::shared(backing.clone(), 64..192).unwrap();
        assert!(b.is_shared());
        assert_eq!(b.as_slice().as_ptr(), (*backing).as_ref()[64..].as_ptr());
        b.as_mut_slice()[0] = 1;
        assert!(!b.is_shared());
        assert_eq!(b.as_slice()[..2], [1, 7]);
        assert_eq!((*backing).as_ref()[64], 7, "the backing is never written");
    }

    #[test]
    fn shared_out_of_range_or_misaligned() {
        let backing: SharedBuffer = Arc::new(AlignedBytes::from_slice(&[1u8; 100]));
        assert!(AlignedBytes::shared(backing.clone(), 64..101).is_none());
        let copied = AlignedBytes::shared(backing, 3..10).unwrap();
        assert!(!copied.is_shared());
        assert_eq!(copied.as_slice(), &[1u8; 7]);
    }
}
