//! CPU evaluation of elementwise ops.
//!
//! Layout: `scalar` gives every numeric type the same element-level API (ONNX semantics for
//! integer division, remainders, shifts...), `broadcast` walks broadcast operands row by row
//! so kernels are tight loops over slices, and one module per kind of op does the dtype
//! dispatch and the loops.

mod binary;
mod broadcast;
mod chain;
mod clip;
mod dropout;
mod erf;
mod real;
mod scalar;
mod select;
#[cfg(test)]
mod tests;
mod unary;
mod variadic;
mod widen;

use super::{Inputs, Outputs};
use crate::ir::ops::elementwise::{align_at_axis, ElementwiseOp};
use crate::tensor::TensorView;
use crate::Result;

pub(super) fn eval(op: &ElementwiseOp, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    match op {
        ElementwiseOp::Unary(u) => unary::eval(u, ins, out),
        ElementwiseOp::Binary(b) => binary::eval(*b, ins.get(0)?, ins.get(1)?, ins.threads(), out),
        ElementwiseOp::BinaryAtAxis { op, axis } => {
            let (a, b) = (ins.get(0)?, ins.get(1)?);
            let aligned = align_at_axis(a.rank(), b.shape, *axis)?;
            binary::eval(
                *op,
                a,
                TensorView {
                    shape: &aligned,
                    ..b
                },
                ins.threads(),
                out,
            )
        }
        ElementwiseOp::Variadic(v) => variadic::eval(*v, ins, out),
        ElementwiseOp::Where => select::eval(ins, out),
        ElementwiseOp::Clip(c) => clip::eval(c, ins, out),
        ElementwiseOp::Dropout(d) => dropout::eval(d, ins, out),
        ElementwiseOp::Chain(steps) => chain::eval(steps, ins, out),
    }
}
