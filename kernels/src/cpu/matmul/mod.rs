//! Single-precision GEMM: `C[m×n] = alpha · A[m×k] · B[k×n] + beta · C`, then an optional list of
//! fused post-ops applied while each tile of `C` is stored.
//!
//! Every variant shares this module's contract:
//!
//! * operands are plain slices addressed through element strides ([`GemmParams`]); a transposed
//!   operand is just swapped strides, a broadcast one a zero stride;
//! * every index a call would touch is validated up front ([`validate`]); a bad call returns
//!   [`KernelError`] without writing anything, it never panics or reads out of bounds;
//! * `beta == 0` makes `C` write-only: whatever it held (NaN included) is ignored;
//! * post-ops run in list order on the final value of each element, exactly once.
//!
//! Variants (reached through [`crate::cpu::variants`] and [`crate::cpu::table`]):
//! `reference.rs` (**the oracle**: a plain triple loop) and `blocked.rs` (cache-blocked, packed,
//! register-tiled portable Rust). Hand-written SIMD micro-kernels will plug in beside
//! `blocked` and reuse its packing and tiling driver.

pub(crate) mod blocked;
pub(crate) mod reference;
#[cfg(test)]
mod tests;

use crate::cpu::table;
use crate::KernelError;

/// Shape, strides and scalars of one GEMM call:
/// `C[m×n] = alpha · A[m×k] · B[k×n] + beta · C` (`beta == 0` ⇒ `C` is write-only: NaNs in `C`
/// are ignored).
///
/// Strides are in elements. Element `(i, l)` of `A` is `a[i * a_row_stride + l * a_col_stride]`,
/// so a transposed operand is just swapped strides. Strides are non-negative in practice; a
/// negative stride is accepted only where it can never move an index below zero. `C`'s columns are
/// contiguous and its rows must not overlap (`c_row_stride >= n` when `m > 1`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GemmParams {
    /// Rows of `A` and `C`.
    pub m: usize,
    /// Columns of `B` and `C`.
    pub n: usize,
    /// Columns of `A`, rows of `B` (the reduction length).
    pub k: usize,
    /// Distance between `A[i, l]` and `A[i + 1, l]`.
    pub a_row_stride: isize,
    /// Distance between `A[i, l]` and `A[i, l + 1]`.
    pub a_col_stride: isize,
    /// Distance between `B[l, j]` and `B[l + 1, j]`.
    pub b_row_stride: isize,
    /// Distance between `B[l, j]` and `B[l, j + 1]`.
    pub b_col_stride: isize,
    /// Distance between `C[i, j]` and `C[i + 1, j]`.
    pub c_row_stride: isize,
    /// Scale of the product.
    pub alpha: f32,
    /// Scale of the previous `C`; `0` means `C` is not read at all.
    pub beta: f32,
}

impl GemmParams {
    /// Dense row-major `A[m×k]`, `B[k×n]`, `C[m×n]`, `alpha = 1`, `beta = 0`.
    pub fn row_major(m: usize, n: usize, k: usize) -> Self {
        // Lengths of real slices never exceed isize::MAX elements; saturate instead of wrapping
        // so an absurd shape is rejected by validation rather than silently misaddressed.
        let s = |x: usize| isize::try_from(x).unwrap_or(isize::MAX);
        Self {
            m,
            n,
            k,
            a_row_stride: s(k),
            a_col_stride: 1,
            b_row_stride: s(n),
            b_col_stride: 1,
            c_row_stride: s(n),
            alpha: 1.0,
            beta: 0.0,
        }
    }
}

/// A GEMM kernel without post-ops. Every variant and [`sgemm`] have this type.
pub type SgemmFn = fn(&GemmParams, &[f32], &[f32], &mut [f32]) -> Result<(), KernelError>;

/// A GEMM kernel with a fused post-op list (`post` may be empty). Every variant and
/// [`sgemm_fused`] have this type.
pub type SgemmFusedFn =
    fn(&GemmParams, &[f32], &[f32], &mut [f32], &[PostOp<'_>]) -> Result<(), KernelError>;

/// One step of the fused epilogue, applied to each element of `C` after
/// `alpha · A·B + beta · C`, in list order, while the tile is still in cache.
///
/// This is data, not code: a backend lowers `Gemm + Add(bias) + Relu` into one call with
/// `[BiasPerCol(b), Relu]`. New activations are new variants here plus one arm in
/// `apply_post_ops` in this module, which defines the semantics (and in each variant's
/// in-register tile epilogue, which must match it; the family's proptest checks that).
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum PostOp<'a> {
    /// `c[i, j] += bias[i]`; `bias.len()` must equal `m` (per output channel in a conv).
    BiasPerRow(&'a [f32]),
    /// `c[i, j] += bias[j]`; `bias.len()` must equal `n` (ONNX `Gemm`'s `C` as a row vector).
    BiasPerCol(&'a [f32]),
    /// `c = max(c, 0)`; NaN stays NaN.
    Relu,
    /// `c = min(max(c, min), max)`; NaN stays NaN. Requires `min <= max`, neither NaN.
    Clip {
        /// Lower bound.
        min: f32,
        /// Upper bound.
        max: f32,
    },
}

/// `C = alpha · A·B + beta · C` with the best kernel of this CPU ([`table`]).
pub fn sgemm(p: &GemmParams, a: &[f32], b: &[f32], c: &mut [f32]) -> Result<(), KernelError> {
    (table().sgemm)(p, a, b, c)
}

/// [`sgemm`] followed by the fused `post` ops, with the best kernel of this CPU ([`table`]).
pub fn sgemm_fused(
    p: &GemmParams,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    post: &[PostOp<'_>],
) -> Result<(), KernelError> {
    (table().sgemm_fused)(p, a, b, c, post)
}

/// Checks that every index the call `p` touches lies inside `a`, `b` and `c`, that rows of `C`
/// do not overlap and that `post` fits the shape. Called by every variant before any write.
pub fn validate(
    p: &GemmParams,
    a: &[f32],
    b: &[f32],
    c: &[f32],
    post: &[PostOp<'_>],
) -> Result<(), KernelError> {
    if p.m == 0 || p.n == 0 {
        return Ok(()); // Nothing is read or written.
    }
    if p.k > 0 {
        check_operand("A", a.len(), p.m, p.k, p.a_row_stride, p.a_col_stride)?;
        check_operand("B", b.len(), p.k, p.n, p.b_row_stride, p.b_col_stride)?;
    }
    check_operand("C", c.len(), p.m, p.n, p.c_row_stride, 1)?;
    if p.m > 1 && p.c_row_stride < to_isize(p.n)? {
        return Err(KernelError::invalid(format!(
            "rows of C overlap: c_row_stride {} < n {}",
            p.c_row_stride, p.n
        )));
    }
    for op in post {
        match *op {
            PostOp::BiasPerRow(bias) if bias.len() != p.m => {
                return Err(KernelError::out_of_bounds(format!(
                    "BiasPerRow has {} elements, m is {}",
                    bias.len(),
                    p.m
                )));
            }
            PostOp::BiasPerCol(bias) if bias.len() != p.n => {
                return Err(KernelError::out_of_bounds(format!(
                    "BiasPerCol has {} elements, n is {}",
                    bias.len(),
                    p.n
                )));
            }
            PostOp::Clip { min, max } if min.is_nan() || max.is_nan() || min > max => {
                return Err(KernelError::invalid(format!(
                    "Clip needs min <= max, got [{min}, {max}]"
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

fn to_isize(x: usize) -> Result<isize, KernelError> {
    isize::try_from(x).map_err(|_| KernelError::invalid(format!("dimension {x} overflows isize")))
}

/// Checks a `rows × cols` operand (both non-zero) addressed from offset 0 with the given strides.
fn check_operand(
    name: &str,
    len: usize,
    rows: usize,
    cols: usize,
    row_stride: isize,
    col_stride: isize,
) -> Result<(), KernelError> {
    let overflow = || KernelError::invalid(format!("{name}: offsets overflow isize"));
    let extent = |d: usize, s: isize| to_isize(d - 1)?.checked_mul(s).ok_or_else(overflow);
    let (er, ec) = (extent(rows, row_stride)?, extent(cols, col_stride)?);
    let lowest = er.min(0).checked_add(ec.min(0)).ok_or_else(overflow)?;
    let highest = er.max(0).checked_add(ec.max(0)).ok_or_else(overflow)?;
    if lowest < 0 {
        return Err(KernelError::out_of_bounds(format!(
            "{name}: strides ({row_stride}, {col_stride}) reach offset {lowest} < 0"
        )));
    }
    // `highest >= 0` here, so the cast is lossless.
    if highest as usize >= len {
        return Err(KernelError::out_of_bounds(format!(
            "{name}: {rows}×{cols} with strides ({row_stride}, {col_stride}) needs {} elements, \
             slice has {len}",
            highest as usize + 1
        )));
    }
    Ok(())
}

/// Offset of element `(r, c)` of a validated operand. Only called with indices inside the
/// validated shape, where the result is known to be in `0..len`.
#[inline(always)]
pub(crate) fn offset(r: usize, c: usize, row_stride: isize, col_stride: isize) -> usize {
    (r as isize * row_stride + c as isize * col_stride) as usize
}

/// Applies `post` to `row`, which holds `C[i, j0 .. j0 + row.len()]`. This function is the
/// definition of each post-op's semantics; every variant must match it.
#[inline(always)]
pub(crate) fn apply_post_ops(row: &mut [f32], i: usize, j0: usize, post: &[PostOp<'_>]) {
    for op in post {
        match *op {
            PostOp::BiasPerRow(bias) => {
                let v = bias[i];
                row.iter_mut().for_each(|x| *x += v);
            }
            PostOp::BiasPerCol(bias) => {
                let bias = &bias[j0..j0 + row.len()];
                row.iter_mut().zip(bias).for_each(|(x, v)| *x += v);
            }
            PostOp::Relu => row.iter_mut().for_each(|x| *x = relu(*x)),
            PostOp::Clip { min, max } => row.iter_mut().for_each(|x| *x = clip(*x, min, max)),
        }
    }
}

/// `max(x, 0)` by comparison, not `f32::max`, so NaN stays NaN (as in ONNX runtimes).
#[inline(always)]
pub(crate) fn relu(x: f32) -> f32 {
    if x < 0.0 {
        0.0
    } else {
        x
    }
}

/// `min(max(x, min), max)` by comparison, so NaN stays NaN.
#[inline(always)]
pub(crate) fn clip(x: f32, min: f32, max: f32) -> f32 {
    if x < min {
        min
    } else if x > max {
        max
    } else {
        x
    }
}

/// `C = beta · C` (or `0` when `beta == 0`) followed by `post`: the whole job when `k == 0`.
pub(crate) fn scale_c_only(p: &GemmParams, c: &mut [f32], post: &[PostOp<'_>]) {
    for i in 0..p.m {
        let start = offset(i, 0, p.c_row_stride, 1);
        let row = &mut c[start..start + p.n];
        if p.beta == 0.0 {
            row.fill(0.0);
        } else {
            row.iter_mut().for_each(|x| *x *= p.beta);
        }
        apply_post_ops(row, i, 0, post);
    }
}
