//! Panel layouts: how the driver (and ahead-of-time packing) lays operands out so that the
//! micro-kernel reads both of them as contiguous streams.
//!
//! The depth `k` is cut into slices of `kc` (the last one shorter). Within a slice:
//!
//! * `A` is `ceil(m/mr)` **row panels**, each `kcb × mr`: row `l` of a panel holds column `l` of
//!   `mr` consecutive rows of `A`, zero-padded below the last row;
//! * `B` is `ceil(n/nr)` **column panels**, each `kcb × nr`: row `l` of a panel holds `nr`
//!   consecutive columns of row `l` of `B`, zero-padded right of the last column.
//!
//! Slices follow each other, so the slice starting at depth `pc` begins at `pc · m_padded` (or
//! `pc · n_padded`). Zero padding lets the micro-kernel always compute a full tile; only the
//! store looks at the ragged edge.

use super::{check_operand, offset, Strided};
use crate::KernelError;

/// The register tile and depth slice a variant's micro-kernel works on; packed operands are
/// tied to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TileShape {
    /// Rows of `C` per micro-kernel call (rows per `A` panel).
    pub mr: usize,
    /// Columns of `C` per micro-kernel call (columns per `B` panel).
    pub nr: usize,
    /// Depth of one packed slice.
    pub kc: usize,
}

/// `A[m×k]` packed once for a [`TileShape`] (a layer's weights on the left, as in a conv).
#[derive(Clone, Debug, PartialEq)]
pub struct PackedA {
    tile: TileShape,
    m: usize,
    k: usize,
    data: Vec<f32>,
}

/// `B[k×n]` packed once for a [`TileShape`] (a layer's weights on the right, as in MatMul).
#[derive(Clone, Debug, PartialEq)]
pub struct PackedB {
    tile: TileShape,
    k: usize,
    n: usize,
    data: Vec<f32>,
}

fn check_tile(tile: TileShape) -> Result<(), KernelError> {
    if tile.mr == 0 || tile.nr == 0 || tile.kc == 0 {
        return Err(KernelError::invalid(format!("degenerate tile {tile:?}")));
    }
    Ok(())
}

fn padded_len(outer: usize, tile_dim: usize, k: usize) -> Result<usize, KernelError> {
    outer
        .div_ceil(tile_dim)
        .checked_mul(tile_dim)
        .and_then(|p| p.checked_mul(k))
        .ok_or_else(|| KernelError::invalid("packed operand size overflows"))
}

impl PackedA {
    /// Packs the `m × k` matrix `a` for `tile`.
    pub fn pack(tile: TileShape, m: usize, k: usize, a: Strided<'_>) -> Result<Self, KernelError> {
        check_tile(tile)?;
        if m > 0 && k > 0 {
            check_operand("A", a.data.len(), m, k, a.row_stride, a.col_stride)?;
        }
        let m_padded = m.div_ceil(tile.mr) * tile.mr;
        let mut data = vec![0.0; padded_len(m, tile.mr, k)?];
        for pc in (0..k).step_by(tile.kc) {
            let kcb = tile.kc.min(k - pc);
            let block = &mut data[pc * m_padded..(pc + kcb) * m_padded];
            pack_a_panels(block, a, 0, m, pc, kcb, tile.mr);
        }
        Ok(PackedA { tile, m, k, data })
    }

    /// Rows (`m`).
    pub fn rows(&self) -> usize {
        self.m
    }

    /// Depth (`k`).
    pub fn depth(&self) -> usize {
        self.k
    }

    /// The tile it was packed for.
    pub fn tile(&self) -> TileShape {
        self.tile
    }

    /// The panels of the depth slice starting at `pc` (a multiple of `kc`), from row `i0` (a
    /// multiple of `mr`) on.
    pub(crate) fn panels(&self, pc: usize, kcb: usize, i0: usize) -> &[f32] {
        let m_padded = self.m.div_ceil(self.tile.mr) * self.tile.mr;
        &self.data[pc * m_padded + i0 * kcb..(pc + kcb) * m_padded]
    }

    /// Element `(i, l)`, for the reference kernel.
    pub(crate) fn get(&self, i: usize, l: usize) -> f32 {
        let (mr, kc) = (self.tile.mr, self.tile.kc);
        let pc = l / kc * kc;
        let kcb = kc.min(self.k - pc);
        self.panels(pc, kcb, i / mr * mr)[(l - pc) * mr + i % mr]
    }
}

impl PackedB {
    /// Packs the `k × n` matrix `b` for `tile`.
    pub fn pack(tile: TileShape, k: usize, n: usize, b: Strided<'_>) -> Result<Self, KernelError> {
        check_tile(tile)?;
        if n > 0 && k > 0 {
            check_operand("B", b.data.len(), k, n, b.row_stride, b.col_stride)?;
        }
        let n_padded = n.div_ceil(tile.nr) * tile.nr;
        let mut data = vec![0.0; padded_len(n, tile.nr, k)?];
        for pc in (0..k).step_by(tile.kc) {
            let kcb = tile.kc.min(k - pc);
            let block = &mut data[pc * n_padded..(pc + kcb) * n_padded];
            pack_b_panels(block, b, pc, kcb, 0, n, tile.nr);
        }
        Ok(PackedB { tile, k, n, data })
    }

    /// Depth (`k`).
    pub fn depth(&self) -> usize {
        self.k
    }

    /// Columns (`n`).
    pub fn cols(&self) -> usize {
        self.n
    }

    /// The tile it was packed for.
    pub fn tile(&self) -> TileShape {
        self.tile
    }

    /// The panels of the depth slice starting at `pc` (a multiple of `kc`), from column `j0` (a
    /// multiple of `nr`) on.
    pub(crate) fn panels(&self, pc: usize, kcb: usize, j0: usize) -> &[f32] {
        let n_padded = self.n.div_ceil(self.tile.nr) * self.tile.nr;
        &self.data[pc * n_padded + j0 * kcb..(pc + kcb) * n_padded]
    }

    /// Element `(l, j)`, for the reference kernel.
    pub(crate) fn get(&self, l: usize, j: usize) -> f32 {
        let (nr, kc) = (self.tile.nr, self.tile.kc);
        let pc = l / kc * kc;
        let kcb = kc.min(self.k - pc);
        self.panels(pc, kcb, j / nr * nr)[(l - pc) * nr + j % nr]
    }
}

/// Packs rows `i0..i0 + rows`, depth `pc..pc + kcb` of a validated `a` into `ceil(rows/mr)`
/// row panels at the start of `out` (which must hold them).
pub(crate) fn pack_a_panels(
    out: &mut [f32],
    a: Strided<'_>,
    i0: usize,
    rows: usize,
    pc: usize,
    kcb: usize,
    mr: usize,
) {
    let panels = rows.div_ceil(mr);
    for (ip, panel) in out[..panels * kcb * mr]
        .chunks_exact_mut(kcb * mr)
        .enumerate()
    {
        let first = i0 + ip * mr;
        let h = mr.min(i0 + rows - first);
        if h < mr {
            panel.fill(0.0);
        }
        for r in 0..h {
            let start = offset(first + r, pc, a.row_stride, a.col_stride);
            if a.col_stride == 1 {
                let src = &a.data[start..start + kcb];
                for (dst, &x) in panel.chunks_exact_mut(mr).zip(src) {
                    dst[r] = x;
                }
            } else {
                for (l, dst) in panel.chunks_exact_mut(mr).enumerate() {
                    dst[r] = a.data[offset(first + r, pc + l, a.row_stride, a.col_stride)];
                }
            }
        }
    }
}

/// Packs depth `pc..pc + kcb`, columns `j0..j0 + cols` of a validated `b` into `ceil(cols/nr)`
/// column panels at the start of `out` (which must hold them).
pub(crate) fn pack_b_panels(
    out: &mut [f32],
    b: Strided<'_>,
    pc: usize,
    kcb: usize,
    j0: usize,
    cols: usize,
    nr: usize,
) {
    let panels = cols.div_ceil(nr);
    for (jp, panel) in out[..panels * kcb * nr]
        .chunks_exact_mut(kcb * nr)
        .enumerate()
    {
        let first = j0 + jp * nr;
        let w = nr.min(j0 + cols - first);
        for (l, dst) in panel.chunks_exact_mut(nr).enumerate() {
            let start = offset(pc + l, first, b.row_stride, b.col_stride);
            if b.col_stride == 1 {
                dst[..w].copy_from_slice(&b.data[start..start + w]);
            } else {
                for (j, d) in dst[..w].iter_mut().enumerate() {
                    *d = b.data[offset(pc + l, first + j, b.row_stride, b.col_stride)];
                }
            }
            dst[w..].fill(0.0);
        }
    }
}
