//! Small graphs for the folding tests: values, constants, nodes, and an op-by-op evaluation
//! on the CPU backend to compare a folded graph with the pattern it replaced.

use crate::backend::cpu::eval_node;
use crate::ir::ops::quant::{DequantizeAttrs, QuantOp, QuantizeAttrs};
use crate::ir::{Dim, Graph, Node, Op, ValueId, ValueInfo};
use crate::{DType, Tensor};
use std::collections::HashMap;
use std::sync::Arc;

pub(super) fn value(g: &mut Graph, name: &str, dtype: DType, shape: &[usize]) -> ValueId {
    g.add_value(ValueInfo {
        name: name.into(),
        dtype: Some(dtype),
        shape: Some(shape.iter().map(|&d| Dim::Known(d)).collect()),
        quant: None,
    })
}

pub(super) fn constant(g: &mut Graph, name: &str, t: Tensor) -> ValueId {
    let v = value(g, name, t.dtype(), &t.shape().to_vec());
    g.constants.insert(v, Arc::new(t));
    v
}

pub(super) fn node(g: &mut Graph, name: &str, op: Op, inputs: &[ValueId], output: ValueId) {
    g.nodes.push(Node {
        name: name.into(),
        op,
        inputs: inputs.iter().map(|&i| Some(i)).collect(),
        outputs: vec![Some(output)],
    });
}

/// A per-tensor `DequantizeLinear` node `x, scale, zero point → out`.
pub(super) fn dequantize(g: &mut Graph, name: &str, inputs: [ValueId; 3], out: ValueId) {
    let dq = DequantizeAttrs {
        axis: 1,
        block_size: 0,
        output_dtype: None,
    };
    node(
        g,
        name,
        Op::Quant(QuantOp::DequantizeLinear(dq)),
        &inputs,
        out,
    );
}

/// A per-tensor, saturating `QuantizeLinear` node `x, scale, zero point → out`.
pub(super) fn quantize(g: &mut Graph, name: &str, inputs: [ValueId; 3], out: ValueId) {
    let q = QuantizeAttrs {
        axis: 1,
        block_size: 0,
        saturate: true,
        output_dtype: None,
        precision: None,
    };
    node(g, name, Op::Quant(QuantOp::QuantizeLinear(q)), &inputs, out);
}

/// The graph's first output, evaluated node by node from `input` at `x`.
pub(super) fn eval(g: &Graph, x: ValueId, input: &Tensor) -> Tensor {
    let mut env: HashMap<ValueId, Tensor> = HashMap::from([(x, input.clone())]);
    for n in &g.nodes {
        let ins: Vec<Option<&Tensor>> = n
            .inputs
            .iter()
            .map(|i| i.map(|i| g.constant(i).map(|t| &**t).unwrap_or_else(|| &env[&i])))
            .collect();
        let out = eval_node(&n.op, &ins, 1, 1).expect("op runs").remove(0);
        env.insert(n.outputs[0].unwrap(), out.expect("an output"));
    }
    env[&g.outputs[0]].clone()
}
