//! QOperator models (`QLinearConv`, `QLinearMatMul` with constant weights and quantization
//! parameters) → `QConv` / `QMatMul`.
//!
//! The two ONNX ops already are 8-bit in, 8-bit out with `i32` accumulation; what they lack is
//! the constant-ness the fast kernels need (packed weights, per-channel multipliers known at
//! load). When their scales, zero points, weights and bias are constants, the node is the same
//! computation as the folded op, so it is relabelled in place: its readers (other QOperator
//! ops, or `DequantizeLinear` nodes from an expanded `com.microsoft` op) see the same 8-bit
//! value, and the QDQ fold that follows merges tables into it as into any `QConv`.
//!
//! Both ops requantize with `round_half_even(acc · x_scale · w_scale / y_scale) + y_zero_point`;
//! the kernels form that product in `f32` where the reference evaluator uses the scales' own
//! precision, so the two can differ by one step where a product falls on a tie.
//!
//! Nodes whose parameters are graph inputs (the ONNX node tests feed everything so) keep the
//! reference implementations.

use super::per_tensor;
use crate::ir::ops::quant::{ConvAttrs, QConv, QMatMul, Quant8, QuantOp};
use crate::ir::{Graph, Op, ValueId};
use crate::DType;
use std::sync::Arc;

/// Rewrites every eligible `QLinearConv` / `QLinearMatMul`; whether any was.
pub(super) fn fold(graph: &mut Graph) -> bool {
    let mut changed = false;
    for index in 0..graph.nodes.len() {
        let node = &graph.nodes[index];
        let op = match &node.op {
            Op::Quant(QuantOp::QLinearConv(attrs)) => qlinear_conv(graph, &node.inputs, attrs),
            Op::Quant(QuantOp::QLinearMatMul) => qlinear_matmul(graph, &node.inputs),
            _ => None,
        };
        if let Some((op, inputs)) = op {
            let node = &mut graph.nodes[index];
            node.op = Op::Quant(op);
            node.inputs = inputs;
            changed = true;
        }
    }
    changed
}

/// `QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, bias)` → `QConv(x, w,
/// bias)`.
fn qlinear_conv(
    graph: &Graph,
    inputs: &[Option<ValueId>],
    attrs: &ConvAttrs,
) -> Option<(QuantOp, Vec<Option<ValueId>>)> {
    let input = |i: usize| inputs.get(i).copied().flatten();
    let x = input(0)?;
    let (xq, yq) = activations(graph, inputs)?;
    let w = input(3)?;
    let shape = graph.constant(w)?.shape().to_vec();
    let channels = *shape.first()?;
    let (w_scale, w_zero_point) = weight_parameters(graph, w, input(4)?, input(5), channels)?;
    let bias = input(8);
    if let Some(b) = bias {
        let b = graph.constant(b)?;
        if b.dtype() != DType::I32 || b.shape() != [channels] {
            return None;
        }
    }
    let op = QConv {
        conv: attrs.to_conv()?,
        x: xq,
        w_scale,
        w_zero_point,
        y: yq,
        lut: None,
    };
    Some((QuantOp::QConv(Box::new(op)), vec![Some(x), Some(w), bias]))
}

/// `QLinearMatMul(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp)` with a constant 2-D `b`
/// → `QMatMul(a, b)`.
fn qlinear_matmul(
    graph: &Graph,
    inputs: &[Option<ValueId>],
) -> Option<(QuantOp, Vec<Option<ValueId>>)> {
    let input = |i: usize| inputs.get(i).copied().flatten();
    let a = input(0)?;
    let (aq, yq) = activations(graph, inputs)?;
    let b = input(3)?;
    let shape = graph.constant(b)?.shape().to_vec();
    let [_, columns] = shape[..] else {
        return None;
    };
    let (w_scale, w_zero_point) = weight_parameters(graph, b, input(4)?, input(5), columns)?;
    let op = QMatMul {
        trans_b: false,
        a: aq,
        w_scale,
        w_zero_point,
        y: yq,
        lut: None,
    };
    Some((QuantOp::QMatMul(Box::new(op)), vec![Some(a), Some(b), None]))
}

/// The input's (inputs 0–2) and output's (inputs 6–7) per-tensor quantization; the output's
/// type is its zero point's, or the input's without one (as the reference evaluator decides).
fn activations(graph: &Graph, inputs: &[Option<ValueId>]) -> Option<(Quant8, Quant8)> {
    let input = |i: usize| inputs.get(i).copied().flatten();
    let x_zp = input(2);
    let x_dtype = match x_zp {
        Some(z) => graph.constant(z)?.dtype(),
        None => graph.value(input(0)?).dtype?,
    };
    let xq = per_tensor(graph, input(1)?, x_zp, x_dtype)?;
    let y_zp = input(7);
    let y_dtype = match y_zp {
        Some(z) => graph.constant(z)?.dtype(),
        None => x_dtype,
    };
    let yq = per_tensor(graph, input(6)?, y_zp, y_dtype)?;
    Some((xq, yq))
}

/// Constant 8-bit weights' scales and zero points, one each or one per output channel
/// (`channels`), as equally long lists.
fn weight_parameters(
    graph: &Graph,
    w: ValueId,
    scale: ValueId,
    zero_point: Option<ValueId>,
    channels: usize,
) -> Option<(Vec<f32>, Vec<i32>)> {
    let w = graph.constant(w)?;
    let dtype = w.dtype();
    if !matches!(dtype, DType::U8 | DType::I8) {
        return None;
    }
    let scale = graph.constant(scale)?;
    if scale.dtype() != DType::F32 || !one_or_per_channel(scale, channels) {
        return None;
    }
    let mut scales = scale.as_slice::<f32>().ok()?.to_vec();
    if scales.iter().any(|s| !s.is_finite() || *s <= 0.0) {
        return None;
    }
    let mut zero_points = match zero_point {
        None => vec![0],
        Some(z) => {
            let z = graph.constant(z)?;
            if z.dtype() != dtype || !one_or_per_channel(z, channels) {
                return None;
            }
            match dtype {
                DType::U8 => z.as_slice::<u8>().ok()?.iter().map(|&v| v as i32).collect(),
                _ => z.as_slice::<i8>().ok()?.iter().map(|&v| v as i32).collect(),
            }
        }
    };
    // `QConv` / `QMatMul` want the two lists aligned: widen a lone one to the other's length.
    let len = scales.len().max(zero_points.len());
    if scales.len() == 1 {
        scales = vec![scales[0]; len];
    }
    if zero_points.len() == 1 {
        zero_points = vec![zero_points[0]; len];
    }
    Some((scales, zero_points))
}

/// A scalar (any rank, one element) or a 1-D list of `channels` values.
fn one_or_per_channel(t: &Arc<crate::Tensor>, channels: usize) -> bool {
    t.len() == 1 || t.shape() == [channels]
}
