//! Lowering of elementwise ONNX ops.

use super::NodeCx;
use crate::ir::ops::elementwise::{Binary, ElementwiseOp, Unary};
use crate::ir::Op;
use crate::Result;

/// `None` when the op type is not of this family.
pub(super) fn lower(cx: &NodeCx<'_>) -> Option<Result<Op>> {
    let op = match cx.op_type() {
        "Relu" => ElementwiseOp::Unary(Unary::Relu),
        "Add" => ElementwiseOp::Binary(Binary::Add),
        _ => return None,
    };
    Some(Ok(Op::Elementwise(op)))
}
