//! QDQ folding: `DequantizeLinear → float op → QuantizeLinear` becomes one 8-bit integer op
//! (`ir::ops::quant::int8`), so quantized models run on integer kernels and their tensors stay
//! 8-bit between ops, instead of being dequantized, computed in float and quantized again.
//!
//! A float node is folded when every one of its non-constant inputs is the output of a
//! per-tensor `DequantizeLinear` of an 8-bit value, and its one output is read only by a
//! per-tensor `QuantizeLinear` to 8 bits. The node then reads the 8-bit values directly and
//! writes the `QuantizeLinear`'s output; dequantize nodes left without readers go with dead-code
//! elimination. What folds:
//!
//! * [`conv`]: `Conv` with dequantized constant weights (per tensor or per output channel)
//!   → `QConv`; `MatMul` / `Gemm` with dequantized constant 2-D weights → `QMatMul`.
//! * [`lut`]: any element-wise op of one 8-bit input (other inputs scalar constants) →
//!   `Lut`, its 256 results computed once here by the CPU backend's own float ops, so the table
//!   is exactly what the pattern computes; a `Lut` after a `QConv`, `QMatMul` or `Lut` then
//!   merges into it.
//! * [`binary`]: `Add`, `Sub`, `Mul`, `Div` of two 8-bit inputs → `QBinary`.
//! * [`movement`]: ops that only move elements (`Reshape`, `Transpose`, `MaxPool`, nearest
//!   `Resize`, `Concat`...) run on the 8-bit values; when the scales differ a `Lut`
//!   requantizes. `GlobalAveragePool` → `QGlobalAveragePool`.
//! * [`resize`]: linear and cubic `Resize` → `QResize` (the interpolation on the 8-bit values
//!   centred on their zero point, scaled once into the output).
//! * [`softmax`]: `Softmax` over the last axis → `QSoftmax` (`e^x` from a table of the 256 byte
//!   distances to the row's maximum).
//!
//! * [`rescale`] first: a dequantized value times or over a positive scalar constant is a
//!   dequantized value with another scale.
//! * [`qoperator`]: `QLinearConv` and `QLinearMatMul` with constant parameters → `QConv` /
//!   `QMatMul` (the same computation, with the fast kernels' packed weights).
//!
//! Everything else stays in float between its dequantize and quantize nodes; `mote inspect
//! --quant` lists those with the reason.
//!
//! This pass runs before constant folding, which would otherwise turn the weights'
//! `DequantizeLinear` into plain `f32` constants.

mod binary;
mod conv;
mod dynamic;
mod lut;
mod movement;
mod qoperator;
mod report;
mod rescale;
mod resize;
mod softmax;
#[cfg(test)]
mod test_graph;

pub use report::{report, Precision, QuantLine};

use super::fuse::{remove_nodes, Readers};
use super::Pass;
use crate::backend::cpu;
use crate::ir::ops::quant::{Quant8, QuantOp};
use crate::ir::{Dim, Graph, Op, ValueId, ValueInfo};
use crate::{DType, Result, Tensor};
use std::sync::Arc;

/// See the module docs.
pub(super) struct FoldQdq;

impl Pass for FoldQdq {
    fn name(&self) -> &'static str {
        "fold_qdq"
    }

    fn run(&self, graph: &mut Graph) -> Result<bool> {
        // QOperator nodes first, so that the tables folded below can merge into them.
        let mut changed = qoperator::fold(graph);
        changed |= dynamic::fold(graph)?;
        changed |= rescale::fold(graph);
        let mut index = 0;
        while index < graph.nodes.len() {
            let readers = Readers::of(graph);
            let folded = match Site::find(graph, &readers, index) {
                Some(site) => {
                    conv::fold(graph, &site)?
                        || binary::fold(graph, &site)?
                        || movement::fold(graph, &site)?
                        || resize::fold(graph, &site)?
                        || softmax::fold(graph, &site)?
                        || lut::fold(graph, &site)?
                }
                None => false,
            };
            if folded {
                changed = true;
                // The node stays at `index`; its quantize node (later) is gone.
            } else {
                index += 1;
            }
        }
        changed |= lut::merge_into_producers(graph)?;
        changed |= binary::fuse_unary(graph)? && {
            lut::merge_into_producers(graph)?;
            true
        };
        Ok(changed)
    }
}

/// A float node with its quantized surroundings.
pub(super) struct Site {
    /// The float node's index.
    pub(super) node: usize,
    /// Per input position: the 8-bit source and its quantization when the input is a
    /// dequantized value; `None` for constants and omitted inputs.
    pub(super) sources: Vec<Option<(ValueId, Quant8)>>,
    /// The quantize node reading the output.
    pub(super) sink: usize,
    /// The quantize node's output (the folded node's new output).
    pub(super) output: ValueId,
    /// Its quantization.
    pub(super) y: Quant8,
}

impl Site {
    /// `node` with every non-constant input dequantized per tensor from 8 bits and its only
    /// output read only by a per-tensor quantize to 8 bits.
    fn find(graph: &Graph, readers: &Readers, node: usize) -> Option<Site> {
        let n = &graph.nodes[node];
        if matches!(n.op, Op::Quant(_) | Op::Control(_)) || n.outputs.len() != 1 {
            return None;
        }
        let out = n.outputs[0]?;
        let sink = readers.sole_reader(out)?;
        let (output, y) = quantize_node(graph, sink)?;
        let mut sources = Vec::with_capacity(n.inputs.len());
        let mut any = false;
        for input in &n.inputs {
            let source = match input {
                None => None,
                Some(id) if is_constant(graph, readers, *id) => None,
                Some(id) => {
                    any = true;
                    Some(dequantized(graph, readers, *id)?)
                }
            };
            sources.push(source);
        }
        any.then_some(Site {
            node,
            sources,
            sink,
            output,
            y,
        })
    }

    /// The sources of the non-constant inputs, in input order.
    pub(super) fn variable_sources(&self) -> Vec<(ValueId, Quant8)> {
        self.sources.iter().flatten().copied().collect()
    }

    /// Turns the float node into `op` reading `inputs` and writing the quantize node's output;
    /// removes the quantize node.
    pub(super) fn replace(&self, graph: &mut Graph, op: Op, inputs: Vec<Option<ValueId>>) {
        let node = &mut graph.nodes[self.node];
        node.op = op;
        node.inputs = inputs;
        node.outputs = vec![Some(self.output)];
        remove_nodes(graph, &[self.sink]);
    }
}

/// Whether `id` is a constant, or a `DequantizeLinear` of constants (weights, biases, scalar
/// operands: [`constant_f32`] evaluates them).
fn is_constant(graph: &Graph, readers: &Readers, id: ValueId) -> bool {
    if graph.constant(id).is_some() {
        return true;
    }
    readers.producer(id).is_some_and(|p| {
        let n = &graph.nodes[p];
        matches!(n.op, Op::Quant(QuantOp::DequantizeLinear(_)))
            && n.inputs
                .iter()
                .flatten()
                .all(|i| graph.constant(*i).is_some())
    })
}

/// Per-tensor parameters from a scale and optional zero point constant.
fn per_tensor(
    graph: &Graph,
    scale: ValueId,
    zero_point: Option<ValueId>,
    dtype: DType,
) -> Option<Quant8> {
    let scale = graph.constant(scale)?;
    if scale.dtype() != DType::F32 || scale.len() != 1 {
        return None;
    }
    let scale = scale.as_slice::<f32>().ok()?[0];
    let zero_point = match zero_point {
        None => 0,
        Some(z) => {
            let z = graph.constant(z)?;
            if z.dtype() != dtype || z.len() != 1 {
                return None;
            }
            match dtype {
                DType::U8 => z.as_slice::<u8>().ok()?[0] as i32,
                DType::I8 => z.as_slice::<i8>().ok()?[0] as i32,
                _ => return None,
            }
        }
    };
    let signed = match dtype {
        DType::U8 => false,
        DType::I8 => true,
        _ => return None,
    };
    (scale.is_finite() && scale > 0.0).then_some(Quant8 {
        scale,
        zero_point,
        signed,
    })
}

/// `(8-bit source, its quantization)` when `id` is a per-tensor `DequantizeLinear` to `f32`.
fn dequantized(graph: &Graph, readers: &Readers, id: ValueId) -> Option<(ValueId, Quant8)> {
    let n = &graph.nodes[readers.producer(id)?];
    let Op::Quant(QuantOp::DequantizeLinear(attrs)) = &n.op else {
        return None;
    };
    if attrs.block_size != 0 || attrs.output_dtype.is_some_and(|d| d != DType::F32) {
        return None;
    }
    let x = n.inputs.first().copied().flatten()?;
    let zp = n.inputs.get(2).copied().flatten();
    // The zero point's type is the input's; without one, the input's inferred type.
    let dtype = match zp.and_then(|z| graph.constant(z)) {
        Some(z) => z.dtype(),
        None => graph.value(x).dtype?,
    };
    let q = per_tensor(graph, n.inputs.get(1).copied().flatten()?, zp, dtype)?;
    Some((x, q))
}

/// `(output, its quantization)` when node `index` is a per-tensor `QuantizeLinear` from `f32`
/// to 8 bits.
fn quantize_node(graph: &Graph, index: usize) -> Option<(ValueId, Quant8)> {
    let n = &graph.nodes[index];
    let Op::Quant(QuantOp::QuantizeLinear(attrs)) = &n.op else {
        return None;
    };
    if attrs.block_size != 0 || attrs.precision.is_some_and(|d| d != DType::F32) {
        return None;
    }
    let zp = n.inputs.get(2).copied().flatten();
    let dtype = attrs
        .output_type(zp.and_then(|z| graph.constant(z)).map(|t| t.dtype()))
        .ok()?;
    let q = per_tensor(graph, n.inputs.get(1).copied().flatten()?, zp, dtype)?;
    Some((n.outputs.first().copied().flatten()?, q))
}

/// The `f32` value of a constant input: a constant, or a `DequantizeLinear` of constants
/// evaluated here.
pub(super) fn constant_f32(graph: &Graph, id: ValueId) -> Option<Tensor> {
    if let Some(t) = graph.constant(id) {
        return (t.dtype() == DType::F32).then(|| (**t).clone());
    }
    let n = producer_node(graph, id)?;
    if !matches!(n.op, Op::Quant(QuantOp::DequantizeLinear(_))) {
        return None;
    }
    let inputs: Option<Vec<Option<&Tensor>>> = n
        .inputs
        .iter()
        .map(|i| match i {
            None => Some(None),
            Some(i) => graph.constant(*i).map(|t| Some(t.as_ref())),
        })
        .collect();
    let t = cpu::eval_node(&n.op, &inputs?, 1, 1).ok()?.pop()??;
    (t.dtype() == DType::F32).then_some(t)
}

/// A `DequantizeLinear` of constants: the quantized constant's id and the tensors.
pub(super) struct ConstantDequantize {
    /// The quantized values' id.
    pub id: ValueId,
    /// The quantized values.
    pub x: Arc<Tensor>,
    /// Scales.
    pub scale: Arc<Tensor>,
    /// Zero points, when given.
    pub zero_point: Option<Arc<Tensor>>,
    /// The quantization axis (may be negative).
    pub axis: i64,
}

/// The DequantizeLinear node producing `id`, when all its inputs are constants.
pub(super) fn dequantize_constants(graph: &Graph, id: ValueId) -> Option<ConstantDequantize> {
    let n = producer_node(graph, id)?;
    let Op::Quant(QuantOp::DequantizeLinear(attrs)) = &n.op else {
        return None;
    };
    if attrs.block_size != 0 || attrs.output_dtype.is_some_and(|d| d != DType::F32) {
        return None;
    }
    let get = |i: usize| {
        n.inputs
            .get(i)
            .copied()
            .flatten()
            .and_then(|v| graph.constant(v).cloned())
    };
    Some(ConstantDequantize {
        id: n.inputs.first().copied().flatten()?,
        x: get(0)?,
        scale: get(1)?,
        zero_point: get(2),
        axis: attrs.axis,
    })
}

/// The node whose first output is `id` (a scan: for the few constant operands a fold looks
/// at, where building [`Readers`] would cost more).
pub(super) fn producer_node(graph: &Graph, id: ValueId) -> Option<&crate::ir::Node> {
    graph
        .nodes
        .iter()
        .find(|n| n.outputs.first().copied().flatten() == Some(id))
}

/// Adds a constant value and returns its id.
pub(super) fn add_constant(graph: &mut Graph, name: String, t: Tensor) -> ValueId {
    let info = ValueInfo {
        name,
        dtype: Some(t.dtype()),
        shape: Some(t.shape().iter().map(|&d| Dim::Known(d)).collect()),
        quant: None,
    };
    let id = graph.add_value(info);
    graph.constants.insert(id, Arc::new(t));
    id
}
