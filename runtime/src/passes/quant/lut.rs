//! Element-wise ops of one 8-bit input → a 256-entry table, and tables merged into the op that
//! produces their input.
//!
//! The table is computed by the CPU backend's own `DequantizeLinear`, float op and
//! `QuantizeLinear` on all 256 possible inputs, so it holds exactly what the pattern computes
//! element by element: the folded op is bit-identical to the unfolded pattern.

use super::{constant_f32, Site};
use crate::backend::cpu;
use crate::ir::ops::nn::NnOp;
use crate::ir::ops::quant::{ChannelLut, Lut, Quant8, QuantOp};
use crate::ir::{Dim, Graph, Op, ValueId};
use crate::{DType, Result, Tensor};
use std::sync::Arc;

/// Folds the site if its op is element-wise with one 8-bit input and scalar constants (one
/// table), or constants that vary along the channel axis only (one table per channel).
pub(super) fn fold(graph: &mut Graph, site: &Site) -> Result<bool> {
    let node = &graph.nodes[site.node];
    let batch_norm = matches!(node.op, Op::Nn(NnOp::BatchNorm(_)));
    if !(matches!(node.op, Op::Elementwise(_)) || batch_norm) || node.op.is_nondeterministic() {
        return Ok(false);
    }
    if batch_norm || !scalar_operands(graph, site) {
        return fold_per_channel(graph, site);
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

/// Whether every constant operand of the site has one element.
fn scalar_operands(graph: &Graph, site: &Site) -> bool {
    let node = &graph.nodes[site.node];
    node.inputs
        .iter()
        .zip(&site.sources)
        .all(|(input, source)| match (input, source) {
            (Some(id), None) => constant_f32(graph, *id).is_some_and(|t| t.len() == 1),
            _ => true,
        })
}

/// One table per channel: the op evaluated on `[1, C, 1.., 256]` (each channel's row holding
/// all 256 dequantized inputs), its constants broadcasting as they do on the real input. Taken
/// when the input's channel count is known, and the result has `C · 256` elements.
fn fold_per_channel(graph: &mut Graph, site: &Site) -> Result<bool> {
    let node = &graph.nodes[site.node];
    let batch_norm = matches!(node.op, Op::Nn(NnOp::BatchNorm(_)));
    let [(x, xq)] = site.variable_sources()[..] else {
        return Ok(false);
    };
    if site.sources.first().copied().flatten().map(|s| s.0) != Some(x) {
        return Ok(false); // The data input must come first (BatchNormalization's X, PRelu's X).
    }
    // The input's rank (symbolic dims are fine); BatchNormalization works on axis 1 whatever
    // the rank, so a rank-3 probe serves it when the rank is unknown.
    let rank = match rank_of(graph, x) {
        Some(r) if r >= 3 => r,
        None if batch_norm => 3,
        _ => return Ok(false),
    };
    // The channel count: the length of the per-channel constants.
    let mut channels = 0;
    for (input, source) in node.inputs.iter().zip(&site.sources) {
        if let (Some(id), None) = (input, source) {
            match constant_f32(graph, *id).map(|t| t.len()) {
                Some(1) => {}
                Some(n) if channels == 0 || channels == n => channels = n,
                _ => return Ok(false),
            }
        }
    }
    if let Some(Dim::Known(c)) = graph.value(x).shape.as_ref().and_then(|s| s.get(1)) {
        if channels != 0 && channels != *c {
            return Ok(false);
        }
        channels = *c;
    }
    if channels == 0 || channels > 1 << 16 {
        return Ok(false);
    }
    let mut probe_shape = vec![1; rank];
    probe_shape[1] = channels;
    probe_shape[rank - 1] = 256;
    let row: Vec<f32> = (0..=255u8).map(|b| xq.dequantize(b)).collect();
    let probe = Tensor::from_vec(&probe_shape, row.repeat(channels))?;
    let mut inputs: Vec<Option<Tensor>> = Vec::with_capacity(node.inputs.len());
    for (position, input) in node.inputs.iter().enumerate() {
        inputs.push(match (input, site.sources[position]) {
            (None, _) => None,
            (Some(_), Some(_)) => Some(probe.clone()),
            (Some(id), None) => match constant_f32(graph, *id) {
                // Scalars, BatchNormalization's per-channel vectors, or numpy-broadcast constants
                // that vary along the channel axis only.
                Some(t) if t.len() == 1 || batch_norm || along_channels(t.shape(), rank) => Some(t),
                _ => return Ok(false),
            },
        });
    }
    let refs: Vec<Option<&Tensor>> = inputs.iter().map(Option::as_ref).collect();
    let Ok(mut results) = cpu::eval_node(&node.op, &refs, 1, 1) else {
        return Ok(false);
    };
    let Some(Some(f)) = results.pop() else {
        return Ok(false);
    };
    if f.dtype() != DType::F32 || f.len() != channels * 256 || f.shape() != probe_shape.as_slice() {
        return Ok(false);
    }
    let values = f.as_slice::<f32>()?;
    let tables: Vec<[u8; 256]> = values
        .chunks_exact(256)
        .map(|v| quantize_all(v, site.y))
        .collect();
    let lut = ChannelLut {
        output: site.y.dtype(),
        tables: Arc::new(tables),
    };
    site.replace(graph, Op::Quant(QuantOp::ChannelLut(lut)), vec![Some(x)]);
    Ok(true)
}

/// The rank of `id`: from its value info, or through the 8-bit ops that produced it (a conv's
/// output has its weights' rank; tables and resizes keep their input's).
fn rank_of(graph: &Graph, id: ValueId) -> Option<usize> {
    if let Some(shape) = &graph.value(id).shape {
        return Some(shape.len());
    }
    let node = super::producer_node(graph, id)?;
    let first = |i: usize| node.inputs.get(i).copied().flatten();
    match &node.op {
        Op::Quant(QuantOp::QConv(_) | QuantOp::QConvTranspose(_)) => {
            graph.constant(first(1)?).map(|w| w.shape().len())
        }
        Op::Quant(
            QuantOp::Lut(_)
            | QuantOp::ChannelLut(_)
            | QuantOp::QuantizeLinear(_)
            | QuantOp::QResize(_),
        ) => rank_of(graph, first(0)?),
        _ => None,
    }
}

/// Whether a constant of `shape`, right-aligned against a rank-`rank` input, has more than one
/// element only on the channel axis (1).
fn along_channels(shape: &[usize], rank: usize) -> bool {
    shape.len() <= rank
        && shape
            .iter()
            .enumerate()
            .all(|(i, &d)| d == 1 || rank - shape.len() + i == 1)
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
                Op::Quant(QuantOp::QConvTranspose(q)) => q.y.dtype(),
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
            Op::Quant(QuantOp::QConvTranspose(q)) => q.lut = Some(merge(&q.lut)),
            Op::Quant(QuantOp::Lut(l)) => l.table = merge(&Some(l.table.clone())),
            _ => return Err(crate::Error::internal("lut merge target changed")),
        }
        graph.nodes[producer].outputs = output;
        super::remove_nodes(graph, &[index]);
        changed = true;
    }
}
