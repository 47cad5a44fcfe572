//! CPU evaluation of the data-movement and shape ops. Output shapes come from the same
//! rules as inference (`ir::ops::shape::rules`); moves work on raw bytes so every dtype is
//! covered, and only the ops that compute (resize, range, reductions, top-k...) dispatch on
//! the element type.

mod copy;
mod gather;
mod generate;
mod layout;
mod numeric;
mod pad;
pub(super) mod resize;
// The indexing ops (feature `ops-index`, see `is_core`).
#[cfg(feature = "ops-index")]
mod scatter;
#[cfg(feature = "ops-index")]
mod select;
#[cfg(feature = "ops-index")]
mod sequence;
mod transpose_2d;

use super::{Inputs, Outputs};
use crate::ir::ops::ShapeOp;
use crate::{bail, Result};

/// Whether `op` is compiled in every build: all shape ops but the data-dependent selections,
/// scatters and generated sequences, which need the `ops-index` feature (a CNN, an MLP or an
/// OCR model has none of them once its constants are folded).
pub(super) fn is_core(op: &ShapeOp) -> bool {
    !matches!(
        op,
        ShapeOp::ScatterElements { .. }
            | ShapeOp::ScatterNd { .. }
            | ShapeOp::TensorScatter { .. }
            | ShapeOp::Range
            | ShapeOp::EyeLike { .. }
            | ShapeOp::Trilu { .. }
            | ShapeOp::OneHot { .. }
            | ShapeOp::NonZero
            | ShapeOp::TopK(_)
            | ShapeOp::Unique { .. }
            | ShapeOp::ReverseSequence { .. }
    )
}

pub(super) fn eval(op: &ShapeOp, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    match op {
        ShapeOp::Identity => layout::identity(ins, out),
        ShapeOp::Reshape { allowzero, shape } => {
            layout::reshape(ins, out, *allowzero, shape.as_deref())
        }
        ShapeOp::Flatten { axis } => layout::flatten(ins, out, *axis),
        ShapeOp::Squeeze { axes } => layout::squeeze(ins, out, axes.as_deref()),
        ShapeOp::Unsqueeze { axes } => layout::unsqueeze(ins, out, axes.as_deref()),
        ShapeOp::Transpose { perm } => layout::transpose(ins, out, perm.as_deref()),
        ShapeOp::Concat { axis } => layout::concat(ins, out, *axis),
        ShapeOp::Split(attrs) => layout::split(ins, out, attrs),
        ShapeOp::Slice { attrs } => layout::slice(ins, out, attrs.as_ref()),
        ShapeOp::Expand => layout::expand(ins, out),
        ShapeOp::Tile => layout::tile(ins, out),
        ShapeOp::DepthToSpace { blocksize, mode } => {
            layout::depth_to_space(ins, out, *blocksize, *mode)
        }
        ShapeOp::SpaceToDepth { blocksize, mode } => {
            layout::space_to_depth(ins, out, *blocksize, *mode)
        }
        ShapeOp::Gather { axis } => gather::gather(ins, out, *axis),
        ShapeOp::GatherElements { axis } => gather::gather_elements(ins, out, *axis),
        ShapeOp::GatherNd { batch_dims } => gather::gather_nd(ins, out, *batch_dims),
        ShapeOp::Compress { axis } => gather::compress(ins, out, *axis),
        #[cfg(feature = "ops-index")]
        ShapeOp::ScatterElements { axis, reduction } => {
            scatter::scatter_elements(ins, out, *axis, *reduction)
        }
        #[cfg(feature = "ops-index")]
        ShapeOp::ScatterNd { reduction } => scatter::scatter_nd(ins, out, *reduction),
        #[cfg(feature = "ops-index")]
        ShapeOp::TensorScatter { axis, circular } => {
            scatter::tensor_scatter(ins, out, *axis, *circular)
        }
        ShapeOp::Pad(attrs) => pad::pad(ins, out, attrs),
        ShapeOp::CenterCropPad { axes } => pad::center_crop_pad(ins, out, axes.as_deref()),
        ShapeOp::Resize(attrs) => resize::resize(ins, out, attrs),
        ShapeOp::Shape { start, end } => generate::shape(ins, out, *start, *end),
        ShapeOp::Size => generate::size(ins, out),
        ShapeOp::ConstantOfShape { value } => generate::constant_of_shape(ins, out, value),
        #[cfg(feature = "ops-index")]
        ShapeOp::Range => sequence::range(ins, out),
        #[cfg(feature = "ops-index")]
        ShapeOp::EyeLike { dtype, k } => sequence::eye_like(ins, out, *dtype, *k),
        #[cfg(feature = "ops-index")]
        ShapeOp::Trilu { upper } => sequence::trilu(ins, out, *upper),
        #[cfg(feature = "ops-index")]
        ShapeOp::OneHot { axis } => sequence::one_hot(ins, out, *axis),
        #[cfg(feature = "ops-index")]
        ShapeOp::NonZero => select::non_zero(ins, out),
        #[cfg(feature = "ops-index")]
        ShapeOp::TopK(attrs) => select::top_k(ins, out, attrs),
        #[cfg(feature = "ops-index")]
        ShapeOp::Unique { axis, sorted } => select::unique(ins, out, *axis, *sorted),
        #[cfg(feature = "ops-index")]
        ShapeOp::ReverseSequence {
            batch_axis,
            time_axis,
        } => select::reverse_sequence(ins, out, *batch_axis, *time_axis),
        // The indexing ops this build leaves out (unreachable with `ops-index`).
        #[allow(unreachable_patterns)]
        _ => Err(super::not_compiled(op.name(), "ops-index")),
    }
}

/// The integer values of required input `i`.
fn ints(ins: &Inputs<'_>, i: usize) -> Result<Vec<i64>> {
    ins.get(i)?.to_i64_vec()
}

/// The integer values of optional input `i`.
fn opt_ints(ins: &Inputs<'_>, i: usize) -> Result<Option<Vec<i64>>> {
    ins.opt(i).map(|v| v.to_i64_vec()).transpose()
}

/// An index into a dim of size `dim`: negative counts from the end; out of range is an error.
fn wrap_index(index: i64, dim: usize) -> Result<usize> {
    let d = dim as i64;
    let i = if index < 0 { index + d } else { index };
    if i < 0 || i >= d {
        bail!(argument, "index {index} is out of range for a dim of {dim}");
    }
    Ok(i as usize)
}

#[cfg(test)]
mod tests;
