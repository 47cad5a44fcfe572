//! 2-D transposes of `f32` matrices: `y[n][j, i] = x[n][i, j]` for a batch of `rows × cols`
//! matrices, each side with its own row and batch strides (in elements):
//!
//! `y[n·y_batch_stride + j·y_row_stride + i] = x[n·x_batch_stride + i·x_row_stride + j]`
//! for `n < batch`, `i < rows`, `j < cols`; nothing else in `y` is written.
//!
//! The strides let the runtime run any permutation that, once contiguous axes are merged,
//! swaps the last two axes (`[0, 2, 1]`, `[1, 0]`, `[0, 2, 3, 1]`, ...) as one call, and let a
//! transpose read from or write into a padded layout. A transpose only moves bits, so every
//! variant equals [`reference::transpose`] bit for bit, NaN payloads included.
//!
//! Variants: `reference.rs` (**the oracle**: two plain loops) and one cache-tiled driver
//! (`body.rs`) over per-ISA register-block transposes ([`body::Block`]): 16×16 on AVX-512
//! (unpack + lane shuffles, masked loads and stores on the edges), 8×8 on AVX2 (likewise, scalar
//! edges) and 4×4 on NEON (`trn1`/`trn2`, scalar edges).

pub(crate) mod body;
pub mod bytes;
pub(crate) mod reference;

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
pub(crate) mod avx512;
#[cfg(target_arch = "aarch64")]
pub(crate) mod neon;

#[cfg(test)]
mod tests;

use crate::cpu::{select, table, variants, CpuFeatures, Isa, Kernel, KernelInfo, MaxIsa, Variant};
use crate::KernelError;

/// Geometry of a batch of 2-D transposes (strides in elements).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransposeParams {
    /// Matrices to transpose.
    pub batch: usize,
    /// Rows of each source matrix (columns of each result).
    pub rows: usize,
    /// Columns of each source matrix (rows of each result).
    pub cols: usize,
    /// Distance from `x[n][i, j]` to `x[n][i + 1, j]`.
    pub x_row_stride: usize,
    /// Distance from `x[n][i, j]` to `x[n + 1][i, j]`.
    pub x_batch_stride: usize,
    /// Distance from `y[n][j, i]` to `y[n][j + 1, i]` (`>= rows`: result rows never overlap).
    pub y_row_stride: usize,
    /// Distance from `y[n][j, i]` to `y[n + 1][j, i]` (results never overlap either).
    pub y_batch_stride: usize,
}

impl TransposeParams {
    /// `batch` contiguous, unpadded `rows × cols` matrices into contiguous `cols × rows` ones.
    pub fn contiguous(batch: usize, rows: usize, cols: usize) -> Self {
        let plane = rows.saturating_mul(cols);
        Self {
            batch,
            rows,
            cols,
            x_row_stride: cols,
            x_batch_stride: plane,
            y_row_stride: rows,
            y_batch_stride: plane,
        }
    }
}

/// A transpose kernel: `(params, x, y)`; see the module docs for the layout.
pub type TransposeFn = fn(&TransposeParams, &[f32], &mut [f32]) -> Result<(), KernelError>;

/// Transposes with the best kernel of this CPU ([`table`]).
pub fn transpose(p: &TransposeParams, x: &[f32], y: &mut [f32]) -> Result<(), KernelError> {
    (table().transpose)(p, x, y)
}

/// Checks a call: no offset overflows, both slices reach their last element, and no two
/// result elements share a slot (overlapping writes would make the result depend on the
/// order each variant writes in). Reads may overlap. Every variant calls it before touching
/// anything; an empty transpose (`batch`, `rows` or `cols` zero) is valid and touches nothing.
pub fn validate(p: &TransposeParams, x: &[f32], y: &[f32]) -> Result<(), KernelError> {
    if p.batch == 0 || p.rows == 0 || p.cols == 0 {
        return Ok(());
    }
    let invalid = |what: &str| KernelError::invalid(format!("transpose {p:?}: {what}"));
    if p.cols > 1 && p.y_row_stride < p.rows {
        return Err(invalid("result rows overlap (y_row_stride < rows)"));
    }
    // One past the last element of one matrix, from its first element.
    let extent =
        |lines: usize, stride: usize, len: usize| (lines - 1).checked_mul(stride)?.checked_add(len);
    let (x_plane, y_plane) = (
        extent(p.rows, p.x_row_stride, p.cols),
        extent(p.cols, p.y_row_stride, p.rows),
    );
    let (Some(x_plane), Some(y_plane)) = (x_plane, y_plane) else {
        return Err(invalid("a matrix's extent overflows usize"));
    };
    if p.batch > 1 && p.y_batch_stride < y_plane {
        return Err(invalid(
            "results overlap (y_batch_stride < one result's extent)",
        ));
    }
    let (Some(want_x), Some(want_y)) = (
        extent(p.batch, p.x_batch_stride, x_plane),
        extent(p.batch, p.y_batch_stride, y_plane),
    ) else {
        return Err(invalid("the batch's extent overflows usize"));
    };
    if x.len() < want_x || y.len() < want_y {
        return Err(KernelError::out_of_bounds(format!(
            "transpose: x has {} elements (needs {want_x}), y {} (needs {want_y})",
            x.len(),
            y.len()
        )));
    }
    Ok(())
}

/// One entry of [`crate::cpu::variants`] for this family.
const fn variant(isa: Isa, name: &'static str, reference: bool, f: TransposeFn) -> Variant {
    Variant {
        info: KernelInfo {
            family: "transpose",
            dtype: "f32",
            isa,
            name,
            reference,
        },
        kernel: Kernel::Transpose(f),
    }
}

/// The oracle's registry entry.
pub(crate) const REFERENCE: Variant = variant(
    Isa::Generic,
    "transpose_f32_reference",
    true,
    reference::transpose,
);
/// The AVX2 8×8 blocks' registry entry.
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX2: Variant = variant(Isa::Avx2, "transpose_f32_avx2", false, avx2::transpose);
/// The AVX-512 16×16 blocks' registry entry.
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
pub(crate) const AVX512: Variant = variant(
    Isa::Avx512,
    "transpose_f32_avx512",
    false,
    avx512::transpose,
);
/// The NEON 4×4 blocks' registry entry.
#[cfg(target_arch = "aarch64")]
pub(crate) const NEON: Variant = variant(Isa::Neon, "transpose_f32_neon", false, neon::transpose);

/// The [`crate::cpu::KernelTable`] choice for this family.
pub(crate) fn choose(features: &CpuFeatures, max_isa: Option<MaxIsa>) -> (KernelInfo, TransposeFn) {
    select(variants(), "transpose", "f32", features, max_isa)
        .and_then(|v| Some((v.info, v.transpose()?)))
        .unwrap_or((REFERENCE.info, reference::transpose))
}
