//! Lowering of `NegativeLogLikelihoodLoss` and `SoftmaxCrossEntropyLoss` (opsets 12 and 13
//! differ only in the types they accept).

use super::NodeCx;
use crate::ir::ops::loss::{ClassLoss, LossOp, Reduction};
use crate::ir::Op;
use crate::Result;

/// `None` when the op type is not of this family.
pub(super) fn lower(cx: &NodeCx<'_>) -> Option<Result<Op>> {
    let op = match cx.op_type() {
        "NegativeLogLikelihoodLoss" => class_loss(cx).map(LossOp::NegativeLogLikelihood),
        "SoftmaxCrossEntropyLoss" => class_loss(cx).map(LossOp::SoftmaxCrossEntropy),
        _ => return None,
    };
    Some(op.map(Op::Loss))
}

fn class_loss(cx: &NodeCx<'_>) -> Result<ClassLoss> {
    let reduction = cx.string_or("reduction", "mean")?;
    let reduction = Reduction::parse(&reduction)
        .ok_or_else(|| cx.invalid(format!("unknown reduction '{reduction}'")))?;
    Ok(ClassLoss {
        reduction,
        ignore_index: cx.int("ignore_index")?,
    })
}
