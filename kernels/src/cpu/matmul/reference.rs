//! THE ORACLE: the scalar reference GEMM every other variant is tested against.
//!
//! A plain triple loop in the order of the definition, accumulating each dot product in `f32`
//! from `l = 0` upwards, then `alpha · sum + beta · c`, then the post-ops (with the reference
//! activations). Keep it obviously correct rather than fast; it is also the last-resort fallback
//! (`MOTE_CPU_MAX_ISA=reference`). It reads packed operands element by element, whatever tile
//! they were packed for.

use super::{offset, post, scale_c_only, validate_block, validate_gemm, AOperand, BOperand};
use super::{ColumnBlock, Gemm, GemmParams, PostOp};
use crate::cpu::activation;
use crate::KernelError;

/// Reference [`super::SgemmFn`].
pub(crate) fn sgemm(
    p: &GemmParams,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
) -> Result<(), KernelError> {
    gemm(&Gemm::strided(p, a, b), c, &[])
}

/// Reference [`super::SgemmFusedFn`].
pub(crate) fn sgemm_fused(
    p: &GemmParams,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    post: &[PostOp<'_>],
) -> Result<(), KernelError> {
    gemm(&Gemm::strided(p, a, b), c, post)
}

/// Reference [`super::GemmFn`].
pub(crate) fn gemm(g: &Gemm<'_>, c: &mut [f32], post: &[PostOp<'_>]) -> Result<(), KernelError> {
    validate_gemm(g, c, post)?;
    gemm_block(g, ColumnBlock::whole(c, g.m, g.n, g.c_row_stride), post)
}

/// Reference [`super::GemmBlockFn`].
pub(crate) fn gemm_block(
    g: &Gemm<'_>,
    mut c: ColumnBlock<'_>,
    post: &[PostOp<'_>],
) -> Result<(), KernelError> {
    validate_block(g, &c, post)?;
    let activate = activation::reference::activate;
    let cols = c.columns();
    if g.m == 0 || cols.is_empty() {
        return Ok(());
    }
    if g.k == 0 {
        scale_c_only(g, &mut c, post, activate);
        return Ok(());
    }
    let a_at = |i: usize, l: usize| match g.a {
        AOperand::Strided(s) => s.data[offset(i, l, s.row_stride, s.col_stride)],
        AOperand::Packed(p) => p.get(i, l),
    };
    let b_at = |l: usize, j: usize| match g.b {
        BOperand::Strided(s) => s.data[offset(l, j, s.row_stride, s.col_stride)],
        BOperand::Packed(p) => p.get(l, j),
        BOperand::Im2Col(m) => m.get(l, j),
    };
    for i in 0..g.m {
        let Some((row, row_start)) = c.segment(i, cols.start, cols.len()) else {
            continue; // Unreachable: the block was validated against C.
        };
        for (jj, cij) in row.iter_mut().enumerate() {
            let j = cols.start + jj;
            let mut sum = 0.0f32;
            for l in 0..g.k {
                sum += a_at(i, l) * b_at(l, j);
            }
            *cij = if g.beta == 0.0 {
                g.alpha * sum
            } else {
                g.alpha * sum + g.beta * *cij
            };
        }
        post::apply_post_ops(row, i, cols.start, row_start, post, activate);
    }
    Ok(())
}
