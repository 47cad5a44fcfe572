//! Moves the element-wise ops after a convolution into its epilogue (`FusedConv`): an
//! activation, or an `Add` of a value that is already computed when the conv runs (a residual
//! branch).

use super::{remove_nodes, scalar_constant, Readers};
use crate::ir::ops::elementwise::{Binary, Clip, ElementwiseOp, Unary};
use crate::ir::ops::nn::{EpilogueStep, FusedActivation, FusedConv};
use crate::ir::ops::NnOp;
use crate::ir::{Graph, Op};
use crate::passes::Pass;
use crate::Result;

/// See the module docs.
pub(in crate::passes) struct FuseConvEpilogue;

impl Pass for FuseConvEpilogue {
    fn name(&self) -> &'static str {
        "fuse_conv_epilogue"
    }

    fn run(&self, graph: &mut Graph) -> Result<bool> {
        let mut changed = false;
        while let Some((conv, next, step)) = find(graph) {
            let out = graph.nodes[next].outputs[0];
            let residual = match step {
                EpilogueStep::AddResidual => {
                    let n = &graph.nodes[next];
                    let conv_out = graph.nodes[conv].outputs[0];
                    n.inputs
                        .iter()
                        .copied()
                        .flatten()
                        .find(|&id| Some(id) != conv_out)
                }
                EpilogueStep::Activation(_) => None,
            };
            let node = &mut graph.nodes[conv];
            let mut fused = match &node.op {
                Op::Nn(NnOp::Conv(c)) => FusedConv {
                    conv: c.clone(),
                    steps: Vec::new(),
                },
                Op::Nn(NnOp::FusedConv(f)) => f.clone(),
                _ => return Err(crate::Error::internal("fusion target is not a conv")),
            };
            fused.steps.push(step);
            node.op = Op::Nn(NnOp::FusedConv(fused));
            if let Some(r) = residual {
                node.inputs.resize(4, None);
                node.inputs[3] = Some(r);
            }
            node.outputs = vec![out];
            remove_nodes(graph, &[next]);
            changed = true;
        }
        Ok(changed)
    }
}

/// `(conv node, the node after it, the step it becomes)`.
fn find(graph: &Graph) -> Option<(usize, usize, EpilogueStep)> {
    let readers = Readers::of(graph);
    graph.nodes.iter().enumerate().find_map(|(index, node)| {
        let has_residual = match &node.op {
            Op::Nn(NnOp::Conv(_)) => false,
            Op::Nn(NnOp::FusedConv(f)) => f.steps.contains(&EpilogueStep::AddResidual),
            _ => return None,
        };
        let out = node.outputs.first().copied().flatten()?;
        if node.outputs.len() != 1 {
            return None;
        }
        let next = readers.sole_reader(out)?;
        let n = &graph.nodes[next];
        if n.outputs.len() != 1 {
            return None;
        }
        if let Some(act) = activation(graph, next) {
            return Some((index, next, EpilogueStep::Activation(act)));
        }
        // conv + r (either order) where r exists before the conv runs: r is an input, a
        // constant, or produced by an earlier node.
        let Op::Elementwise(ElementwiseOp::Binary(Binary::Add)) = n.op else {
            return None;
        };
        if has_residual || n.inputs.len() != 2 {
            return None;
        }
        let other = n.inputs.iter().copied().flatten().find(|&id| id != out)?;
        if n.inputs.iter().flatten().filter(|&&id| id == out).count() != 1 {
            return None;
        }
        let ready = readers.producer(other).is_none_or(|p| p < index);
        ready.then_some((index, next, EpilogueStep::AddResidual))
    })
}

/// The node as an epilogue activation, if it is one.
fn activation(graph: &Graph, index: usize) -> Option<FusedActivation> {
    let node = &graph.nodes[index];
    match &node.op {
        Op::Elementwise(ElementwiseOp::Unary(u)) => match *u {
            Unary::Relu => Some(FusedActivation::Relu),
            Unary::LeakyRelu { alpha } => Some(FusedActivation::LeakyRelu { alpha }),
            Unary::HardSigmoid { alpha, beta } => {
                Some(FusedActivation::HardSigmoid { alpha, beta })
            }
            Unary::HardSwish => Some(FusedActivation::HardSwish),
            Unary::Sigmoid => Some(FusedActivation::Sigmoid),
            Unary::Tanh => Some(FusedActivation::Tanh),
            _ => None,
        },
        Op::Elementwise(ElementwiseOp::Clip(clip)) => {
            let (min, max) = match clip {
                Clip::Attributes { min, max } => (*min, *max),
                Clip::FromInputs => {
                    let bound = |i: usize| node.inputs.get(i).copied().flatten();
                    let min = match bound(1) {
                        Some(id) => scalar_constant(graph, id)?,
                        None => f32::NEG_INFINITY,
                    };
                    let max = match bound(2) {
                        Some(id) => scalar_constant(graph, id)?,
                        None => f32::INFINITY,
                    };
                    (min, max)
                }
            };
            (min <= max).then_some(FusedActivation::Clip { min, max })
        }
        _ => None,
    }
}
