//! The driver every vectorised variant shares: it walks each matrix in `TILE × TILE` tiles
//! and each tile in `N × N` register blocks, and leaves the blocks to the ISA ([`Block`]).
//!
//! Why tiles: a block reads `N` source rows and writes `N` result rows, each a short run
//! at a large stride. Where `N` floats are less than a cache line (AVX2, NEON), the rest of
//! each line is used by a neighbouring block; walking a tile at a time keeps the lines a tile
//! touches (16 KiB per side at 64 × 64) cached until then, instead of coming back after a whole
//! row of blocks has evicted them.

use super::TransposeParams;

/// Side of the square tiles, a multiple of every block size.
const TILE: usize = 64;

/// Where one block starts in the source and the result, and their row strides.
#[derive(Clone, Copy, Debug)]
pub(crate) struct At {
    /// Offset of the block's first source element.
    pub(crate) x: usize,
    /// Distance between the block's source rows.
    pub(crate) x_stride: usize,
    /// Offset of the block's first result element.
    pub(crate) y: usize,
    /// Distance between the block's result rows.
    pub(crate) y_stride: usize,
}

/// One instruction set's in-register transpose of a square block.
///
/// The driver only passes blocks that lie inside slices checked by [`super::validate`]: row
/// `k < rows` of the source is `x[at.x + k·at.x_stride ..][.. cols]`, row `k < cols` of the
/// result is `y[at.y + k·at.y_stride ..][.. rows]`. Implementations index through slices, so a
/// broken driver panics rather than touching memory it does not own.
pub(crate) trait Block: Copy {
    /// Rows and columns of one block.
    const N: usize;
    /// Transposes a whole `N × N` block.
    fn full(self, x: &[f32], y: &mut [f32], at: At);
    /// Transposes the `rows × cols` corner of a block (`rows, cols <= N`, one below `N`).
    fn partial(self, x: &[f32], y: &mut [f32], at: At, rows: usize, cols: usize);
}

/// The transpose of a call that passed [`super::validate`], block by block.
#[inline(always)]
pub(crate) fn transpose<B: Block>(b: B, p: &TransposeParams, x: &[f32], y: &mut [f32]) {
    const { assert!(TILE % B::N == 0) };
    for n in 0..p.batch {
        let (x_base, y_base) = (n * p.x_batch_stride, n * p.y_batch_stride);
        for i0 in (0..p.rows).step_by(TILE) {
            let i1 = (i0 + TILE).min(p.rows);
            for j0 in (0..p.cols).step_by(TILE) {
                let j1 = (j0 + TILE).min(p.cols);
                for i in (i0..i1).step_by(B::N) {
                    let rows = (i1 - i).min(B::N);
                    for j in (j0..j1).step_by(B::N) {
                        let cols = (j1 - j).min(B::N);
                        let at = At {
                            x: x_base + i * p.x_row_stride + j,
                            x_stride: p.x_row_stride,
                            y: y_base + j * p.y_row_stride + i,
                            y_stride: p.y_row_stride,
                        };
                        if rows == B::N && cols == B::N {
                            b.full(x, y, at);
                        } else {
                            b.partial(x, y, at, rows, cols);
                        }
                    }
                }
            }
        }
    }
}

/// [`Block::partial`] one element at a time (NEON has no masked loads; AVX2's are slow).
#[inline(always)]
#[cfg_attr(
    not(any(target_arch = "x86_64", target_arch = "aarch64")),
    allow(dead_code)
)] // Only the vectorised variants use it.
pub(crate) fn scalar_block(x: &[f32], y: &mut [f32], at: At, rows: usize, cols: usize) {
    for i in 0..rows {
        let row = &x[at.x + i * at.x_stride..][..cols];
        for (j, &v) in row.iter().enumerate() {
            y[at.y + j * at.y_stride + i] = v;
        }
    }
}
