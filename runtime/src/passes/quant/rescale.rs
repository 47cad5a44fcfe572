//! `DequantizeLinear(x, s, z) → Mul|Div by a positive scalar constant c` becomes
//! `DequantizeLinear(x, s·c or s/c, z)`: the product is still a dequantized 8-bit value, so what
//! reads it can fold too. Exporters spell HardSwish's `/ 6` as a separate `Div` that quantizers
//! leave in float (PP-OCR's classifier: `DequantizeLinear → Div → MaxPool → QuantizeLinear`,
//! which then runs as an 8-bit `MaxPool`).
//!
//! A `Mul`/`Div` read only by a quantize is left to [`super::lut`] (one table).
//!
//! The folded scale rounds once where the float graph rounds twice (`(x − z)·s`, then `/ c`):
//! at most an ulp apart, before a quantize that rounds to a step of the output's scale.

use super::{add_constant, remove_nodes, Readers};
use crate::ir::ops::elementwise::{Binary, ElementwiseOp};
use crate::ir::ops::quant::QuantOp;
use crate::ir::{Graph, Op, ValueId};
use crate::{DType, Tensor};

/// Folds every such pair; whether anything changed.
pub(super) fn fold(graph: &mut Graph) -> bool {
    let mut changed = false;
    while let Some(site) = find(graph) {
        apply(graph, site);
        changed = true;
    }
    changed
}

/// A dequantize node whose output only a `Mul`/`Div` by a scalar reads.
struct Rescale {
    dequantize: usize,
    binary: usize,
    /// The dequantize node's new scale.
    scale: f32,
}

fn find(graph: &Graph) -> Option<Rescale> {
    let readers = Readers::of(graph);
    graph.nodes.iter().enumerate().find_map(|(index, n)| {
        let Op::Elementwise(ElementwiseOp::Binary(op)) = n.op else {
            return None;
        };
        let [Some(a), Some(b)] = n.inputs[..] else {
            return None;
        };
        // `v · c`, `c · v` or `v / c`, with `v` dequantized and read only here.
        let (v, c, divide) = match op {
            Binary::Mul if scalar(graph, b, a).is_some() => (a, b, false),
            Binary::Mul if scalar(graph, a, b).is_some() => (b, a, false),
            Binary::Div => (a, b, true),
            _ => return None,
        };
        let c = scalar(graph, c, v)?;
        let dequantize = readers.producer(v)?;
        if readers.sole_reader(v) != Some(index) {
            return None;
        }
        // Read only by a quantize: the pair is a table already (`lut`), leave it.
        let output = n.outputs.first().copied().flatten()?;
        if let Some(reader) = readers.sole_reader(output) {
            if matches!(
                graph.nodes[reader].op,
                Op::Quant(QuantOp::QuantizeLinear(_))
            ) {
                return None;
            }
        }
        let d = &graph.nodes[dequantize];
        let Op::Quant(QuantOp::DequantizeLinear(attrs)) = &d.op else {
            return None;
        };
        if attrs.block_size != 0 || attrs.output_dtype.is_some_and(|t| t != DType::F32) {
            return None;
        }
        let s = graph.constant(d.inputs.get(1).copied().flatten()?)?;
        if s.dtype() != DType::F32 || s.len() != 1 {
            return None;
        }
        let s = s.as_slice::<f32>().ok()?[0];
        let scale = if divide { s / c } else { s * c };
        (scale.is_finite() && scale > 0.0).then_some(Rescale {
            dequantize,
            binary: index,
            scale,
        })
    })
}

/// The value of `c` when it is a positive, finite `f32` scalar constant whose broadcast
/// against `v` leaves `v`'s shape unchanged (rank 0 or 1, or no higher than `v`'s known rank).
fn scalar(graph: &Graph, c: ValueId, v: ValueId) -> Option<f32> {
    let t = graph.constant(c)?;
    if t.dtype() != DType::F32 || t.len() != 1 {
        return None;
    }
    let v_rank = graph.value(v).shape.as_ref().map(Vec::len);
    if t.shape().len() > 1 && v_rank.is_none_or(|r| t.shape().len() > r) {
        return None;
    }
    let c = t.as_slice::<f32>().ok()?[0];
    (c.is_finite() && c > 0.0).then_some(c)
}

/// The dequantize node takes the new scale and the binary node's output; the binary node goes.
fn apply(graph: &mut Graph, site: Rescale) {
    let name = format!(
        "{}_rescaled_scale",
        graph.nodes[site.dequantize].name.as_str()
    );
    let scale = add_constant(graph, name, Tensor::scalar(site.scale));
    let output = graph.nodes[site.binary].outputs[0];
    let d = &mut graph.nodes[site.dequantize];
    d.inputs[1] = Some(scale);
    d.outputs = vec![output];
    remove_nodes(graph, &[site.binary]);
}

#[cfg(test)]
mod tests {
    use super::super::test_graph::{constant, dequantize, eval, node, quantize, value};
    use super::super::FoldQdq;
    use crate::ir::ops::elementwise::{Binary, ElementwiseOp};
    use crate::ir::ops::nn::{NnOp, Padding, Pool, PoolKind, Window};
    use crate::ir::{Graph, Op, ValueId};
    use crate::passes::Pass;
    use crate::{DType, Tensor};

    /// `u8 x → DequantizeLinear → op(·, c) → MaxPool 2×2 → QuantizeLinear → u8 y`.
    fn graph(op: Binary, c: f32) -> (Graph, ValueId) {
        let mut g = Graph::default();
        let shape = [1, 2, 4, 6];
        let x = value(&mut g, "x", DType::U8, &shape);
        let (s, z) = (
            constant(&mut g, "s", Tensor::scalar(0.05f32)),
            constant(&mut g, "z", Tensor::scalar(7u8)),
        );
        let c = constant(&mut g, "c", Tensor::scalar(c));
        let (s2, z2) = (
            constant(&mut g, "s2", Tensor::scalar(0.02f32)),
            constant(&mut g, "z2", Tensor::scalar(3u8)),
        );
        let v = value(&mut g, "v", DType::F32, &shape);
        let u = value(&mut g, "u", DType::F32, &shape);
        let p = value(&mut g, "p", DType::F32, &[1, 2, 2, 3]);
        let y = value(&mut g, "y", DType::U8, &[1, 2, 2, 3]);
        dequantize(&mut g, "dq", [x, s, z], v);
        let b = Op::Elementwise(ElementwiseOp::Binary(op));
        node(&mut g, "scale", b, &[v, c], u);
        let pool = Pool {
            kind: PoolKind::Max {
                column_major_indices: false,
            },
            window: Window {
                kernel_shape: vec![2, 2],
                strides: vec![2, 2],
                dilations: vec![],
                padding: Padding::Explicit {
                    begin: vec![],
                    end: vec![],
                },
            },
            ceil_mode: false,
        };
        node(&mut g, "pool", Op::Nn(NnOp::Pool(pool)), &[u], p);
        quantize(&mut g, "q", [p, s2, z2], y);
        g.inputs = vec![x];
        g.outputs = vec![y];
        (g, x)
    }

    #[test]
    fn scaled_dequantize_feeds_an_8_bit_max_pool() {
        let raw: Vec<u8> = (0..48u32).map(|i| (i * 97 % 251) as u8).collect();
        let input = Tensor::from_vec(&[1, 2, 4, 6], raw).unwrap();
        for (op, c) in [(Binary::Div, 6.0), (Binary::Mul, 0.4)] {
            let (mut g, x) = graph(op, c);
            let want = eval(&g, x, &input);
            assert!(FoldQdq.run(&mut g).unwrap());
            g.validate().unwrap();
            assert!(
                !g.nodes.iter().any(|n| matches!(n.op, Op::Elementwise(_))),
                "{op:?}: the scaling is folded into the dequantize"
            );
            let got = eval(&g, x, &input);
            assert_eq!(got.shape(), want.shape());
            let diff = got
                .bytes()
                .iter()
                .zip(want.bytes())
                .map(|(&a, &b)| (a as i32 - b as i32).abs())
                .max();
            assert!(diff <= Some(1), "{op:?}: {diff:?}");
        }
    }

    #[test]
    fn negative_or_tensor_operands_stay() {
        for c in [-6.0f32, 0.0, f32::INFINITY] {
            let (mut g, _) = graph(Binary::Div, c);
            FoldQdq.run(&mut g).unwrap();
            assert!(
                g.nodes.iter().any(|n| matches!(n.op, Op::Elementwise(_))),
                "c = {c}"
            );
        }
    }
}
