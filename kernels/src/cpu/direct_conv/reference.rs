//! THE ORACLE: one sum per output element, in `(ic, ky, kx)` order, then the post-ops with the
//! reference activations. Obviously correct rather than fast; it reads weights packed for any
//! block.

use super::{validate, DirectConvParams, PackedConvWeights};
use crate::cpu::activation;
use crate::cpu::matmul::post::apply_post_ops;
use crate::cpu::matmul::{ColumnBlock, PostOp};
use crate::KernelError;

/// Reference [`super::DirectConvFn`].
pub(crate) fn direct_conv(
    p: &DirectConvParams,
    x: &[f32],
    w: &PackedConvWeights,
    mut c: ColumnBlock<'_>,
    post: &[PostOp<'_>],
) -> Result<(), KernelError> {
    let (_, out_w) = validate(p, x, w, &c, post)?;
    let cols = c.columns();
    if cols.is_empty() {
        return Ok(());
    }
    for o in 0..w.out_channels() {
        for j in cols.clone() {
            let sum = output(p, x, w, o, j / out_w, j % out_w);
            let (cell, _) = c
                .segment(o, j, 1)
                .ok_or_else(|| KernelError::out_of_bounds("direct conv: C too small"))?;
            cell[0] = sum;
        }
        let (row, start) = c
            .segment(o, cols.start, cols.len())
            .ok_or_else(|| KernelError::out_of_bounds("direct conv: C too small"))?;
        apply_post_ops(
            row,
            o,
            cols.start,
            start,
            post,
            activation::reference::activate,
        );
    }
    Ok(())
}

/// `C[o, (oy, ox)]` before the post-ops.
fn output(
    p: &DirectConvParams,
    x: &[f32],
    w: &PackedConvWeights,
    o: usize,
    oy: usize,
    ox: usize,
) -> f32 {
    let mut sum = 0.0f32;
    for ic in 0..p.in_channels {
        for ky in 0..p.kernel_h {
            let iy = (oy * p.stride_h + ky).checked_sub(p.pad_top);
            let Some(iy) = iy.filter(|&iy| iy < p.in_h) else {
                continue;
            };
            for kx in 0..p.kernel_w {
                let ix = (ox * p.stride_w + kx).checked_sub(p.pad_left);
                let Some(ix) = ix.filter(|&ix| ix < p.in_w) else {
                    continue;
                };
                let step = (ic * p.kernel_h + ky) * p.kernel_w + kx;
                sum += w.weight(o, step) * x[(ic * p.in_h + iy) * p.in_w + ix];
            }
        }
    }
    sum
}
