//! THE ORACLE: the scalar reference GEMM every other variant is tested against.
//!
//! A plain triple loop in the order of the definition, accumulating each dot product in `f32`
//! from `l = 0` upwards, then `alpha · sum + beta · c`, then the post-ops. Keep it obviously
//! correct rather than fast; it is also the last-resort fallback (`MOTE_CPU_MAX_ISA=reference`).

use super::{apply_post_ops, offset, scale_c_only, validate, GemmParams, PostOp};
use crate::KernelError;

/// Reference [`super::SgemmFn`].
pub(crate) fn sgemm(
    p: &GemmParams,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
) -> Result<(), KernelError> {
    sgemm_fused(p, a, b, c, &[])
}

/// Reference [`super::SgemmFusedFn`].
pub(crate) fn sgemm_fused(
    p: &GemmParams,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    post: &[PostOp<'_>],
) -> Result<(), KernelError> {
    validate(p, a, b, c, post)?;
    if p.m == 0 || p.n == 0 {
        return Ok(());
    }
    if p.k == 0 {
        scale_c_only(p, c, post);
        return Ok(());
    }
    for i in 0..p.m {
        let row_start = offset(i, 0, p.c_row_stride, 1);
        let row = &mut c[row_start..row_start + p.n];
        for (j, cij) in row.iter_mut().enumerate() {
            let mut sum = 0.0f32;
            for l in 0..p.k {
                let x = a[offset(i, l, p.a_row_stride, p.a_col_stride)];
                let y = b[offset(l, j, p.b_row_stride, p.b_col_stride)];
                sum += x * y;
            }
            *cij = if p.beta == 0.0 {
                p.alpha * sum
            } else {
                p.alpha * sum + p.beta * *cij
            };
        }
        apply_post_ops(row, i, 0, post);
    }
    Ok(())
}
