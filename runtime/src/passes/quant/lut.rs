//! Element-wise ops of one 8-bit input → a 256-entry table, and tables merged into the op that
//! produces their input.
//!
//! The table is computed by the CPU backend's own `DequantizeLinear`, float op and
//! `QuantizeLinear` on all 256 possible inputs, so it holds exactly what the pattern computes
//! element by element: the folded op is bit-identical to the unfolded pattern.

use super::{constant_f32, Site};
use crate::backend::cpu;
use crate::ir::ops::quant::{Lut, Quant8, QuantOp};
use crate::ir::{Graph, Op, ValueId};
use crate::{DType, Result, Tensor};
use std::sync::Arc;

/// Folds the site if its op is element-wise with one 8-bit input and scalar constants.
pub(super) fn fold(graph: &mut Graph, site: &Site) -> Result<bool> {
    let node = &graph.nodes[site.node];
    if !matches!(node.op, Op::Elementwise(_)) || node.op.is_nondeterministic() {
        return Ok(false);
    }
    let [(x, xq)] = site.variable_sources()[..] else {
        return Ok(false);
    };
    // Every other input: a constant with one element (so the op maps element to element).
    let mut inputs: Vec<Option<Tensor>> = Vec::with_capacity(node.inputs.len());
    for (position, input) in node.inputs.iter().enumerate() {
        inputs.push(match (input, site.sources[position]) {
            (None, _) => None,
            (Some(_), Some(_)) => Some(all_inputs(xq)?),
            (Some(id), None) => match constant_f32(graph, *id) {
                Some(t) if t.len() == 1 => Some(t),
                _ => return Ok(false),
            },
        });
    }
    let Some(table) = evaluate(&node.op, &inputs, site.y)? else {
        return Ok(false);
    };
    let lut = Lut {
        output: site.y.dtype(),
        table: Arc::new(table),
    };
    site.replace(graph, Op::Quant(QuantOp::Lut(lut)), vec![Some(x)]);
    Ok(true)
}

/// The 256 dequantized values of `q`'s bytes, as `f32` `[256]`.
fn all_inputs(q: Quant8) -> Result<Tensor> {
    let values: Vec<f32> = (0..=255u8).map(|b| q.dequantize(b)).collect();
    Tensor::from_vec(&[256], values)
}

/// `Q(op(inputs))` as a table, or `None` when the op does not map the 256 inputs to 256
/// `f32` outputs.
fn evaluate(op: &Op, inputs: &[Option<Tensor>], y: Quant8) -> Result<Option<[u8; 256]>> {
    let refs: Vec<Option<&Tensor>> = inputs.iter().map(Option::as_ref).collect();
    let Ok(mut results) = cpu::eval_node(op, &refs, 1, 1) else {
        return Ok(None);
    };
    let Some(Some(f)) = results.pop() else {
        return Ok(None);
    };
    if f.dtype() != DType::F32 || f.len() != 256 {
        return Ok(None);
    }
    Ok(Some(quantize_all(f.as_slice::<f32>()?, y)))
}

/// ONNX `QuantizeLinear` of each value: `saturate(round_half_even(v / scale) + zero_point)`.
pub(super) fn quantize_all(values: &[f32], y: Quant8) -> [u8; 256] {
    let (lo, hi) = y.range();
    let mut table = [0u8; 256];
    for (t, &v) in table.iter_mut().zip(values) {
        let q = (v / y.scale).round_ties_even();
        // NaN saturates to the zero point, as `as` casts do in the reference QuantizeLinear.
        let q = (q as i64 + y.zero_point as i64).clamp(lo as i64, hi as i64) as i32;
        *t = q as u8;
    }
    table
}

/// The table that requantizes from `x` to `y` (`Q_y(DQ_x(b))`).
pub(super) fn requantize_table(x: Quant8, y: Quant8) -> [u8; 256] {
    let values: Vec<f32> = (0..=255u8).map(|b| x.dequantize(b)).collect();
    quantize_all(&values, y)
}

/// `first` then `second`.
fn compose(first: &[u8; 256], second: &[u8; 256]) -> [u8; 256] {
    let mut out = [0u8; 256];
    for (o, &f) in out.iter_mut().zip(first) {
        *o = second[f as usize];
    }
    out
}

/// Merges each `Lut` into the `QConv`, `QMatMul` or `Lut` producing its input when that value
/// has no other reader and the output type stays the same.
pub(super) fn merge_into_producers(graph: &mut Graph) -> Result<bool> {
    let mut changed = false;
    loop {
        let readers = super::Readers::of(graph);
        let found = graph.nodes.iter().enumerate().find_map(|(index, node)| {
            let Op::Quant(QuantOp::Lut(lut)) = &node.op else {
                return None;
            };
            let input: ValueId = node.inputs.first().copied().flatten()?;
            readers.sole_reader(input)?;
            let producer = readers.producer(input)?;
            let out_dtype = match &graph.nodes[producer].op {
                Op::Quant(QuantOp::QConv(q)) => q.y.dtype(),
                Op::Quant(QuantOp::QMatMul(q)) => q.y.dtype(),
                Op::Quant(QuantOp::Lut(l)) => l.output,
                _ => return None,
            };
            (out_dtype == lut.output).then(|| (index, producer, lut.table.clone()))
        });
        let Some((index, producer, table)) = found else {
            return Ok(changed);
        };
        let output = graph.nodes[index].outputs.clone();
        let merge = |existing: &Option<Arc<[u8; 256]>>| -> Arc<[u8; 256]> {
            match existing {
                Some(first) => Arc::new(compose(first, &table)),
                None => table.clone(),
            }
        };
        match &mut graph.nodes[producer].op {
            Op::Quant(QuantOp::QConv(q)) => q.lut = Some(merge(&q.lut)),
            Op::Quant(QuantOp::QMatMul(q)) => q.lut = Some(merge(&q.lut)),
            Op::Quant(QuantOp::Lut(l)) => l.table = merge(&Some(l.table.clone())),
            _ => return Err(crate::Error::internal("lut merge target changed")),
        }
        graph.nodes[producer].outputs = output;
        super::remove_nodes(graph, &[index]);
        changed = true;
    }
}
