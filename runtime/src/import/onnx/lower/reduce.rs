//! Lowering of reductions, arg-reductions and the cumulative scans `CumSum` / `CumProd`.

use super::NodeCx;
use crate::ir::ops::reduce::{
    ArgKind, ArgReduce, CumKind, Cumulative, Reduce, ReduceKind, ReduceOp,
};
use crate::ir::Op;
use crate::Result;

/// `None` when the op type is not of this family.
pub(super) fn lower(cx: &NodeCx<'_>) -> Option<Result<Op>> {
    let op = match cx.op_type() {
        "ArgMax" => arg(cx, ArgKind::Max),
        "ArgMin" => arg(cx, ArgKind::Min),
        "CumSum" => cumulative(cx, CumKind::Sum),
        "CumProd" => cumulative(cx, CumKind::Prod),
        other => reduce(cx, reduce_kind(other)?),
    };
    Some(op.map(Op::Reduce))
}

fn reduce_kind(op_type: &str) -> Option<ReduceKind> {
    Some(match op_type {
        "ReduceSum" => ReduceKind::Sum,
        "ReduceMean" => ReduceKind::Mean,
        "ReduceMax" => ReduceKind::Max,
        "ReduceMin" => ReduceKind::Min,
        "ReduceProd" => ReduceKind::Prod,
        "ReduceL1" => ReduceKind::L1,
        "ReduceL2" => ReduceKind::L2,
        "ReduceLogSum" => ReduceKind::LogSum,
        "ReduceLogSumExp" => ReduceKind::LogSumExp,
        "ReduceSumSquare" => ReduceKind::SumSquare,
        _ => return None,
    })
}

/// The opset from which the axes of `kind` are an input rather than an attribute.
fn axes_input_since(kind: ReduceKind) -> i64 {
    match kind {
        ReduceKind::Sum => 13,
        _ => 18,
    }
}

fn reduce(cx: &NodeCx<'_>, kind: ReduceKind) -> Result<ReduceOp> {
    let axes_are_input = cx.opset >= axes_input_since(kind);
    let axes = if axes_are_input {
        if cx.has_attr("axes") {
            return Err(cx.invalid("axes is an input from this opset on, not an attribute"));
        }
        None
    } else {
        if cx.has_input(1) {
            return Err(cx.invalid("axes is an attribute before this opset, not an input"));
        }
        Some(cx.ints("axes")?.unwrap_or_default())
    };
    Ok(ReduceOp::Reduce(Reduce {
        kind,
        axes,
        keepdims: cx.int_or("keepdims", 1)? != 0,
        noop_with_empty_axes: cx.int_or("noop_with_empty_axes", 0)? != 0,
    }))
}

fn arg(cx: &NodeCx<'_>, kind: ArgKind) -> Result<ReduceOp> {
    Ok(ReduceOp::Arg(ArgReduce {
        kind,
        axis: cx.int_or("axis", 0)?,
        keepdims: cx.int_or("keepdims", 1)? != 0,
        select_last_index: cx.int_or("select_last_index", 0)? != 0,
    }))
}

fn cumulative(cx: &NodeCx<'_>, kind: CumKind) -> Result<ReduceOp> {
    if !cx.has_input(1) {
        return Err(cx.invalid("the axis input is required"));
    }
    Ok(ReduceOp::Cumulative(Cumulative {
        kind,
        exclusive: cx.int_or("exclusive", 0)? != 0,
        reverse: cx.int_or("reverse", 0)? != 0,
    }))
}
