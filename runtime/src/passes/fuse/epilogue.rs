//! Moves the element-wise ops after a convolution into its epilogue (`FusedConv`): an
//! activation, an `Add` of a value that is already computed when the conv runs (a residual
//! branch), or a `Mul`/`Add`/`Sub` by a scalar constant after an activation (the
//! "learnable affine blocks" of PP-LCNetV3 put one after nearly every conv; before any
//! activation, [`super::FoldIntoConv`] folds them into the weights instead).
//!
//! The chain is fused one op at a time; a `Mul` by `s` then an `Add` of `b` become one
//! `Affine { s, b }` step, which rounds exactly as the two ops did.

use super::{f32_constant, remove_nodes, scalar_constant, Readers};
use crate::ir::ops::elementwise::{Binary, Clip, ElementwiseOp, Unary};
use crate::ir::ops::nn::{EpilogueStep, FusedActivation, FusedConv};
use crate::ir::ops::NnOp;
use crate::ir::{Graph, Op, ValueId};
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
                EpilogueStep::Activation(_) | EpilogueStep::Affine { .. } => None,
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
            push_step(&mut fused.steps, step);
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
        if let Some(step) = scalar_affine(graph, next, out, conv_rank(graph, node)?) {
            return Some((index, next, step));
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

/// Appends `step`, merging `Mul(s)` then `Add(b)` into one `Affine { s, b }`: the lone `Mul`'s
/// `+ (-0.0)` leaves its product unchanged and `· 1` leaves the sum unchanged, so the merged
/// step rounds exactly as the two did.
fn push_step(steps: &mut Vec<EpilogueStep>, step: EpilogueStep) {
    if let (
        Some(EpilogueStep::Affine { shift, .. }),
        EpilogueStep::Affine {
            scale: 1.0,
            shift: b,
        },
    ) = (steps.last_mut(), step)
    {
        if shift.to_bits() == (-0.0f32).to_bits() {
            *shift = b;
            return;
        }
    }
    steps.push(step);
}

/// The rank of the conv's output: its weights' rank.
fn conv_rank(graph: &Graph, conv: &crate::ir::Node) -> Option<usize> {
    let w = conv.inputs.get(1).copied().flatten()?;
    graph.values[w.0].shape.as_ref().map(|s| s.len())
}

/// Node `index` as an affine step, if it multiplies `x` (of rank `rank`) by a scalar
/// constant, adds one to it, or subtracts one from it (either way round), and that
/// constant's rank does not raise the output's.
fn scalar_affine(graph: &Graph, index: usize, x: ValueId, rank: usize) -> Option<EpilogueStep> {
    let node = &graph.nodes[index];
    let Op::Elementwise(ElementwiseOp::Binary(op)) = &node.op else {
        return None;
    };
    let [Some(a), Some(b)] = node.inputs[..] else {
        return None;
    };
    let (other, x_first) = match (a == x, b == x) {
        (true, false) => (b, true),
        (false, true) => (a, false),
        _ => return None,
    };
    let (values, shape) = f32_constant(graph, other)?;
    let [c] = values[..] else {
        return None;
    };
    if shape.len() > rank {
        return None;
    }
    match op {
        Binary::Mul => Some(EpilogueStep::Affine {
            scale: c,
            shift: -0.0,
        }),
        Binary::Add => Some(EpilogueStep::Affine {
            scale: 1.0,
            shift: c,
        }),
        // x - c = x + (-c) and c - x = (-x) + c, exactly.
        Binary::Sub if x_first => Some(EpilogueStep::Affine {
            scale: 1.0,
            shift: -c,
        }),
        Binary::Sub => Some(EpilogueStep::Affine {
            scale: -1.0,
            shift: c,
        }),
        _ => None,
    }
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
