//! The semantics of the fused epilogue ([`PostOp`]): validation, and application to a block of
//! `C` that the driver has just stored (still in L1). Every variant runs its epilogue through
//! [`apply_to_block`], so the variants differ only in how they compute the product.

use super::{offset, ColumnBlock, PostOp};
use crate::cpu::activation::ActivateFn;
use crate::KernelError;

/// The shape of the `C` a post-op list is applied to: `m × n`, rows `c_row_stride` apart.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CShape {
    pub(crate) m: usize,
    pub(crate) n: usize,
    pub(crate) c_row_stride: isize,
}

/// Checks that `op` fits a `C` of shape `g` (already validated, `m, n > 0`) whose slice has
/// `c_len` elements.
pub(crate) fn validate(op: &PostOp<'_>, g: CShape, c_len: usize) -> Result<(), KernelError> {
    let per_row = |name: &str, len: usize| {
        if len == g.m {
            Ok(())
        } else {
            Err(KernelError::out_of_bounds(format!(
                "{name} has {len} elements, m is {}",
                g.m
            )))
        }
    };
    match *op {
        PostOp::BiasPerRow(bias) => per_row("BiasPerRow", bias.len()),
        PostOp::ScalePerRow(scale) => per_row("ScalePerRow", scale.len()),
        PostOp::BiasPerCol(bias) if bias.len() != g.n => Err(KernelError::out_of_bounds(format!(
            "BiasPerCol has {} elements, n is {}",
            bias.len(),
            g.n
        ))),
        PostOp::Clip { min, max } if min.is_nan() || max.is_nan() || min > max => Err(
            KernelError::invalid(format!("Clip needs min <= max, got [{min}, {max}]")),
        ),
        PostOp::Activation(act) => act.validate(),
        PostOp::Residual(r) => {
            // `C` itself was validated: its last element is at `(m-1)·c_row_stride + n - 1`,
            // which is below `c_len`; the residual needs the same extent.
            let needed = offset(g.m - 1, g.n - 1, g.c_row_stride, 1) + 1;
            debug_assert!(needed <= c_len);
            if r.len() < needed {
                Err(KernelError::out_of_bounds(format!(
                    "Residual has {} elements, C's layout needs {needed}",
                    r.len()
                )))
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

/// Checks that `post` fits a run of `len` elements of row `row` starting at offset `start`
/// of `C` (see [`super::apply_post_ops_to_run`]).
pub(crate) fn validate_run(
    post: &[PostOp<'_>],
    row: usize,
    start: usize,
    len: usize,
) -> Result<(), KernelError> {
    for op in post {
        match *op {
            PostOp::BiasPerRow(v) | PostOp::ScalePerRow(v) if row >= v.len() => {
                return Err(KernelError::out_of_bounds(format!(
                    "{op:?} has {} elements, the run is in row {row}",
                    v.len()
                )))
            }
            PostOp::BiasPerCol(_) => {
                return Err(KernelError::invalid(
                    "BiasPerCol needs a column index, which a run has not",
                ))
            }
            PostOp::Residual(r) if start.checked_add(len).is_none_or(|end| end > r.len()) => {
                return Err(KernelError::out_of_bounds(format!(
                    "Residual has {} elements, the run needs {start}..{start} + {len}",
                    r.len()
                )))
            }
            PostOp::Clip { min, max } if min.is_nan() || max.is_nan() || min > max => {
                return Err(KernelError::invalid(format!(
                    "Clip needs min <= max, got [{min}, {max}]"
                )))
            }
            PostOp::Activation(act) => act.validate()?,
            _ => {}
        }
    }
    Ok(())
}

/// Applies `post` to `row`, which holds `C[i, j0 .. j0 + row.len()]` and starts at offset
/// `start` of `C` (where a residual is read). This function is the definition of each post-op's
/// semantics.
#[inline(always)]
pub(crate) fn apply_post_ops(
    row: &mut [f32],
    i: usize,
    j0: usize,
    start: usize,
    post: &[PostOp<'_>],
    activate: ActivateFn,
) {
    for op in post {
        match *op {
            PostOp::BiasPerRow(bias) => {
                let v = bias[i];
                row.iter_mut().for_each(|x| *x += v);
            }
            PostOp::ScalePerRow(scale) => {
                let v = scale[i];
                row.iter_mut().for_each(|x| *x *= v);
            }
            PostOp::BiasPerCol(bias) => {
                let bias = &bias[j0..j0 + row.len()];
                row.iter_mut().zip(bias).for_each(|(x, v)| *x += v);
            }
            PostOp::Affine { scale, shift } => row.iter_mut().for_each(|x| *x = *x * scale + shift),
            PostOp::Relu => row.iter_mut().for_each(|x| *x = relu(*x)),
            PostOp::Clip { min, max } => row.iter_mut().for_each(|x| *x = clip(*x, min, max)),
            PostOp::Activation(act) => activate(act, row),
            PostOp::Residual(r) => {
                let r = &r[start..start + row.len()];
                row.iter_mut().zip(r).for_each(|(x, v)| *x += v);
            }
        }
    }
}

/// Applies `post` to rows `i0..i0 + rows`, columns `j0..j0 + cols` of `c` (inside the block).
#[allow(clippy::too_many_arguments)] // A block of C is four numbers; a struct would only rename them.
#[inline]
pub(crate) fn apply_to_block(
    c: &mut ColumnBlock<'_>,
    i0: usize,
    rows: usize,
    j0: usize,
    cols: usize,
    post: &[PostOp<'_>],
    activate: ActivateFn,
) {
    if post.is_empty() {
        return;
    }
    for i in i0..i0 + rows {
        if let Some((row, start)) = c.segment(i, j0, cols) {
            apply_post_ops(row, i, j0, start, post, activate);
        }
    }
}

/// `max(x, 0)` by comparison, not `f32::max`, so NaN stays NaN (as in ONNX runtimes).
#[inline(always)]
fn relu(x: f32) -> f32 {
    if x < 0.0 {
        0.0
    } else {
        x
    }
}

/// `min(max(x, min), max)` by comparison, so NaN stays NaN.
#[inline(always)]
fn clip(x: f32, min: f32, max: f32) -> f32 {
    if x < min {
        min
    } else if x > max {
        max
    } else {
        x
    }
}
