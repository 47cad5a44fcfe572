//! Single-precision GEMM: `C[m×n] = alpha · A[m×k] · B[k×n] + beta · C`, then an optional list of
//! fused post-ops applied while each tile of `C` is still in cache.
//!
//! Every variant shares this module's contract:
//!
//! * operands are plain slices addressed through element strides ([`GemmParams`]); a transposed
//!   operand is just swapped strides, a broadcast one a zero stride. An operand that is used many
//!   times (a layer's weights) can instead be packed once into the kernel's panel layout
//!   ([`PackedA`], [`PackedB`]) and passed to [`Gemm`] as such;
//! * every index a call would touch is validated up front ([`validate`]); a bad call returns
//!   [`KernelError`] without writing anything, it never panics or reads out of bounds;
//! * `beta == 0` makes `C` write-only: whatever it held (NaN included) is ignored;
//! * post-ops run in list order on the final value of each element, exactly once.
//!
//! Variants (reached through [`crate::cpu::variants`] and [`crate::cpu::table`]):
//! `reference.rs` (**the oracle**: a plain triple loop) and one register-tile micro-kernel per
//! instruction set (`generic.rs`, `avx2.rs`, `avx512.rs`, `neon.rs`), all driven by the same
//! BLIS-style loop nest in `driver.rs` over the panels of `packing.rs`.

pub(crate) mod driver;
pub(crate) mod generic;
mod im2col_b;
mod packing;
pub(crate) mod post;
pub(crate) mod reference;
mod target;
#[cfg(test)]
mod tests;

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
pub(crate) mod avx512;
#[cfg(target_arch = "aarch64")]
pub(crate) mod neon;

pub(crate) use driver::MicroKernel;
pub use im2col_b::Im2ColB;
pub use packing::{PackedA, PackedB, TileShape};
pub use target::{split_columns, ColumnBlock};

use crate::cpu::activation::Activation;
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

/// A strided matrix operand: element `(r, c)` is `data[r * row_stride + c * col_stride]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Strided<'a> {
    /// The elements.
    pub data: &'a [f32],
    /// Distance between rows.
    pub row_stride: isize,
    /// Distance between columns.
    pub col_stride: isize,
}

/// The left operand `A[m×k]` of a [`Gemm`].
#[derive(Clone, Copy, Debug)]
pub enum AOperand<'a> {
    /// Read (and packed per call) through strides.
    Strided(Strided<'a>),
    /// Packed once, ahead of time, for this kernel's tile ([`PackedA::pack`]).
    Packed(&'a PackedA),
}

/// The right operand `B[k×n]` of a [`Gemm`].
#[derive(Clone, Copy, Debug)]
pub enum BOperand<'a> {
    /// Read (and packed per call) through strides.
    Strided(Strided<'a>),
    /// Packed once, ahead of time, for this kernel's tile ([`PackedB::pack`]).
    Packed(&'a PackedB),
    /// The column matrix of a 2-D convolution, packed straight from the image.
    Im2Col(Im2ColB<'a>),
}

/// One GEMM call with any mix of strided and pre-packed operands:
/// `C[m×n] = alpha · A·B + beta · C`, `C` row-major with row stride `c_row_stride`.
#[derive(Clone, Copy, Debug)]
pub struct Gemm<'a> {
    /// Rows of `A` and `C`.
    pub m: usize,
    /// Columns of `B` and `C`.
    pub n: usize,
    /// The reduction length.
    pub k: usize,
    /// `A[m×k]`.
    pub a: AOperand<'a>,
    /// `B[k×n]`.
    pub b: BOperand<'a>,
    /// Distance between `C[i, j]` and `C[i + 1, j]`.
    pub c_row_stride: isize,
    /// Scale of the product.
    pub alpha: f32,
    /// Scale of the previous `C`; `0` means `C` is not read at all.
    pub beta: f32,
}

impl<'a> Gemm<'a> {
    /// The call [`GemmParams`] describes on slices `a` and `b`.
    pub fn strided(p: &GemmParams, a: &'a [f32], b: &'a [f32]) -> Self {
        Gemm {
            m: p.m,
            n: p.n,
            k: p.k,
            a: AOperand::Strided(Strided {
                data: a,
                row_stride: p.a_row_stride,
                col_stride: p.a_col_stride,
            }),
            b: BOperand::Strided(Strided {
                data: b,
                row_stride: p.b_row_stride,
                col_stride: p.b_col_stride,
            }),
            c_row_stride: p.c_row_stride,
            alpha: p.alpha,
            beta: p.beta,
        }
    }
}

/// A GEMM kernel without post-ops. Every variant and [`sgemm`] have this type.
pub type SgemmFn = fn(&GemmParams, &[f32], &[f32], &mut [f32]) -> Result<(), KernelError>;

/// A GEMM kernel with a fused post-op list (`post` may be empty). Every variant and
/// [`sgemm_fused`] have this type.
pub type SgemmFusedFn =
    fn(&GemmParams, &[f32], &[f32], &mut [f32], &[PostOp<'_>]) -> Result<(), KernelError>;

/// The general entry point: strided or packed operands, fused post-ops. A packed operand must
/// have been packed for the variant's [`TileShape`] (the reference accepts any).
pub type GemmFn = fn(&Gemm<'_>, &mut [f32], &[PostOp<'_>]) -> Result<(), KernelError>;

/// [`GemmFn`] on one [`ColumnBlock`] of `C` (from [`split_columns`]): computes only that
/// block's columns, so blocks can run on different threads. With a packed `B`, blocks must
/// start at multiples of the tile's `nr`.
pub type GemmBlockFn = fn(&Gemm<'_>, ColumnBlock<'_>, &[PostOp<'_>]) -> Result<(), KernelError>;

/// One step of the fused epilogue, applied to each element of `C` after
/// `alpha · A·B + beta · C`, in list order, while the tile is still in cache.
///
/// This is data, not code: a backend lowers `Conv + Add(bias) + HardSwish + Add(residual)` into
/// one call with `[BiasPerRow(b), Activation(HardSwish), Residual(r)]`. `post.rs` defines the
/// semantics ([`apply_post_ops`]); every variant must match it (the family's proptest checks).
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum PostOp<'a> {
    /// `c[i, j] += bias[i]`; `bias.len()` must equal `m` (per output channel in a conv).
    BiasPerRow(&'a [f32]),
    /// `c[i, j] += bias[j]`; `bias.len()` must equal `n` (ONNX `Gemm`'s `C` as a row vector).
    BiasPerCol(&'a [f32]),
    /// `c[i, j] *= scale[i]`; `scale.len()` must equal `m` (a per-channel scale).
    ScalePerRow(&'a [f32]),
    /// `c = c · scale + shift`, rounded after the product and after the sum (no fused
    /// multiply-add), so a `Mul` by a scalar then an `Add` of one fuse into it exactly.
    Affine {
        /// Factor.
        scale: f32,
        /// Term added after the product.
        shift: f32,
    },
    /// `c = max(c, 0)`; NaN stays NaN.
    Relu,
    /// `c = min(max(c, min), max)`; NaN stays NaN. Requires `min <= max`, neither NaN.
    Clip {
        /// Lower bound.
        min: f32,
        /// Upper bound.
        max: f32,
    },
    /// Any element-wise [`Activation`] (with the accuracy of [`crate::cpu::activation`]).
    Activation(Activation),
    /// `c[i, j] += r[i * c_row_stride + j]`: a residual laid out like `C` (a skip connection).
    Residual(&'a [f32]),
}

/// The tile to pack for when the kernel table's GEMM is the reference (which reads any tile).
pub const DEFAULT_TILE: TileShape = TileShape {
    mr: 8,
    nr: 8,
    kc: 256,
};

/// The tile operands for [`gemm`] must be packed for on this CPU.
pub fn packing_tile() -> TileShape {
    table().sgemm_tile.unwrap_or(DEFAULT_TILE)
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

/// A [`Gemm`] (strided or packed operands) with the best kernel of this CPU ([`table`]); pack
/// operands with [`table`]`().sgemm_tile`.
pub fn gemm(g: &Gemm<'_>, c: &mut [f32], post: &[PostOp<'_>]) -> Result<(), KernelError> {
    (table().gemm)(g, c, post)
}

/// [`gemm`] on one column block of `C` ([`split_columns`]), with the best kernel of this CPU.
pub fn gemm_block(
    g: &Gemm<'_>,
    c: ColumnBlock<'_>,
    post: &[PostOp<'_>],
) -> Result<(), KernelError> {
    (table().gemm_block)(g, c, post)
}

/// Applies `post` to `y`, a run of consecutive elements of row `row` of some `C` that starts
/// at offset `start` of it: `BiasPerRow`/`ScalePerRow` take element `row`, a `Residual` is read
/// from `start` on (laid out like `C`). For epilogues computed outside a GEMM (the depthwise
/// convolution's): the same semantics as a GEMM's post-ops, compiled here with the kernels.
/// `BiasPerCol` has no column to index in a run and is refused.
pub fn apply_post_ops_to_run(
    y: &mut [f32],
    row: usize,
    start: usize,
    post: &[PostOp<'_>],
) -> Result<(), KernelError> {
    post::validate_run(post, row, start, y.len())?;
    post::apply_post_ops(y, row, 0, start, post, table().activate);
    Ok(())
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
    validate_gemm(&Gemm::strided(p, a, b), c, post)
}

/// [`validate`] for a [`Gemm`]: strided operands must lie inside their slices, packed ones must
/// have the call's shape.
pub fn validate_gemm(g: &Gemm<'_>, c: &[f32], post: &[PostOp<'_>]) -> Result<(), KernelError> {
    validate_gemm_len(g, c.len(), post)
}

/// [`validate_gemm`] for a `C` slice of `c_len` elements.
pub(crate) fn validate_gemm_len(
    g: &Gemm<'_>,
    c_len: usize,
    post: &[PostOp<'_>],
) -> Result<(), KernelError> {
    if g.m == 0 || g.n == 0 {
        return Ok(()); // Nothing is read or written.
    }
    match g.a {
        AOperand::Strided(s) if g.k > 0 => {
            check_operand("A", s.data.len(), g.m, g.k, s.row_stride, s.col_stride)?
        }
        AOperand::Packed(pa) if (pa.rows(), pa.depth()) != (g.m, g.k) => {
            return Err(KernelError::invalid(format!(
                "packed A is {}×{}, the call needs {}×{}",
                pa.rows(),
                pa.depth(),
                g.m,
                g.k
            )))
        }
        _ => {}
    }
    match g.b {
        BOperand::Strided(s) if g.k > 0 => {
            check_operand("B", s.data.len(), g.k, g.n, s.row_stride, s.col_stride)?
        }
        BOperand::Im2Col(ic) if (ic.rows(), ic.cols()) != (g.k, g.n) => {
            return Err(KernelError::invalid(format!(
                "the im2col matrix is {}×{}, the call needs {}×{}",
                ic.rows(),
                ic.cols(),
                g.k,
                g.n
            )))
        }
        BOperand::Packed(pb) if (pb.depth(), pb.cols()) != (g.k, g.n) => {
            return Err(KernelError::invalid(format!(
                "packed B is {}×{}, the call needs {}×{}",
                pb.depth(),
                pb.cols(),
                g.k,
                g.n
            )))
        }
        _ => {}
    }
    if let (AOperand::Packed(pa), BOperand::Packed(pb)) = (g.a, g.b) {
        if pa.tile().kc != pb.tile().kc {
            return Err(KernelError::invalid(format!(
                "packed A (kc {}) and packed B (kc {}) slice the depth differently",
                pa.tile().kc,
                pb.tile().kc
            )));
        }
    }
    check_operand("C", c_len, g.m, g.n, g.c_row_stride, 1)?;
    if g.m > 1 && g.c_row_stride < to_isize(g.n)? {
        return Err(KernelError::invalid(format!(
            "rows of C overlap: c_row_stride {} < n {}",
            g.c_row_stride, g.n
        )));
    }
    for op in post {
        let shape = post::CShape {
            m: g.m,
            n: g.n,
            c_row_stride: g.c_row_stride,
        };
        post::validate(op, shape, c_len)?;
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

/// Checks a column block against the call: it must come from a `C` of the call's shape, and
/// with a packed `B` start at a multiple of `nr`.
pub(crate) fn validate_block(
    g: &Gemm<'_>,
    c: &ColumnBlock<'_>,
    post: &[PostOp<'_>],
) -> Result<(), KernelError> {
    validate_gemm_len(g, c.c_len(), post)?;
    let cols = c.columns();
    if c.rows() != g.m || c.row_stride() != g.c_row_stride || cols.end > g.n.max(cols.start) {
        return Err(KernelError::invalid(format!(
            "column block ({} rows, stride {}, columns {cols:?}) is not from this call's C \
             ({}×{}, stride {})",
            c.rows(),
            c.row_stride(),
            g.m,
            g.n,
            g.c_row_stride
        )));
    }
    if let BOperand::Packed(pb) = g.b {
        if cols.start % pb.tile().nr != 0 {
            return Err(KernelError::invalid(format!(
                "with a packed B, column blocks must start at multiples of {}, not {}",
                pb.tile().nr,
                cols.start
            )));
        }
    }
    Ok(())
}

/// `C = beta · C` (or `0` when `beta == 0`) followed by `post`, on the block's columns: the
/// whole job when `k == 0`.
pub(crate) fn scale_c_only(
    g: &Gemm<'_>,
    c: &mut ColumnBlock<'_>,
    post: &[PostOp<'_>],
    activate: crate::cpu::activation::ActivateFn,
) {
    let cols = c.columns();
    for i in 0..g.m {
        if let Some((row, _)) = c.segment(i, cols.start, cols.len()) {
            if g.beta == 0.0 {
                row.fill(0.0);
            } else {
                row.iter_mut().for_each(|x| *x *= g.beta);
            }
        }
    }
    post::apply_to_block(c, 0, g.m, cols.start, cols.len(), post, activate);
}
