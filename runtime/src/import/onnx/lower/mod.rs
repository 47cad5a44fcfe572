//! ONNX node -> IR op, one module per op family. Each family's `lower` returns `None` for op
//! types it does not own, so this table is the only place that lists the families.

mod elementwise;
mod loss;
mod nn;
mod quant;
mod reduce;
mod rnn;
mod shape;
mod signal;
mod transformer;
mod vision;

use super::node::NodeCx;
use crate::ir::Op;
use crate::{Result, Tensor};

type FamilyLower = fn(&NodeCx<'_>) -> Option<Result<Op>>;

const FAMILIES: &[FamilyLower] = &[
    elementwise::lower,
    nn::lower,
    transformer::lower,
    shape::lower,
    reduce::lower,
    quant::lower,
    rnn::lower,
    vision::lower,
    signal::lower,
    loss::lower,
];

/// Lowers one node, or explains why it cannot be.
pub(crate) fn lower(cx: &NodeCx<'_>) -> Result<Op> {
    for family in FAMILIES {
        if let Some(result) = family(cx) {
            return result;
        }
    }
    Err(cx.unsupported("this operator is not implemented"))
}

/// The value of a `Constant` node.
pub(crate) fn constant_value(cx: &NodeCx<'_>) -> Result<Tensor> {
    if let Some(t) = cx.tensor("value")? {
        return Ok(t);
    }
    if let Some(v) = cx.float("value_float")? {
        return Ok(Tensor::scalar(v));
    }
    if let Some(v) = cx.floats("value_floats")? {
        return Tensor::from_vec(&[v.len()], v);
    }
    if let Some(v) = cx.int("value_int")? {
        return Ok(Tensor::scalar(v));
    }
    if let Some(v) = cx.ints("value_ints")? {
        return Tensor::from_vec(&[v.len()], v);
    }
    if cx.has_attr("sparse_value") || cx.has_attr("value_string") || cx.has_attr("value_strings") {
        return Err(cx.unsupported("sparse and string constants are not supported"));
    }
    Err(cx.invalid("Constant has no value attribute"))
}
