//! `Conv`, `MatMul` and `Gemm` with dequantized constant weights → `QConv` / `QMatMul`.
//!
//! The weights stay the 8-bit constant the model stores; the float bias is re-expressed in the
//! accumulator's units, `x.scale · w_scale[c]` (onnxruntime's quantizer stores it exactly so, as
//! `i32`, and the division gives those integers back).

use super::{add_constant, constant_f32, dequantize_constants, Site};
use crate::ir::ops::nn::NnOp;
use crate::ir::ops::nn::{ConvTranspose, Padding};
use crate::ir::ops::quant::{QConv, QConvTranspose, QMatMul, Quant8, QuantOp};
use crate::ir::ops::TransformerOp;
use crate::ir::{Graph, Op, ValueId};
use crate::{DType, Result, Tensor};

/// Folds the site if it is a conv or product with quantized constant weights.
pub(super) fn fold(graph: &mut Graph, site: &Site) -> Result<bool> {
    let node = &graph.nodes[site.node];
    let inputs = node.inputs.clone();
    let Some((x, xq)) = site.sources.first().copied().flatten() else {
        return Ok(false);
    };
    if site.variable_sources().len() != 1 {
        return Ok(false);
    }
    let Some(w) = inputs.get(1).copied().flatten() else {
        return Ok(false);
    };
    // (op and its weights, the bias input and its factor, the weight scales, output channels)
    let (op, bias_input, w_scale, channels) = match &node.op {
        Op::Nn(NnOp::Conv(conv)) => {
            let Some(weights) = weights(graph, w, 0) else {
                return Ok(false);
            };
            let op = QConv {
                conv: conv.clone(),
                x: xq,
                w_scale: weights.scale.clone(),
                w_zero_point: weights.zero_point.clone(),
                y: site.y,
                lut: None,
            };
            let bias = inputs.get(2).copied().flatten();
            let channels = weights.shape[0];
            (
                (Op::Quant(QuantOp::QConv(Box::new(op))), weights.id),
                bias.map(|b| (b, 1.0)),
                weights.scale,
                channels,
            )
        }
        Op::Nn(NnOp::ConvTranspose(ct)) => {
            let Some(weights) = weights(graph, w, 1).filter(|w| w.shape.len() == 4) else {
                return Ok(false);
            };
            if !is_patchify(ct, &weights.shape[2..]) {
                return Ok(false);
            }
            let op = QConvTranspose {
                x: xq,
                w_scale: weights.scale.clone(),
                w_zero_point: weights.zero_point.clone(),
                y: site.y,
                lut: None,
            };
            let bias = inputs.get(2).copied().flatten();
            let channels = weights.shape[1];
            (
                (Op::Quant(QuantOp::QConvTranspose(Box::new(op))), weights.id),
                bias.map(|b| (b, 1.0)),
                weights.scale,
                channels,
            )
        }
        Op::Transformer(TransformerOp::MatMul) => {
            let Some(weights) = weights(graph, w, 1).filter(|w| w.shape.len() == 2) else {
                return Ok(false);
            };
            let op = qmatmul(false, xq, &weights, site.y);
            (op, None, weights.scale, weights.shape[1])
        }
        Op::Transformer(TransformerOp::Gemm(g)) => {
            if g.alpha != 1.0 || g.trans_a {
                return Ok(false);
            }
            let axis = if g.trans_b { 0 } else { 1 };
            let Some(weights) = weights(graph, w, axis).filter(|w| w.shape.len() == 2) else {
                return Ok(false);
            };
            let op = qmatmul(g.trans_b, xq, &weights, site.y);
            let bias = inputs.get(2).copied().flatten();
            (
                op,
                bias.map(|b| (b, g.beta)),
                weights.scale,
                weights.shape[axis],
            )
        }
        _ => return Ok(false),
    };
    let bias = match bias_input {
        None => None,
        Some((b, beta)) => {
            let Some(b) = constant_f32(graph, b) else {
                return Ok(false);
            };
            let Some(values) = quantize_bias(&b, beta, xq, &w_scale, channels) else {
                return Ok(false);
            };
            let name = format!("{}_bias_i32", graph.nodes[site.node].name);
            let t = Tensor::from_vec(&[values.len()], values)?;
            Some(add_constant(graph, name, t))
        }
    };
    site.replace(graph, op.0, vec![Some(x), Some(op.1), bias]);
    Ok(true)
}

fn qmatmul(trans_b: bool, a: Quant8, w: &Weights, y: Quant8) -> (Op, ValueId) {
    let op = QMatMul {
        trans_b,
        a,
        w_scale: w.scale.clone(),
        w_zero_point: w.zero_point.clone(),
        y,
        lut: None,
    };
    (Op::Quant(QuantOp::QMatMul(Box::new(op))), w.id)
}

/// Quantized constant weights, per tensor or per slice along the output axis.
struct Weights {
    id: ValueId,
    shape: Vec<usize>,
    scale: Vec<f32>,
    zero_point: Vec<i32>,
}

/// The weights when `w` is a `DequantizeLinear` of an 8-bit constant with one scale, or one per
/// slice along `output_axis`.
fn weights(graph: &Graph, w: ValueId, output_axis: usize) -> Option<Weights> {
    let dq = dequantize_constants(graph, w)?;
    let shape = dq.x.shape().to_vec();
    let rank = shape.len();
    if !matches!(dq.x.dtype(), DType::U8 | DType::I8) || dq.scale.dtype() != DType::F32 {
        return None;
    }
    let scale = dq.scale.as_slice::<f32>().ok()?.to_vec();
    let axis = if dq.axis < 0 {
        dq.axis + rank as i64
    } else {
        dq.axis
    };
    let per_tensor = scale.len() == 1 && dq.scale.shape().iter().all(|&d| d == 1);
    let per_channel = dq.scale.shape().len() == 1
        && axis == output_axis as i64
        && shape.get(output_axis) == Some(&scale.len());
    if rank <= output_axis {
        return None;
    }
    if !(per_tensor || per_channel) || scale.iter().any(|s| !s.is_finite() || *s <= 0.0) {
        return None;
    }
    let zero_point = match &dq.zero_point {
        None => vec![0; scale.len()],
        Some(z) if z.dtype() == dq.x.dtype() && z.len() == scale.len() => match z.dtype() {
            DType::U8 => z.as_slice::<u8>().ok()?.iter().map(|&v| v as i32).collect(),
            _ => z.as_slice::<i8>().ok()?.iter().map(|&v| v as i32).collect(),
        },
        Some(_) => return None,
    };
    Some(Weights {
        id: dq.id,
        shape,
        scale,
        zero_point,
    })
}

/// `round(beta · b[c] / (x.scale · w_scale[c]))` per output channel, when `b` has one value per
/// channel (shape `[C]` or `[1, C]`), saturated to `i32`.
fn quantize_bias(
    b: &Tensor,
    beta: f32,
    x: Quant8,
    w_scale: &[f32],
    channels: usize,
) -> Option<Vec<i32>> {
    let values = b.as_slice::<f32>().ok()?;
    if values.len() != channels || b.shape().iter().rev().skip(1).any(|&d| d != 1) {
        return None;
    }
    values
        .iter()
        .enumerate()
        .map(|(c, &v)| {
            let ws = w_scale[if w_scale.len() == 1 { 0 } else { c }];
            let q = (beta as f64 * v as f64 / (x.scale as f64 * ws as f64)).round_ties_even();
            // Saturates (as onnxruntime's quantizer does for the degenerate channels whose
            // weight scale underflows); NaN gives 0.
            Some(q.clamp(i32::MIN as f64, i32::MAX as f64) as i32)
        })
        .collect()
}

/// A 2-D, one-group transposed convolution whose stride equals its kernel, without padding,
/// dilation or output adjustments: each input pixel owns its output patch.
fn is_patchify(ct: &ConvTranspose, kernel: &[usize]) -> bool {
    let w = &ct.window;
    let no_padding = match &w.padding {
        Padding::Explicit { begin, end } => begin.iter().chain(end).all(|&p| p == 0),
        _ => false,
    };
    ct.group == 1
        && kernel.len() == 2
        && (w.kernel_shape.is_empty() || w.kernel_shape == kernel)
        && w.strides == kernel
        && w.dilations.iter().all(|&d| d == 1)
        && no_padding
        && ct.output_padding.iter().all(|&p| p == 0)
        && ct.output_shape.is_empty()
}
