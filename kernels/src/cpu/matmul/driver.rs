//! The BLIS loop nest shared by every optimised variant; a variant only supplies its
//! [`MicroKernel`] (one register tile of `C`).
//!
//! For each `NC`-wide column block of `B` and `kc`-deep slice of the reduction, the `B` panels
//! come from a [`PackedB`](super::PackedB) or are packed here (`NC·kc` floats, meant for L2/L3);
//! for each `MC`-tall row block of `A`, the `A` panels likewise (`MC·kc`, meant for L2); then
//! every `mr×nr` tile of `C` is one micro-kernel call over two contiguous panels. A tile that
//! lies wholly inside `C` is stored by the micro-kernel itself; an edge tile goes through a
//! small buffer and only its valid part is copied. Post-ops are applied to each tile right
//! after its last depth slice is stored, while it is in L1.

use std::cell::RefCell;

use super::packing::{pack_a_panels, pack_b_panels};
use super::{post, scale_c_only, validate_block, validate_gemm, AOperand, BOperand};
use super::{ColumnBlock, Gemm, GemmParams, PostOp, TileShape};
use crate::cpu::activation::ActivateFn;
use crate::KernelError;

/// The largest `mr · nr` of any micro-kernel (the edge-tile buffer's size).
pub(crate) const MAX_TILE: usize = 512;

/// One register tile: `C[mr×nr] = alpha · Σ_l a[l][..mr] ⊗ b[l][..nr] + beta · C`.
pub(crate) trait MicroKernel {
    /// Tile and default depth slice.
    const TILE: TileShape;
    /// Rows of `A` packed per block (a multiple of `TILE.mr`; `MC · kc` floats fit in L2).
    const MC: usize;
    /// Columns of `B` packed per block (a multiple of `TILE.nr`).
    const NC: usize;

    /// Computes one tile over a depth of `kc`.
    ///
    /// # Safety
    /// `a` holds `kc · mr` and `b` `kc · nr` floats (packed panels); `c` points to `mr` rows of
    /// `nr` writable floats, row `r` starting at `c + r · ldc`; `beta == 0` means `C` is not
    /// read. The CPU supports the kernel's instruction set (the kernel table checked it).
    unsafe fn tile(kc: usize, a: &[f32], b: &[f32], c: *mut f32, ldc: usize, alpha: f32, beta: f32);
}

/// Packing buffers, reused across calls on one thread so a hot loop does not allocate.
struct Scratch {
    a: Vec<f32>,
    b: Vec<f32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = const { RefCell::new(Scratch { a: Vec::new(), b: Vec::new() }) };
}

/// [`super::SgemmFn`] for micro-kernel `K`.
pub(crate) fn sgemm<K: MicroKernel>(
    p: &GemmParams,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
) -> Result<(), KernelError> {
    gemm::<K>(&Gemm::strided(p, a, b), c, &[])
}

/// [`super::SgemmFusedFn`] for micro-kernel `K`.
pub(crate) fn sgemm_fused<K: MicroKernel>(
    p: &GemmParams,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    post: &[PostOp<'_>],
) -> Result<(), KernelError> {
    gemm::<K>(&Gemm::strided(p, a, b), c, post)
}

/// [`super::GemmFn`] for micro-kernel `K`.
pub(crate) fn gemm<K: MicroKernel>(
    g: &Gemm<'_>,
    c: &mut [f32],
    post: &[PostOp<'_>],
) -> Result<(), KernelError> {
    validate_gemm(g, c, post)?;
    gemm_block::<K>(g, ColumnBlock::whole(c, g.m, g.n, g.c_row_stride), post)
}

/// [`super::GemmBlockFn`] for micro-kernel `K`.
pub(crate) fn gemm_block<K: MicroKernel>(
    g: &Gemm<'_>,
    mut c: ColumnBlock<'_>,
    post: &[PostOp<'_>],
) -> Result<(), KernelError> {
    validate_block(g, &c, post)?;
    check_packing(g, K::TILE)?;
    let activate = crate::cpu::table().activate;
    if g.m == 0 || c.columns().is_empty() {
        return Ok(());
    }
    if g.k == 0 {
        scale_c_only(g, &mut c, post, activate);
        return Ok(());
    }
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => {
            let s = &mut *s;
            drive::<K>(g, &mut c, post, activate, &mut s.a, &mut s.b);
        }
        // Unreachable today (nothing inside `drive` re-enters GEMM); allocate rather than panic.
        Err(_) => drive::<K>(g, &mut c, post, activate, &mut Vec::new(), &mut Vec::new()),
    });
    Ok(())
}

/// A packed operand must match the micro-kernel's panel width.
fn check_packing(g: &Gemm<'_>, tile: TileShape) -> Result<(), KernelError> {
    let mismatch = |what: &str, got: TileShape| {
        KernelError::invalid(format!(
            "{what} was packed for tile {got:?}, this kernel uses {tile:?}"
        ))
    };
    if let AOperand::Packed(pa) = g.a {
        if pa.tile().mr != tile.mr {
            return Err(mismatch("A", pa.tile()));
        }
    }
    if let BOperand::Packed(pb) = g.b {
        if pb.tile().nr != tile.nr {
            return Err(mismatch("B", pb.tile()));
        }
    }
    Ok(())
}

/// The loop nest over the block's columns. `g` and `post` are validated, `m, k > 0`.
fn drive<K: MicroKernel>(
    g: &Gemm<'_>,
    c: &mut ColumnBlock<'_>,
    post: &[PostOp<'_>],
    activate: ActivateFn,
    a_scratch: &mut Vec<f32>,
    b_scratch: &mut Vec<f32>,
) {
    let TileShape { mr, nr, .. } = K::TILE;
    // A packed operand fixes the depth slicing; both packed ones agree (validated).
    let kc = match (g.a, g.b) {
        (AOperand::Packed(pa), _) => pa.tile().kc,
        (_, BOperand::Packed(pb)) => pb.tile().kc,
        _ => K::TILE.kc,
    };
    let columns = c.columns();
    for jc in (columns.start..columns.end).step_by(K::NC) {
        let nc = K::NC.min(columns.end - jc);
        for pc in (0..g.k).step_by(kc) {
            let kcb = kc.min(g.k - pc);
            let first = pc == 0;
            let last = pc + kcb == g.k;
            let b_panels: &[f32] = match g.b {
                BOperand::Packed(pb) => pb.panels(pc, kcb, jc),
                BOperand::Strided(b) => {
                    b_scratch.resize(nc.div_ceil(nr) * nr * kcb, 0.0);
                    pack_b_panels(b_scratch, b, pc, kcb, jc, nc, nr);
                    b_scratch
                }
                BOperand::Im2Col(b) => {
                    b_scratch.resize(nc.div_ceil(nr) * nr * kcb, 0.0);
                    b.pack_panels(b_scratch, pc, kcb, jc, nc, nr);
                    b_scratch
                }
            };
            for ic in (0..g.m).step_by(K::MC) {
                let mc = K::MC.min(g.m - ic);
                let a_panels: &[f32] = match g.a {
                    AOperand::Packed(pa) => pa.panels(pc, kcb, ic),
                    AOperand::Strided(a) => {
                        a_scratch.resize(mc.div_ceil(mr) * mr * kcb, 0.0);
                        pack_a_panels(a_scratch, a, ic, mc, pc, kcb, mr);
                        a_scratch
                    }
                };
                let beta = if first { g.beta } else { 1.0 };
                let b_iter = b_panels.chunks_exact(kcb * nr).take(nc.div_ceil(nr));
                for (jr, b_panel) in b_iter.enumerate() {
                    let j0 = jc + jr * nr;
                    let w = nr.min(jc + nc - j0);
                    let a_iter = a_panels.chunks_exact(kcb * mr).take(mc.div_ceil(mr));
                    for (ir, a_panel) in a_iter.enumerate() {
                        let i0 = ic + ir * mr;
                        let h = mr.min(ic + mc - i0);
                        let tile = Tile { i0, j0, h, w };
                        store_tile::<K>(g, c, tile, kcb, a_panel, b_panel, beta);
                        if last {
                            post::apply_to_block(c, i0, h, j0, w, post, activate);
                        }
                    }
                }
            }
        }
    }
}

/// The part `h × w` of an `mr × nr` tile at `(i0, j0)` that lies inside `C`.
#[derive(Clone, Copy)]
struct Tile {
    i0: usize,
    j0: usize,
    h: usize,
    w: usize,
}

/// `C[tile] = alpha · A_panel · B_panel + beta · C[tile]`.
#[inline(always)]
fn store_tile<K: MicroKernel>(
    g: &Gemm<'_>,
    c: &mut ColumnBlock<'_>,
    t: Tile,
    kcb: usize,
    a_panel: &[f32],
    b_panel: &[f32],
    beta: f32,
) {
    let TileShape { mr, nr, .. } = K::TILE;
    if t.h == mr && t.w == nr {
        if let Some((ptr, ldc)) = c.tile_ptr(t.i0, t.j0, mr, nr) {
            // SAFETY: the panels hold `kcb·mr` / `kcb·nr` floats (chunks_exact); `tile_ptr`
            // checked that the `mr × nr` tile with row stride `ldc` lies inside the block; the
            // kernel table only hands out `K` on CPUs that support it.
            unsafe { K::tile(kcb, a_panel, b_panel, ptr, ldc, g.alpha, beta) };
            return;
        }
    }
    let mut buf = [0.0f32; MAX_TILE];
    // SAFETY: as above, with `buf` holding `mr · nr <= MAX_TILE` floats at row stride `nr`;
    // `beta == 0` so the buffer is only written.
    unsafe { K::tile(kcb, a_panel, b_panel, buf.as_mut_ptr(), nr, 1.0, 0.0) };
    for (r, acc) in buf.chunks_exact(nr).take(t.h).enumerate() {
        let Some((row, _)) = c.segment(t.i0 + r, t.j0, t.w) else {
            continue; // Unreachable: the tile's valid part lies inside the block.
        };
        if beta == 0.0 {
            row.iter_mut().zip(acc).for_each(|(x, &v)| *x = g.alpha * v);
        } else {
            row.iter_mut()
                .zip(acc)
                .for_each(|(x, &v)| *x = g.alpha * v + beta * *x);
        }
    }
}
