//! The fold on small dynamic-quantization graphs built in the IR: what folds, what does not,
//! and that the fused node gives the unfused chain's bits, evaluated op by op.

use super::*;
use crate::backend::cpu::eval_node;
use crate::ir::ops::quant::CastAttrs;
use crate::ir::{Dim, ValueInfo};
use crate::passes::quant::FoldQdq;
use crate::passes::Pass;
use crate::{Model, SessionOptions, Tensor};
use std::collections::HashMap;
use std::sync::Arc;

/// The weights of a case: type, zero points (none = input omitted) and scales.
#[derive(Clone, Debug)]
struct WeightCase {
    signed: bool,
    zero_point: Option<Vec<i32>>,
    scale: Vec<f32>,
}

/// A graph under construction.
#[derive(Default)]
struct Builder {
    graph: Graph,
}

impl Builder {
    fn value(&mut self, name: &str, dtype: DType, shape: Option<&[usize]>) -> ValueId {
        self.graph.add_value(ValueInfo {
            name: name.into(),
            dtype: Some(dtype),
            shape: shape.map(|s| s.iter().map(|&d| Dim::Known(d)).collect()),
            quant: None,
        })
    }
    fn constant(&mut self, name: &str, t: Tensor) -> ValueId {
        let v = self.value(name, t.dtype(), Some(&t.shape().to_vec()));
        self.graph.constants.insert(v, Arc::new(t));
        v
    }
    fn node(
        &mut self,
        op: Op,
        inputs: &[Option<ValueId>],
        outputs: &[(&str, DType)],
    ) -> Vec<ValueId> {
        let outs: Vec<ValueId> = outputs
            .iter()
            .map(|(name, dtype)| self.value(name, *dtype, None))
            .collect();
        self.graph.nodes.push(Node {
            name: outputs[0].0.into(),
            op,
            inputs: inputs.to_vec(),
            outputs: outs.iter().map(|&v| Some(v)).collect(),
        });
        outs
    }
}

fn binary(op: Binary) -> Op {
    Op::Elementwise(ElementwiseOp::Binary(op))
}

/// Deterministic values in about [-1, 1].
fn values(seed: u32, n: usize) -> Vec<f32> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state % 2001) as f32 / 1000.0 - 1.0
        })
        .collect()
}

/// Deterministic bytes.
fn bytes(seed: u32, n: usize) -> Vec<u8> {
    values(seed, n)
        .into_iter()
        .map(|v| ((v + 1.0) * 127.9) as u8)
        .collect()
}

/// `x [lead..., K] → DynamicQuantizeLinear → MatMulInteger(W [K, N]) → Cast → Mul(x_scale ·
/// w_scale) (→ Add bias)`; `swap` puts every commutative operand pair the other way round.
/// Returns the graph and its input's id.
fn chain(
    lead: &[usize],
    k: usize,
    n: usize,
    w: &WeightCase,
    bias: bool,
    swap: bool,
) -> (Graph, ValueId) {
    let mut b = Builder::default();
    let mut x_shape = lead.to_vec();
    x_shape.push(k);
    let x = b.value("x", DType::F32, Some(&x_shape));
    b.graph.inputs.push(x);
    let raw = bytes(n as u32 * 31 + k as u32, k * n);
    let wt = if w.signed {
        Tensor::from_vec(&[k, n], raw.iter().map(|&v| v as i8).collect::<Vec<_>>())
    } else {
        Tensor::from_vec(&[k, n], raw)
    };
    let w_id = b.constant("w", wt.unwrap());
    let zp_shape = |len: usize| if len == 1 { vec![] } else { vec![len] };
    let w_zp = w.zero_point.as_ref().map(|z| {
        let t = if w.signed {
            Tensor::from_vec(
                &zp_shape(z.len()),
                z.iter().map(|&v| v as i8).collect::<Vec<_>>(),
            )
        } else {
            Tensor::from_vec(
                &zp_shape(z.len()),
                z.iter().map(|&v| v as u8).collect::<Vec<_>>(),
            )
        };
        b.constant("w_zp", t.unwrap())
    });
    let ws = b.constant(
        "w_scale",
        Tensor::from_vec(&zp_shape(w.scale.len()), w.scale.clone()).unwrap(),
    );
    let q = b.node(
        Op::Quant(QuantOp::DynamicQuantizeLinear),
        &[Some(x)],
        &[
            ("xq", DType::U8),
            ("x_scale", DType::F32),
            ("x_zp", DType::U8),
        ],
    );
    let acc = b.node(
        Op::Quant(QuantOp::MatMulInteger),
        &[Some(q[0]), Some(w_id), Some(q[2]), w_zp],
        &[("acc", DType::I32)],
    )[0];
    let cast = CastAttrs {
        to: DType::F32,
        saturate: true,
        round_mode: Default::default(),
    };
    let f = b.node(
        Op::Quant(QuantOp::Cast(cast)),
        &[Some(acc)],
        &[("f", DType::F32)],
    )[0];
    let pair = |a: ValueId, c: ValueId| {
        if swap {
            [Some(c), Some(a)]
        } else {
            [Some(a), Some(c)]
        }
    };
    let s = b.node(binary(Binary::Mul), &pair(q[1], ws), &[("s", DType::F32)])[0];
    let mut y = b.node(binary(Binary::Mul), &pair(f, s), &[("m", DType::F32)])[0];
    if bias {
        let bias_values: Vec<f32> = values(7 + n as u32, n).iter().map(|v| v * 3.0).collect();
        let bias = b.constant("bias", Tensor::from_vec(&[n], bias_values).unwrap());
        y = b.node(binary(Binary::Add), &pair(y, bias), &[("y", DType::F32)])[0];
    }
    b.graph.outputs.push(y);
    b.graph.validate().expect("valid test graph");
    (b.graph, x)
}

/// Runs `graph` node by node with the CPU ops (no passes, nothing prepared).
fn eval_op_by_op(graph: &Graph, x: ValueId, input: &Tensor) -> Vec<Tensor> {
    let mut env: HashMap<ValueId, Tensor> = HashMap::new();
    env.insert(x, input.clone());
    for node in &graph.nodes {
        let ins: Vec<Option<&Tensor>> = node
            .inputs
            .iter()
            .map(|i| i.map(|i| graph.constant(i).map(|t| &**t).unwrap_or_else(|| &env[&i])))
            .collect();
        let outs = eval_node(&node.op, &ins, node.outputs.len(), 1).expect("op runs");
        for (id, t) in node.outputs.iter().zip(outs) {
            if let (Some(id), Some(t)) = (id, t) {
                env.insert(*id, t);
            }
        }
    }
    graph.outputs.iter().map(|o| env[o].clone()).collect()
}

fn run_pass(graph: &mut Graph) -> bool {
    let changed = FoldQdq.run(graph).expect("pass runs");
    graph.validate().expect("valid after the pass");
    changed
}

fn assert_same_bits(got: &Tensor, want: &Tensor, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    let (g, w) = (
        got.as_slice::<f32>().unwrap(),
        want.as_slice::<f32>().unwrap(),
    );
    let differ: Vec<usize> = (0..g.len())
        .filter(|&i| g[i].to_bits() != w[i].to_bits())
        .collect();
    assert!(
        differ.is_empty(),
        "{what}: {} of {} values differ, first at {}: {} vs {}",
        differ.len(),
        g.len(),
        differ[0],
        g[differ[0]],
        w[differ[0]]
    );
}

fn weight_cases(n: usize) -> Vec<WeightCase> {
    let per_column_scale: Vec<f32> = values(3, n)
        .iter()
        .map(|v| 0.002 + v.abs() * 0.01)
        .collect();
    vec![
        // u8 weights, per-tensor scale and zero point.
        WeightCase {
            signed: false,
            zero_point: Some(vec![131]),
            scale: vec![0.0071],
        },
        // i8 weights, per-column scales and zero points.
        WeightCase {
            signed: true,
            zero_point: Some((0..n).map(|j| (j as i32 * 37) % 255 - 127).collect()),
            scale: per_column_scale.clone(),
        },
        // i8 weights without a zero point input, per-column scales.
        WeightCase {
            signed: true,
            zero_point: None,
            scale: per_column_scale,
        },
        // u8 weights, per-column zero points, one scale.
        WeightCase {
            signed: false,
            zero_point: Some((0..n).map(|j| (j as i32 * 53) % 256).collect()),
            scale: vec![0.013],
        },
    ]
}

/// Inputs: ordinary values, all positive (zero point 0), and all equal to zero.
fn inputs(x_shape: &[usize]) -> Vec<Tensor> {
    let len: usize = x_shape.iter().product();
    let ordinary: Vec<f32> = values(11, len).iter().map(|v| v * 4.0 - 0.5).collect();
    let positive: Vec<f32> = values(12, len).iter().map(|v| v.abs() + 0.25).collect();
    [ordinary, positive, vec![0.0; len]]
        .into_iter()
        .map(|v| Tensor::from_vec(x_shape, v).unwrap())
        .collect()
}

#[test]
fn folded_chains_give_the_unfused_bits() {
    // (leading dims, K, N): one row, odd sizes, a batch, rows beyond one thread's grain,
    // columns over several blocks of packed weights (run on threads, or one after another).
    let shapes: [(&[usize], usize, usize); 8] = [
        (&[1], 7, 17),
        (&[1, 1], 7, 17),
        (&[2, 5], 7, 17),
        (&[3], 1, 1),
        (&[40], 120, 33),
        (&[1, 200], 64, 48),
        (&[40], 24, 600),
        (&[1], 7, 600),
    ];
    for (lead, k, n) in shapes {
        for (wi, w) in weight_cases(n).iter().enumerate() {
            for (bias, swap) in [(true, false), (false, true), (true, true)] {
                let what = format!("{lead:?} K={k} N={n} weights #{wi} bias={bias} swap={swap}");
                let (unfused, x) = chain(lead, k, n, w, bias, swap);
                let mut folded = unfused.clone();
                assert!(run_pass(&mut folded), "{what}: folds");
                assert_eq!(folded.nodes.len(), 1, "{what}: one node left");
                assert!(
                    matches!(folded.nodes[0].op, Op::Quant(QuantOp::DynamicQMatMul(_))),
                    "{what}"
                );
                let model = Model::from_graph(unfused.clone()).expect("loads");
                let mut x_shape = lead.to_vec();
                x_shape.push(k);
                for input in inputs(&x_shape) {
                    let want = eval_op_by_op(&unfused, x, &input).remove(0);
                    let got = eval_op_by_op(&folded, x, &input).remove(0);
                    assert_same_bits(&got, &want, &format!("{what}, unprepared"));
                    for threads in [1, 3] {
                        let mut session = model
                            .session(SessionOptions {
                                threads,
                                ..Default::default()
                            })
                            .expect("session");
                        let got = session.run_ordered(&[&input]).expect("runs").remove(0);
                        assert_same_bits(&got, &want, &format!("{what}, {threads} threads"));
                    }
                }
            }
        }
    }
}

#[test]
fn non_finite_inputs_give_the_unfused_bits() {
    let w = &weight_cases(5)[1];
    let (unfused, x) = chain(&[3], 4, 5, w, true, false);
    let mut folded = unfused.clone();
    assert!(run_pass(&mut folded));
    let cases = [
        vec![f32::NAN, 1.0, -2.0, 0.5],
        vec![f32::INFINITY, 1.0, -2.0, 0.5],
        vec![f32::NEG_INFINITY, 1.0, -2.0, 0.5],
        vec![3e38, -3e38, 1.0, 0.0],
        vec![1e-44, 0.0, 0.0, 1e-45],
    ];
    for case in cases {
        let mut v = case.clone();
        v.extend(values(5, 8).iter().map(|x| x * 0.3));
        let input = Tensor::from_vec(&[3, 4], v).unwrap();
        let want = eval_op_by_op(&unfused, x, &input).remove(0);
        let got = eval_op_by_op(&folded, x, &input).remove(0);
        let (g, w) = (
            got.as_slice::<f32>().unwrap(),
            want.as_slice::<f32>().unwrap(),
        );
        // NaN bits may differ in payload only.
        let same = g
            .iter()
            .zip(w)
            .all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()));
        assert!(same, "{case:?}: {g:?} vs {w:?}");
    }
}

#[test]
fn chains_with_other_readers_or_other_constants_stay() {
    let w = &weight_cases(6)[0];
    // The i32 product is also a graph output.
    let (mut g, _) = chain(&[2], 3, 6, w, true, false);
    let acc = g.nodes[1].outputs[0].unwrap();
    g.outputs.push(acc);
    assert!(!run_pass(&mut g));
    // The scale is also read by another node.
    let (mut g, _) = chain(&[2], 3, 6, w, true, false);
    let x_scale = g.nodes[0].outputs[1].unwrap();
    let extra = g.add_value(ValueInfo {
        name: "twice".into(),
        dtype: Some(DType::F32),
        shape: None,
        quant: None,
    });
    g.nodes.push(Node {
        name: "twice".into(),
        op: binary(Binary::Add),
        inputs: vec![Some(x_scale), Some(x_scale)],
        outputs: vec![Some(extra)],
    });
    g.outputs.push(extra);
    assert!(!run_pass(&mut g));
    // A weight scale of shape [1, N] would broadcast a 1-D result to 2-D.
    let (mut g, _) = chain(&[2], 3, 6, &weight_cases(6)[1], false, false);
    let ws = g.nodes[3].inputs[1].unwrap();
    let t = g.constants[&ws].as_slice::<f32>().unwrap().to_vec();
    g.constants
        .insert(ws, Arc::new(Tensor::from_vec(&[1, 6], t).unwrap()));
    assert!(!run_pass(&mut g));
}

#[test]
fn a_bias_that_is_not_an_n_vector_stays_a_separate_add() {
    let w = &weight_cases(6)[0];
    let (mut g, x) = chain(&[2], 3, 6, w, true, false);
    let add = g.nodes.len() - 1;
    let b = g.nodes[add].inputs[1].unwrap();
    g.constants.insert(
        b,
        Arc::new(Tensor::from_vec(&[2, 6], values(9, 12)).unwrap()),
    );
    let unfused = g.clone();
    assert!(run_pass(&mut g));
    assert_eq!(g.nodes.len(), 2, "the product folds, the Add stays");
    assert!(matches!(
        g.nodes[0].op,
        Op::Quant(QuantOp::DynamicQMatMul(_))
    ));
    assert_eq!(g.nodes[0].inputs.get(2).copied().flatten(), None);
    let input = &inputs(&[2, 3])[0];
    let want = eval_op_by_op(&unfused, x, input).remove(0);
    let got = eval_op_by_op(&g, x, input).remove(0);
    assert_same_bits(&got, &want, "bias [2, 6]");
}

#[test]
fn the_folded_node_reports_as_int8() {
    let (mut g, _) = chain(&[2], 3, 6, &weight_cases(6)[0], true, false);
    assert!(run_pass(&mut g));
    let lines = crate::passes::quant::report(&g);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].op, "DynamicQMatMul");
    assert_eq!(lines[0].precision, crate::passes::quant::Precision::Int8);
}
