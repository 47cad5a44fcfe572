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
mod scatter;
mod select;
mod transpose_2d;

use super::{Inputs, Outputs};
use crate::ir::ops::ShapeOp;
use crate::{bail, Result};

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
        ShapeOp::ScatterElements { axis, reduction } => {
            scatter::scatter_elements(ins, out, *axis, *reduction)
        }
        ShapeOp::ScatterNd { reduction } => scatter::scatter_nd(ins, out, *reduction),
        ShapeOp::TensorScatter { axis, circular } => {
            scatter::tensor_scatter(ins, out, *axis, *circular)
        }
        ShapeOp::Pad(attrs) => pad::pad(ins, out, attrs),
        ShapeOp::CenterCropPad { axes } => pad::center_crop_pad(ins, out, axes.as_deref()),
        ShapeOp::Resize(attrs) => resize::resize(ins, out, attrs),
        ShapeOp::Shape { start, end } => generate::shape(ins, out, *start, *end),
        ShapeOp::Size => generate::size(ins, out),
        ShapeOp::ConstantOfShape { value } => generate::constant_of_shape(ins, out, value),
        ShapeOp::Range => generate::range(ins, out),
        ShapeOp::EyeLike { dtype, k } => generate::eye_like(ins, out, *dtype, *k),
        ShapeOp::Trilu { upper } => generate::trilu(ins, out, *upper),
        ShapeOp::OneHot { axis } => generate::one_hot(ins, out, *axis),
        ShapeOp::NonZero => select::non_zero(ins, out),
        ShapeOp::TopK(attrs) => select::top_k(ins, out, attrs),
        ShapeOp::Unique { axis, sorted } => select::unique(ins, out, *axis, *sorted),
        ShapeOp::ReverseSequence {
            batch_axis,
            time_axis,
        } => select::reverse_sequence(ins, out, *batch_axis, *time_axis),
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
