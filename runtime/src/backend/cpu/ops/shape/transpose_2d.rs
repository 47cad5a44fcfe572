//! Transposes that are a batch of 2-D transposes, on the kernel table's blocked transpose.
//!
//! The generic strided copy reads a transpose's innermost output run at a large source
//! stride, one element at a time. When the read pattern, simplified (size-1 axes dropped,
//! contiguous neighbours merged), reads its second-to-last axis contiguously, it is a batch of
//! 2-D transposes (`[0, 2, 1]`, `[1, 0]`, `[0, 2, 3, 1]`, `[0, 1, 3, 2]`, ...), which the
//! `mote_kernels` transpose moves in register blocks. The kernel is typed `f32` but only
//! moves bits, so every 4-byte dtype takes it.

use mote_kernels::cpu::transpose::TransposeParams;

use super::copy::Strided;
use crate::{bail, Error, Result};

/// A simplified read pattern that is a batch of 2-D transposes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Transpose2d {
    /// The batch axes the kernel call does not cover, outermost first: `(size, source
    /// stride)`. One call per index of these.
    outer: Vec<(usize, usize)>,
    /// One call, offsets relative to its source and result chunks.
    params: TransposeParams,
    /// Source offset of the first element read.
    offset: usize,
}

impl Transpose2d {
    /// `pattern` (simplified) as a batch of 2-D transposes, if it is one.
    ///
    /// Output `[..., p, q]` reads source `Σ batch terms + p·1 + q·s`: source matrix rows are
    /// indexed by `q` (stride `s`), columns by `p` (contiguous), and the output is their
    /// transpose, `q` contiguous.
    pub(super) fn of(pattern: &Strided) -> Option<Self> {
        let rank = pattern.shape.len();
        if rank < 2 {
            return None;
        }
        let strides: Vec<usize> = pattern
            .strides
            .iter()
            .map(|&s| usize::try_from(s).ok())
            .collect::<Option<_>>()?;
        if strides[rank - 2] != 1 {
            return None;
        }
        let (p, q) = (pattern.shape[rank - 2], pattern.shape[rank - 1]);
        let batch_axes: Vec<(usize, usize)> = pattern.shape[..rank - 2]
            .iter()
            .copied()
            .zip(strides.iter().copied())
            .collect();
        // The innermost batch axis goes to the kernel; the rest are looped over here.
        let (outer, (batch, x_batch_stride)) = match batch_axes.split_last() {
            Some((&inner, outer)) => (outer.to_vec(), inner),
            None => (Vec::new(), (1, 0)),
        };
        Some(Self {
            outer,
            params: TransposeParams {
                batch,
                rows: q,
                cols: p,
                x_row_stride: strides[rank - 1],
                x_batch_stride,
                y_row_stride: q,
                y_batch_stride: p.checked_mul(q)?,
            },
            offset: pattern.offset,
        })
    }

    /// Writes the pattern's reads from `src` into `dst`, row-major.
    pub(super) fn run(&self, src: &[f32], dst: &mut [f32]) -> Result<()> {
        let chunk = self
            .params
            .batch
            .checked_mul(self.params.y_batch_stride)
            .ok_or_else(|| Error::internal("transpose: result size overflows"))?;
        if chunk == 0 || dst.is_empty() {
            return Ok(());
        }
        if dst.len() % chunk != 0 {
            bail!(
                internal,
                "transpose: {} result elements in chunks of {chunk}",
                dst.len()
            );
        }
        let transpose = mote_kernels::cpu::table().transpose;
        for (c, y) in dst.chunks_exact_mut(chunk).enumerate() {
            let x = src
                .get(self.source_offset(c)?..)
                .ok_or_else(|| Error::internal("transpose: read past the source"))?;
            transpose(&self.params, x, y).map_err(|e| {
                Error::internal(format!("transpose: kernel rejected its arguments: {e}"))
            })?;
        }
        Ok(())
    }

    /// Source offset of call `c` (row-major over the outer axes).
    fn source_offset(&self, mut c: usize) -> Result<usize> {
        let mut offset = Some(self.offset);
        for &(size, stride) in self.outer.iter().rev() {
            offset = offset.and_then(|o| o.checked_add((c % size).checked_mul(stride)?));
            c /= size;
        }
        offset.ok_or_else(|| Error::internal("transpose: source offset overflows"))
    }
}
