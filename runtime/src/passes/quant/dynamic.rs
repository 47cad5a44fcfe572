//! The dynamic-quantization product (onnxruntime's `quantize_dynamic`) → `DynamicQMatMul`:
//!
//! ```text
//! x ─ DynamicQuantizeLinear ─┬ xq ──── MatMulInteger(xq, W, x_zp, w_zp) ─ Cast(f32) ─┐
//!                            ├ x_zp ──┘                                             Mul ─ (Add bias) ─ y
//!                            └ x_scale ─ Mul(·, w_scale) ───────────────────────────┘
//! ```
//!
//! becomes one node computing the same bits (see [`DynamicQMatMul`]): the `i32` product never
//! exists as a tensor, and the `Cast`, the `Mul`s and the bias `Add` happen in the GEMM's
//! epilogue. It folds only when every intermediate value is read by the chain alone, `W`,
//! its zero points, `w_scale` and the bias are constants, the scales and zero points are one
//! or one per output column, and the bias is an `f32` `[N]` vector (so that broadcasting
//! changes no shape). Operand order in the `Mul`s and the `Add` does not matter: IEEE
//! products and sums are commutative.

use super::{remove_nodes, Readers};
use crate::ir::ops::elementwise::{Binary, ElementwiseOp};
use crate::ir::ops::quant::{DynamicQMatMul, QuantOp};
use crate::ir::{Graph, Node, Op, ValueId};
use crate::{DType, Result};

/// Folds every dynamic-quantization chain of `graph`; whether any folded.
pub(super) fn fold(graph: &mut Graph) -> Result<bool> {
    let mut changed = false;
    loop {
        let readers = Readers::of(graph);
        let Some(chain) = (0..graph.nodes.len()).find_map(|i| Chain::find(graph, &readers, i))
        else {
            return Ok(changed);
        };
        chain.apply(graph);
        changed = true;
    }
}

/// One matched chain, by node index.
struct Chain {
    /// The `MatMulInteger` (becomes the fused node).
    matmul: usize,
    /// The nodes that go: `DynamicQuantizeLinear`, `Cast`, both `Mul`s, the `Add` if any.
    removed: Vec<usize>,
    /// The float activation quantized by the chain.
    x: ValueId,
    /// The 8-bit weights.
    w: ValueId,
    /// The bias constant, if the chain ends with its `Add`.
    bias: Option<ValueId>,
    /// The chain's last value (the fused node's output).
    output: ValueId,
    op: DynamicQMatMul,
}

impl Chain {
    /// The chain whose `MatMulInteger` is node `index`, if it has the folded form.
    fn find(graph: &Graph, readers: &Readers, index: usize) -> Option<Chain> {
        let matmul = &graph.nodes[index];
        if !matches!(matmul.op, Op::Quant(QuantOp::MatMulInteger))
            || !(3..=4).contains(&matmul.inputs.len())
        {
            return None;
        }
        let input = |i: usize| matmul.inputs.get(i).copied().flatten();
        let (xq, w, x_zp) = (input(0)?, input(1)?, input(2)?);
        // The activation and its zero point: the first and third outputs of one
        // `DynamicQuantizeLinear`, read by this product only.
        let dq_index = readers.producer(xq)?;
        let dq = &graph.nodes[dq_index];
        let [Some(q), Some(x_scale), Some(z)] = dq.outputs[..] else {
            return None;
        };
        if !matches!(dq.op, Op::Quant(QuantOp::DynamicQuantizeLinear))
            || (q, z) != (xq, x_zp)
            || readers.sole_reader(xq) != Some(index)
            || readers.sole_reader(x_zp) != Some(index)
        {
            return None;
        }
        let x = dq.inputs.first().copied().flatten()?;
        let (n, w_zero_point) = weights(graph, w, input(3))?;
        // i32 → f32.
        let acc = single_output(matmul)?;
        let cast_index = readers.sole_reader(acc)?;
        let cast = &graph.nodes[cast_index];
        if !matches!(&cast.op, Op::Quant(QuantOp::Cast(c)) if c.to == DType::F32) {
            return None;
        }
        let product = single_output(cast)?;
        // `product · (x_scale · w_scale)`.
        let mul_index = readers.sole_reader(product)?;
        let scales = other_operand(&graph.nodes[mul_index], Binary::Mul, product)?;
        let scale_index = readers.producer(scales)?;
        if readers.sole_reader(scales) != Some(mul_index)
            || readers.sole_reader(x_scale) != Some(scale_index)
        {
            return None;
        }
        let w_scale = other_operand(&graph.nodes[scale_index], Binary::Mul, x_scale)?;
        let w_scale = column_values(graph, w_scale, n)?;
        if single_output(&graph.nodes[scale_index])? != scales {
            return None;
        }
        let mut output = single_output(&graph.nodes[mul_index])?;
        let mut removed = vec![dq_index, cast_index, scale_index, mul_index];
        // `+ bias`, a constant `[N]` vector.
        let mut bias = None;
        if let Some(add_index) = readers.sole_reader(output) {
            let add = &graph.nodes[add_index];
            if let Some(b) = other_operand(add, Binary::Add, output).filter(|&b| {
                graph
                    .constant(b)
                    .is_some_and(|t| t.dtype() == DType::F32 && t.shape() == [n])
            }) {
                bias = Some(b);
                output = single_output(add)?;
                removed.push(add_index);
            }
        }
        Some(Chain {
            matmul: index,
            removed,
            x,
            w,
            bias,
            output,
            op: DynamicQMatMul {
                w_scale,
                w_zero_point,
            },
        })
    }

    /// Turns the `MatMulInteger` into the fused node and removes the rest of the chain. The
    /// fused node keeps the product's place: its input `x` is computed before the
    /// `DynamicQuantizeLinear` that came first, and its output's readers came after the chain.
    fn apply(self, graph: &mut Graph) {
        let node = &mut graph.nodes[self.matmul];
        node.op = Op::Quant(QuantOp::DynamicQMatMul(Box::new(self.op)));
        node.inputs = vec![Some(self.x), Some(self.w), self.bias];
        node.outputs = vec![Some(self.output)];
        remove_nodes(graph, &self.removed);
    }
}

/// `(N, weight zero points)` when `w` is a constant 8-bit `[K, N]` matrix and `zero_point`
/// (absent, or a constant of its type) holds one value or one per column.
fn weights(graph: &Graph, w: ValueId, zero_point: Option<ValueId>) -> Option<(usize, Vec<i32>)> {
    let w = graph.constant(w)?;
    let &[_, n] = w.shape() else {
        return None;
    };
    let Some(z) = zero_point else {
        return Some((n, vec![0]));
    };
    let z = graph.constant(z)?;
    let per_column = z.shape() == [n];
    if z.dtype() != w.dtype() || !(z.len() == 1 && z.shape().len() <= 1 || per_column) {
        return None;
    }
    let values = match z.dtype() {
        DType::U8 => z.as_slice::<u8>().ok()?.iter().map(|&v| v as i32).collect(),
        DType::I8 => z.as_slice::<i8>().ok()?.iter().map(|&v| v as i32).collect(),
        _ => return None,
    };
    Some((n, values))
}

/// The values of an `f32` constant holding one value (scalar or `[1]`) or one per column
/// (`[n]`): shapes that broadcast against `[..., N]` without changing it.
fn column_values(graph: &Graph, id: ValueId, n: usize) -> Option<Vec<f32>> {
    let t = graph.constant(id)?;
    let ok = t.dtype() == DType::F32 && t.shape().len() <= 1 && (t.len() == 1 || t.shape() == [n]);
    ok.then(|| t.as_slice::<f32>().ok().map(<[f32]>::to_vec))?
}

/// The node's one output.
fn single_output(node: &Node) -> Option<ValueId> {
    match node.outputs[..] {
        [Some(out)] => Some(out),
        _ => None,
    }
}

/// The operand of the binary `op` node that is not `known` (which must be one of them).
fn other_operand(node: &Node, op: Binary, known: ValueId) -> Option<ValueId> {
    if !matches!(node.op, Op::Elementwise(ElementwiseOp::Binary(b)) if b == op) {
        return None;
    }
    match node.inputs[..] {
        [Some(a), Some(b)] if a == known && b != known => Some(b),
        [Some(a), Some(b)] if b == known && a != known => Some(a),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
