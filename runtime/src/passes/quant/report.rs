//! What precision each node of a loaded graph runs in, and why a quantized model's float ops
//! were not folded: the data behind `mote inspect --quant`.

use super::super::fuse::Readers;
use super::{dequantized, quantize_node};
use crate::ir::ops::quant::QuantOp;
use crate::ir::ops::{NnOp, ShapeOp, TransformerOp};
use crate::ir::{Graph, Op};
use crate::DType;

/// The precision a node computes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// 8-bit integers in and out (integer arithmetic or table lookups).
    Int8,
    /// A `QuantizeLinear` or `DequantizeLinear` left in the graph: a conversion at a float
    /// boundary.
    Conversion,
    /// Float arithmetic.
    Float,
    /// Neither: shapes, indices, control flow.
    Other,
}

/// One node of the report.
#[derive(Debug, Clone)]
pub struct QuantLine {
    /// The node's name.
    pub node: String,
    /// Its op.
    pub op: &'static str,
    /// What it computes in.
    pub precision: Precision,
    /// For conversions and float ops next to quantized values: why they were not folded.
    pub reason: Option<String>,
}

/// One line per node of `graph` (after the load-time passes).
pub fn report(graph: &Graph) -> Vec<QuantLine> {
    let readers = Readers::of(graph);
    graph
        .nodes
        .iter()
        .enumerate()
        .map(|(index, node)| {
            let dtype_of = |id: Option<crate::ir::ValueId>| id.and_then(|id| graph.value(id).dtype);
            let out = dtype_of(node.outputs.first().copied().flatten());
            let int8 = |d: Option<DType>| matches!(d, Some(DType::U8 | DType::I8));
            let (precision, reason) = match &node.op {
                Op::Quant(QuantOp::QuantizeLinear(_)) => {
                    let from = node
                        .inputs
                        .first()
                        .copied()
                        .flatten()
                        .and_then(|i| readers.producer(i));
                    let why = from.map_or("quantizes a graph input".to_string(), |p| {
                        format!(
                            "quantizes the float output of {} '{}'",
                            graph.nodes[p].op.name(),
                            graph.nodes[p].name
                        )
                    });
                    (Precision::Conversion, Some(why))
                }
                Op::Quant(QuantOp::DequantizeLinear(_)) => {
                    let out = node.outputs.first().copied().flatten();
                    let users: Vec<String> = out
                        .map(|o| {
                            graph
                                .nodes
                                .iter()
                                .filter(|n| n.inputs.contains(&Some(o)))
                                .map(|n| format!("{} '{}'", n.op.name(), n.name))
                                .collect()
                        })
                        .unwrap_or_default();
                    let why = if users.is_empty() {
                        "dequantizes a graph output".to_string()
                    } else {
                        format!("feeds float {}", users.join(", "))
                    };
                    (Precision::Conversion, Some(why))
                }
                Op::Quant(
                    QuantOp::QConv(_)
                    | QuantOp::QMatMul(_)
                    | QuantOp::Lut(_)
                    | QuantOp::QBinary(_)
                    | QuantOp::QGlobalAveragePool(_)
                    | QuantOp::QConvTranspose(_)
                    | QuantOp::ChannelLut(_)
                    | QuantOp::DynamicQMatMul(_)
                    | QuantOp::QSoftmax(_)
                    | QuantOp::QResize(_)
                    | QuantOp::QLinearConv(_)
                    | QuantOp::QLinearMatMul,
                ) => (Precision::Int8, None),
                Op::Quant(QuantOp::MatMulInteger | QuantOp::ConvInteger(_)) => {
                    (Precision::Int8, None)
                }
                _ if int8(out) => (Precision::Int8, None),
                _ if matches!(
                    out,
                    Some(DType::F32 | DType::F16 | DType::BF16 | DType::F64)
                ) =>
                {
                    (Precision::Float, why_float(graph, &readers, index))
                }
                _ => (Precision::Other, None),
            };
            QuantLine {
                node: node.name.clone(),
                op: node.op.name(),
                precision,
                reason,
            }
        })
        .collect()
}

/// Why a float node between quantized values was not folded; `None` for a float node with no
/// quantized neighbour (a float model's node: nothing to explain).
fn why_float(graph: &Graph, readers: &Readers, index: usize) -> Option<String> {
    let node = &graph.nodes[index];
    let dq_inputs = node
        .inputs
        .iter()
        .flatten()
        .filter(|&&id| dequantized(graph, readers, id).is_some())
        .count();
    let out = node.outputs.first().copied().flatten();
    let quantized_output = out
        .and_then(|o| readers.sole_reader(o))
        .and_then(|r| quantize_node(graph, r))
        .is_some();
    if dq_inputs == 0 && !quantized_output {
        return not_per_tensor(graph, readers, index);
    }
    if let Some(why) = not_per_tensor(graph, readers, index) {
        return Some(why);
    }
    if !quantized_output {
        return Some("its output is not (only) quantized again: the consumer needs float".into());
    }
    if dq_inputs == 0 {
        return Some("its inputs are float, not dequantized 8-bit values".into());
    }
    Some(match &node.op {
        Op::Nn(NnOp::ConvTranspose(_)) => {
            "only ConvTranspose with stride = kernel, no padding, one group runs in 8 bits".into()
        }
        Op::Nn(NnOp::Conv(_)) | Op::Transformer(TransformerOp::MatMul | TransformerOp::Gemm(_)) => {
            "weights are not a per-tensor or per-output-channel 8-bit constant (or a Gemm with alpha ≠ 1 / transA)".into()
        }
        Op::Shape(ShapeOp::Resize(_)) => {
            "its region of interest, scales or sizes are not constants".into()
        }
        Op::Elementwise(_) => "an operand is neither an 8-bit value nor a scalar constant".into(),
        other => format!("{} has no 8-bit form", other.name()),
    })
}

/// Why a float node next to quantize or dequantize nodes that are not per tensor was not
/// folded (only per-tensor quantizations fold); `None` when it has no such neighbour.
fn not_per_tensor(graph: &Graph, readers: &Readers, index: usize) -> Option<String> {
    let node = &graph.nodes[index];
    let is = |p: Option<usize>, dequantize: bool| {
        p.is_some_and(|p| match &graph.nodes[p].op {
            Op::Quant(QuantOp::DequantizeLinear(_)) => dequantize,
            Op::Quant(QuantOp::QuantizeLinear(_)) => !dequantize,
            _ => false,
        })
    };
    let per_axis_input = node.inputs.iter().flatten().any(|&id| {
        is(readers.producer(id), true)
            && dequantized(graph, readers, id).is_none()
            && graph.constant(id).is_none()
            && !constant_inputs(graph, readers.producer(id))
    });
    let per_axis_output = node
        .outputs
        .first()
        .copied()
        .flatten()
        .and_then(|o| readers.sole_reader(o))
        .is_some_and(|r| is(Some(r), false) && quantize_node(graph, r).is_none());
    (per_axis_input || per_axis_output).then(|| {
        "quantized per axis or per block (or to a type other than 8 bits): only per-tensor 8-bit \
         quantizations fold"
            .into()
    })
}

/// Whether node `p` reads only constants (a dequantized weight, not an activation).
fn constant_inputs(graph: &Graph, p: Option<usize>) -> bool {
    p.is_some_and(|p| {
        graph.nodes[p]
            .inputs
            .iter()
            .flatten()
            .all(|i| graph.constant(*i).is_some())
    })
}
