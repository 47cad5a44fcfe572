//! Where a GEMM writes: all of `C`, or one block of its columns ([`ColumnBlock`]), so that
//! threads can compute disjoint column ranges of one `C` at the same time (each packs only its
//! own part of `B`, and all share a packed `A`).

use std::marker::PhantomData;
use std::ops::Range;

use super::{check_operand, offset};
use crate::KernelError;

/// Columns `cols` of every row of a row-major `C`, writable by one thread.
///
/// It holds a raw pointer because column blocks of one `C` interleave in memory: no two of
/// them may be `&mut [f32]` at once, but each hands out `&mut` row segments inside its own
/// columns only, which never overlap another block's.
#[derive(Debug)]
pub struct ColumnBlock<'a> {
    ptr: *mut f32,
    /// Length of the whole `C` slice (every access is checked against it).
    len: usize,
    rows: usize,
    row_stride: isize,
    cols: Range<usize>,
    _c: PhantomData<&'a mut [f32]>,
}

// SAFETY: a block only touches its own columns of a slice it borrows mutably for `'a`, so moving
// it to another thread is like moving a `&mut` to a disjoint part of the slice.
unsafe impl Send for ColumnBlock<'_> {}

/// Cuts the `m × n` matrix `c` (row stride `c_row_stride`) into column blocks at `cuts`
/// (increasing column indices strictly inside `0..n`): `k` cuts give `k + 1` blocks.
pub fn split_columns<'a>(
    c: &'a mut [f32],
    m: usize,
    n: usize,
    c_row_stride: isize,
    cuts: &[usize],
) -> Result<Vec<ColumnBlock<'a>>, KernelError> {
    if m > 0 && n > 0 {
        check_operand("C", c.len(), m, n, c_row_stride, 1)?;
        if m > 1 && c_row_stride < n as isize {
            return Err(KernelError::invalid(format!(
                "rows of C overlap: c_row_stride {c_row_stride} < n {n}"
            )));
        }
    }
    let mut bounds = Vec::with_capacity(cuts.len() + 2);
    bounds.push(0);
    bounds.extend_from_slice(cuts);
    bounds.push(n);
    if bounds.windows(2).any(|w| w[0] > w[1]) {
        return Err(KernelError::invalid(format!(
            "column cuts {cuts:?} are not increasing inside 0..{n}"
        )));
    }
    let (ptr, len) = (c.as_mut_ptr(), c.len());
    Ok(bounds
        .windows(2)
        .map(|w| ColumnBlock {
            ptr,
            len,
            rows: m,
            row_stride: c_row_stride,
            cols: w[0]..w[1],
            _c: PhantomData,
        })
        .collect())
}

impl<'a> ColumnBlock<'a> {
    /// All of `c`, as one block of `n` columns.
    pub(crate) fn whole(c: &'a mut [f32], m: usize, n: usize, row_stride: isize) -> Self {
        ColumnBlock {
            ptr: c.as_mut_ptr(),
            len: c.len(),
            rows: m,
            row_stride,
            cols: 0..n,
            _c: PhantomData,
        }
    }

    /// The columns this block owns.
    pub fn columns(&self) -> Range<usize> {
        self.cols.clone()
    }

    /// Rows of `C`.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Distance between rows of `C`.
    pub fn row_stride(&self) -> isize {
        self.row_stride
    }

    /// Length of the whole `C` slice the block is part of.
    pub(crate) fn c_len(&self) -> usize {
        self.len
    }

    /// Offset of `(i, j)` if `w` elements from there lie in row `i < rows`, inside this block's
    /// columns and inside `C`.
    fn checked_start(&self, i: usize, j: usize, w: usize) -> Option<usize> {
        let inside = i < self.rows && j >= self.cols.start && j + w <= self.cols.end;
        let start = offset(i, j, self.row_stride, 1);
        (inside && start + w <= self.len).then_some(start)
    }

    /// Row `i`, columns `j .. j + w` (inside the block), and its offset in `C`.
    pub(crate) fn segment(&mut self, i: usize, j: usize, w: usize) -> Option<(&mut [f32], usize)> {
        let start = self.checked_start(i, j, w)?;
        // SAFETY: `start + w <= len` of the slice this block borrows mutably, and the columns
        // are this block's own, which no other block of the same `C` covers; `&mut self`
        // prevents two live segments from one block.
        Some((
            unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), w) },
            start,
        ))
    }

    /// A pointer to the `h × w` tile at `(i, j)` with row stride `ldc`, if the whole tile lies
    /// inside the block and `C`.
    pub(crate) fn tile_ptr(
        &mut self,
        i: usize,
        j: usize,
        h: usize,
        w: usize,
    ) -> Option<(*mut f32, usize)> {
        let ldc = usize::try_from(self.row_stride).ok()?;
        if h == 0 || (h > 1 && ldc < w) {
            return None;
        }
        let start = self.checked_start(i, j, w)?;
        self.checked_start(i + h - 1, j, w)?;
        // SAFETY: `start` is inside the borrowed slice (checked above).
        Some((unsafe { self.ptr.add(start) }, ldc))
    }
}
