//! Ops that only move (or select) elements run on the 8-bit values themselves, and
//! `GlobalAveragePool` becomes `QGlobalAveragePool`.
//!
//! Moving elements commutes with any per-element function, and `Q_y ∘ DQ_x` is one (and
//! non-decreasing, so it commutes with `MaxPool` too): the op runs on the 8-bit input, then a
//! `Lut` requantizes when the input's and output's quantizations differ. `Concat` requantizes
//! each input that differs from the output first.

use super::lut::requantize_table;
use super::Site;
use crate::ir::ops::nn::{GlobalPoolKind, NnOp, PoolKind};
use crate::ir::ops::quant::{Lut, QGlobalAveragePool, Quant8, QuantOp};
use crate::ir::ops::shape::{ResizeMode, ShapeOp};
use crate::ir::{Graph, Node, Op, ValueId, ValueInfo};
use crate::Result;
use std::sync::Arc;

/// Folds the site if its op moves elements (or is a global average pool).
pub(super) fn fold(graph: &mut Graph, site: &Site) -> Result<bool> {
    let op = graph.nodes[site.node].op.clone();
    if let Op::Nn(NnOp::GlobalPool(GlobalPoolKind::Average)) = op {
        let [(x, xq)] = site.variable_sources()[..] else {
            return Ok(false);
        };
        let q = QGlobalAveragePool { x: xq, y: site.y };
        site.replace(
            graph,
            Op::Quant(QuantOp::QGlobalAveragePool(q)),
            vec![Some(x)],
        );
        return Ok(true);
    }
    if !moves_elements(&op) {
        return Ok(false);
    }
    let mut inputs = graph.nodes[site.node].inputs.clone();
    let sources = site.sources.clone();
    if let Op::Shape(ShapeOp::Concat { .. }) = op {
        if sources.iter().any(Option::is_none) {
            return Ok(false); // A float constant among the parts.
        }
        // Requantize differing inputs first, then concatenate bytes.
        let mut before = Vec::new();
        for (position, source) in sources.iter().enumerate() {
            if let Some((x, xq)) = *source {
                inputs[position] = Some(if same(xq, site.y) {
                    x
                } else {
                    let (node, v) = requantize(graph, x, xq, site.y);
                    before.push(node);
                    v
                });
            }
        }
        site.replace(graph, op, inputs);
        for (offset, node) in before.into_iter().enumerate() {
            graph.nodes.insert(site.node + offset, node);
        }
        return Ok(true);
    }
    let [(x, xq)] = site.variable_sources()[..] else {
        return Ok(false);
    };
    // The one variable input must be the data input (position 0), not e.g. a shape.
    if sources.first().copied().flatten().map(|s| s.0) != Some(x) {
        return Ok(false);
    }
    inputs[0] = Some(x);
    site.replace(graph, op, inputs);
    if !same(xq, site.y) {
        // The moved bytes still carry x's quantization: requantize them into the output.
        let moved = graph.add_value(ValueInfo {
            name: format!("{}_moved", graph.value(site.output).name),
            dtype: Some(xq.dtype()),
            shape: None,
            quant: None,
        });
        graph.nodes[site.node].outputs = vec![Some(moved)];
        let lut = Lut {
            output: site.y.dtype(),
            table: Arc::new(requantize_table(xq, site.y)),
        };
        let node = Node {
            name: format!("{}_requantize", graph.nodes[site.node].name),
            op: Op::Quant(QuantOp::Lut(lut)),
            inputs: vec![Some(moved)],
            outputs: vec![Some(site.output)],
        };
        graph.nodes.insert(site.node + 1, node);
    }
    Ok(true)
}

/// Whether `op` only moves or selects elements of its first input.
fn moves_elements(op: &Op) -> bool {
    match op {
        Op::Shape(s) => match s {
            ShapeOp::Identity
            | ShapeOp::Reshape { .. }
            | ShapeOp::Flatten { .. }
            | ShapeOp::Squeeze { .. }
            | ShapeOp::Unsqueeze { .. }
            | ShapeOp::Transpose { .. }
            | ShapeOp::Concat { .. }
            | ShapeOp::Slice { .. }
            | ShapeOp::DepthToSpace { .. }
            | ShapeOp::SpaceToDepth { .. } => true,
            ShapeOp::Resize(r) => r.mode == ResizeMode::Nearest,
            _ => false,
        },
        Op::Nn(NnOp::Pool(p)) => matches!(p.kind, PoolKind::Max { .. }),
        _ => false,
    }
}

/// Equal quantizations (bitwise scales): requantizing between them is the identity.
fn same(a: Quant8, b: Quant8) -> bool {
    a.scale.to_bits() == b.scale.to_bits() && a.zero_point == b.zero_point && a.signed == b.signed
}

/// A `Lut` node requantizing `x` from `xq` to `yq`, and its output value.
fn requantize(graph: &mut Graph, x: ValueId, xq: Quant8, yq: Quant8) -> (Node, ValueId) {
    let v = graph.add_value(ValueInfo {
        name: format!("{}_requantized", graph.value(x).name),
        dtype: Some(yq.dtype()),
        shape: None,
        quant: None,
    });
    let lut = Lut {
        output: yq.dtype(),
        table: Arc::new(requantize_table(xq, yq)),
    };
    let node = Node {
        name: format!("{}_requantize", graph.value(x).name),
        op: Op::Quant(QuantOp::Lut(lut)),
        inputs: vec![Some(x)],
        outputs: vec![Some(v)],
    };
    (node, v)
}
