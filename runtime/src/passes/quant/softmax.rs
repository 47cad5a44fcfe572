//! `DequantizeLinear → Softmax (last axis) → QuantizeLinear` → `QSoftmax`: the quantized
//! head of a classifier stays in bytes (`e^x` comes from a table of the 256 byte distances),
//! where the pattern dequantized the row, ran the float softmax and quantized it back.

use super::Site;
use crate::ir::ops::quant::{QSoftmax, QuantOp};
use crate::ir::ops::transformer::{Softmax, SoftmaxKind, TransformerOp};
use crate::ir::{Graph, Op};
use crate::Result;

/// Folds the site if its op is a `Softmax` over the input's last axis.
pub(super) fn fold(graph: &mut Graph, site: &Site) -> Result<bool> {
    let Op::Transformer(TransformerOp::Softmax(s)) = &graph.nodes[site.node].op else {
        return Ok(false);
    };
    let [(x, xq)] = site.variable_sources()[..] else {
        return Ok(false);
    };
    let rank = graph.value(x).shape.as_ref().map(|s| s.len());
    if !over_last_axis(s, rank) {
        return Ok(false);
    }
    let q = QSoftmax { x: xq, y: site.y };
    site.replace(graph, Op::Quant(QuantOp::QSoftmax(q)), vec![Some(x)]);
    Ok(true)
}

/// Whether `s` is a softmax over the last axis of an input of rank `rank` (when known). With
/// opset < 13's flattening, only an axis that is the last one reduces exactly that axis.
fn over_last_axis(s: &Softmax, rank: Option<usize>) -> bool {
    if s.kind != SoftmaxKind::Softmax {
        return false;
    }
    match (s.axis, rank) {
        (-1, _) => true,
        (axis, Some(rank)) => axis == rank as i64 - 1 || axis == -(rank as i64) && rank == 1,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_graph::{constant, dequantize, eval, node, quantize, value};
    use super::super::FoldQdq;
    use super::*;
    use crate::passes::Pass;
    use crate::{DType, Tensor};

    /// `x (u8 or i8) → DequantizeLinear → Softmax(axis) → QuantizeLinear → u8 y`.
    fn graph(x_dtype: DType, axis: i64, shape: &[usize]) -> (Graph, crate::ir::ValueId) {
        let mut g = Graph::default();
        let x = value(&mut g, "x", x_dtype, shape);
        let zero = if x_dtype == DType::I8 {
            Tensor::scalar(-3i8)
        } else {
            Tensor::scalar(120u8)
        };
        let (s, z) = (
            constant(&mut g, "s", Tensor::scalar(0.07f32)),
            constant(&mut g, "z", zero),
        );
        let (s2, z2) = (
            constant(&mut g, "s2", Tensor::scalar(1.0f32 / 256.0)),
            constant(&mut g, "z2", Tensor::scalar(0u8)),
        );
        let v = value(&mut g, "v", DType::F32, shape);
        let p = value(&mut g, "p", DType::F32, shape);
        let y = value(&mut g, "y", DType::U8, shape);
        dequantize(&mut g, "dq", [x, s, z], v);
        let softmax = softmax(SoftmaxKind::Softmax, axis, false);
        node(
            &mut g,
            "softmax",
            Op::Transformer(TransformerOp::Softmax(softmax)),
            &[v],
            p,
        );
        quantize(&mut g, "q", [p, s2, z2], y);
        g.inputs = vec![x];
        g.outputs = vec![y];
        (g, x)
    }

    #[test]
    fn folded_softmax_is_within_one_step_of_the_pattern() {
        let shape = [3, 2, 17];
        let raw: Vec<u8> = (0..102u32).map(|i| (i * 97 % 251) as u8).collect();
        for dtype in [DType::U8, DType::I8] {
            let input = Tensor::from_bytes(dtype, &shape, &raw).unwrap();
            let (mut g, x) = graph(dtype, -1, &shape);
            let want = eval(&g, x, &input);
            assert!(FoldQdq.run(&mut g).unwrap());
            g.validate().unwrap();
            assert!(
                g.nodes
                    .iter()
                    .any(|n| matches!(n.op, Op::Quant(QuantOp::QSoftmax(_)))),
                "{dtype}: folded"
            );
            assert!(!g.nodes.iter().any(|n| matches!(n.op, Op::Transformer(_))));
            let got = eval(&g, x, &input);
            assert_eq!(got.shape(), want.shape());
            let diff = got
                .bytes()
                .iter()
                .zip(want.bytes())
                .map(|(&a, &b)| (a as i32 - b as i32).abs())
                .max();
            assert!(diff <= Some(1), "{dtype}: {diff:?}");
        }
    }

    #[test]
    fn a_softmax_over_another_axis_stays_float() {
        let (mut g, _) = graph(DType::U8, 1, &[3, 2, 17]);
        FoldQdq.run(&mut g).unwrap();
        assert!(g.nodes.iter().any(|n| matches!(n.op, Op::Transformer(_))));
    }

    fn softmax(kind: SoftmaxKind, axis: i64, flatten: bool) -> Softmax {
        Softmax {
            kind,
            axis,
            flatten,
        }
    }

    #[test]
    fn only_the_last_axis_of_a_plain_softmax() {
        assert!(over_last_axis(
            &softmax(SoftmaxKind::Softmax, -1, false),
            None
        ));
        assert!(over_last_axis(
            &softmax(SoftmaxKind::Softmax, -1, true),
            Some(3)
        ));
        assert!(over_last_axis(
            &softmax(SoftmaxKind::Softmax, 1, true),
            Some(2)
        ));
        assert!(over_last_axis(
            &softmax(SoftmaxKind::Softmax, 2, false),
            Some(3)
        ));
        assert!(!over_last_axis(
            &softmax(SoftmaxKind::Softmax, 1, false),
            Some(3)
        ));
        assert!(!over_last_axis(
            &softmax(SoftmaxKind::Softmax, 1, true),
            Some(3)
        ));
        assert!(!over_last_axis(
            &softmax(SoftmaxKind::Softmax, 1, false),
            None
        ));
        assert!(!over_last_axis(
            &softmax(SoftmaxKind::LogSoftmax, -1, false),
            None
        ));
        assert!(!over_last_axis(
            &softmax(SoftmaxKind::Hardmax, -1, false),
            None
        ));
    }
}
