//! The rewrite on small graphs built in the IR: which values widen, which keep their type, and
//! where the boundary `Cast`s go.

use super::*;
use crate::ir::ops::elementwise::{Binary, ElementwiseOp, Unary};
use crate::ir::Dim;

/// A graph under construction.
#[derive(Default)]
struct Builder {
    graph: Graph,
}

impl Builder {
    fn value(&mut self, name: &str, dtype: DType) -> ValueId {
        self.graph.add_value(ValueInfo {
            name: name.into(),
            dtype: Some(dtype),
            shape: Some(vec![Dim::Known(4)]),
            quant: None,
        })
    }
    fn input(&mut self, name: &str, dtype: DType) -> ValueId {
        let v = self.value(name, dtype);
        self.graph.inputs.push(v);
        v
    }
    fn constant(&mut self, name: &str, t: Tensor) -> ValueId {
        let v = self.value(name, t.dtype());
        self.graph.constants.insert(v, Arc::new(t));
        v
    }
    fn node(&mut self, op: Op, inputs: &[ValueId], out: &str, dtype: DType) -> ValueId {
        let v = self.value(out, dtype);
        self.graph.nodes.push(Node {
            name: out.into(),
            op,
            inputs: inputs.iter().map(|&i| Some(i)).collect(),
            outputs: vec![Some(v)],
        });
        v
    }
    fn finish(mut self, outputs: &[ValueId]) -> Graph {
        self.graph.outputs = outputs.to_vec();
        self.graph.validate().expect("valid test graph");
        self.graph
    }
}

fn add() -> Op {
    Op::Elementwise(ElementwiseOp::Binary(Binary::Add))
}
fn relu() -> Op {
    Op::Elementwise(ElementwiseOp::Unary(Unary::Relu))
}
fn halves(values: &[f32]) -> Tensor {
    let h: Vec<half::f16> = values.iter().map(|&v| half::f16::from_f32(v)).collect();
    Tensor::from_vec(&[values.len()], h).unwrap()
}

fn run(graph: &mut Graph) -> bool {
    let changed = ComputeHalfInF32.run(graph).expect("pass runs");
    graph.validate().expect("valid after the pass");
    changed
}

fn dtype_of(graph: &Graph, v: ValueId) -> Option<DType> {
    graph
        .constants
        .get(&v)
        .map(|t| t.dtype())
        .or(graph.values[v.0].dtype)
}

/// No value read or written by a node other than a `Cast` is f16 or bf16.
fn computes_in_f32(graph: &Graph) -> bool {
    graph
        .nodes
        .iter()
        .filter(|n| !matches!(n.op, Op::Quant(QuantOp::Cast(_))))
        .flat_map(|n| n.inputs.iter().chain(&n.outputs).flatten())
        .all(|&v| !is_narrow(dtype_of(graph, v)))
}

fn casts(graph: &Graph) -> Vec<(DType, Option<DType>)> {
    graph
        .nodes
        .iter()
        .filter_map(|n| match &n.op {
            Op::Quant(QuantOp::Cast(c)) => Some((c.to, dtype_of(graph, n.inputs[0].unwrap()))),
            _ => None,
        })
        .collect()
}

#[test]
fn f16_inputs_and_outputs_keep_their_types() {
    let mut b = Builder::default();
    let x = b.input("x", DType::F16);
    let w = b.constant("w", halves(&[0.5, -1.0, 2.0, 0.25]));
    let s = b.node(add(), &[x, w], "s", DType::F16);
    let y = b.node(relu(), &[s], "y", DType::F16);
    let mut g = b.finish(&[y]);
    assert!(run(&mut g));
    assert_eq!(g.inputs, vec![x]);
    assert_eq!(g.outputs, vec![y]);
    assert_eq!(g.values[x.0].dtype, Some(DType::F16));
    assert_eq!(g.values[y.0].dtype, Some(DType::F16));
    assert!(computes_in_f32(&g));
    assert_eq!(g.constants[&w].dtype(), DType::F32);
    assert_eq!(
        g.constants[&w].view().to_f32_vec().unwrap(),
        vec![0.5, -1.0, 2.0, 0.25]
    );
    // One Cast in from the f16 input, one out to the f16 output.
    assert_eq!(
        casts(&g),
        vec![
            (DType::F32, Some(DType::F16)),
            (DType::F16, Some(DType::F32))
        ]
    );
    assert!(!run(&mut g), "a second run finds nothing to do");
}

#[test]
fn boundary_casts_of_an_f32_io_graph_disappear() {
    // What `keep_io_types=True` produces: f32 in, Cast to f16, f16 compute, Cast to f32 out.
    let mut b = Builder::default();
    let x = b.input("x", DType::F32);
    let xh = b.node(cast_to(DType::F16), &[x], "xh", DType::F16);
    let w = b.constant("w", halves(&[1.0, 2.0, 3.0, 4.0]));
    let s = b.node(add(), &[xh, w], "s", DType::F16);
    let r = b.node(relu(), &[s], "r", DType::F16);
    let y = b.node(cast_to(DType::F32), &[r], "y", DType::F32);
    let mut g = b.finish(&[y]);
    assert!(run(&mut g));
    assert!(casts(&g).is_empty(), "{:?}", casts(&g));
    assert!(computes_in_f32(&g));
    assert_eq!(g.nodes.len(), 2);
    assert_eq!(g.nodes[0].inputs[0], Some(x));
    assert_eq!(
        g.nodes[1].outputs[0],
        Some(y),
        "relu writes the output itself"
    );
    assert_eq!(g.values[y.0].dtype, Some(DType::F32));
}

#[test]
fn a_cast_to_f16_seen_at_an_output_keeps_its_rounding() {
    // y = f16(x) is an output; z = f32(f16(x) + 1) is computed in f32.
    let mut b = Builder::default();
    let x = b.input("x", DType::F32);
    let y = b.node(cast_to(DType::F16), &[x], "y", DType::F16);
    let one = b.constant("one", halves(&[1.0]));
    let s = b.node(add(), &[y, one], "s", DType::F16);
    let z = b.node(cast_to(DType::F32), &[s], "z", DType::F32);
    let mut g = b.finish(&[y, z]);
    assert!(run(&mut g));
    assert_eq!(g.values[y.0].dtype, Some(DType::F16));
    let producer = g.nodes.iter().find(|n| n.outputs[0] == Some(y)).unwrap();
    assert!(matches!(&producer.op, Op::Quant(QuantOp::Cast(c)) if c.to == DType::F16));
    assert_eq!(producer.inputs[0], Some(x));
    // The Add reads the f16 output widened again (the rounding is part of the model there).
    let adder = g
        .nodes
        .iter()
        .find(|n| matches!(n.op, Op::Elementwise(_)))
        .unwrap();
    let read = adder.inputs[0].unwrap();
    assert_eq!(dtype_of(&g, read), Some(DType::F32));
    let widen = g.nodes.iter().find(|n| n.outputs[0] == Some(read)).unwrap();
    assert_eq!(widen.inputs[0], Some(y));
    assert!(computes_in_f32(&g));
}

#[test]
fn bitcast_sees_f16_bits() {
    let mut b = Builder::default();
    let x = b.input("x", DType::F32);
    let xh = b.node(cast_to(DType::F16), &[x], "xh", DType::F16);
    let r = b.node(relu(), &[xh], "r", DType::F16);
    let bits = b.node(
        Op::Quant(QuantOp::BitCast { to: DType::U16 }),
        &[r],
        "bits",
        DType::U16,
    );
    let mut g = b.finish(&[bits]);
    assert!(run(&mut g));
    let bitcast = g
        .nodes
        .iter()
        .find(|n| matches!(n.op, Op::Quant(QuantOp::BitCast { .. })))
        .unwrap();
    assert_eq!(bitcast.inputs[0], Some(r));
    assert_eq!(g.values[r.0].dtype, Some(DType::F16));
    let producer = g.nodes.iter().find(|n| n.outputs[0] == Some(r)).unwrap();
    assert!(matches!(&producer.op, Op::Quant(QuantOp::Cast(c)) if c.to == DType::F16));
    assert!(!run(&mut g));
}

#[test]
fn dtype_attributes_widen() {
    let mut b = Builder::default();
    let x = b.input("x", DType::F32);
    let shape = b.constant("shape", Tensor::from_vec(&[1], vec![4i64]).unwrap());
    let fill = b.node(
        Op::Shape(ShapeOp::ConstantOfShape {
            value: halves(&[0.5]).reshaped(&[1]).unwrap(),
        }),
        &[shape],
        "fill",
        DType::F16,
    );
    let xh = b.node(cast_to(DType::F16), &[x], "xh", DType::F16);
    let s = b.node(add(), &[xh, fill], "s", DType::F16);
    let y = b.node(cast_to(DType::F32), &[s], "y", DType::F32);
    let mut g = b.finish(&[y]);
    assert!(run(&mut g));
    let fill_node = g.nodes.iter().find(|n| n.outputs[0] == Some(fill)).unwrap();
    assert!(
        matches!(&fill_node.op, Op::Shape(ShapeOp::ConstantOfShape { value }) if value.dtype() == DType::F32)
    );
    assert!(computes_in_f32(&g));
}

#[test]
fn f32_graphs_are_untouched() {
    let mut b = Builder::default();
    let x = b.input("x", DType::F32);
    let y = b.node(relu(), &[x], "y", DType::F32);
    let mut g = b.finish(&[y]);
    assert!(!run(&mut g));
    assert_eq!(g.nodes.len(), 1);
}
