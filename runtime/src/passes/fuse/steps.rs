//! The element-wise ops an epilogue (`FusedConv`, `FusedMatMul`, `ElementwiseChain`) can take
//! in, recognized in the graph: activations, and `Mul`/`Add`/`Sub` by a scalar constant.

use super::{f32_constant, scalar_constant};
use crate::ir::ops::elementwise::{Binary, Clip, ElementwiseOp, Unary};
use crate::ir::ops::nn::{EpilogueStep, FusedActivation};
use crate::ir::{Graph, Op, ValueId};

/// Node `index` (reading `x`) as an epilogue step, if it is an activation or a scalar affine
/// map whose constant has rank at most `rank` (the product's output's rank, which it then
/// keeps).
pub(super) fn step_of(
    graph: &Graph,
    index: usize,
    x: ValueId,
    rank: usize,
) -> Option<EpilogueStep> {
    match activation(graph, index) {
        Some(a) => Some(EpilogueStep::Activation(a)),
        None => scalar_affine(graph, index, x, rank),
    }
}

/// Node `index` (reading `x`) as epilogue steps: an `ElementwiseChain` of `x`, or one step
/// (see [`step_of`]).
pub(super) fn steps_of(
    graph: &Graph,
    index: usize,
    x: ValueId,
    rank: usize,
) -> Option<Vec<EpilogueStep>> {
    let node = &graph.nodes[index];
    match &node.op {
        Op::Elementwise(ElementwiseOp::Chain(steps)) => {
            (node.inputs.first().copied().flatten() == Some(x)).then(|| steps.clone())
        }
        _ => step_of(graph, index, x, rank).map(|s| vec![s]),
    }
}

/// Appends `step`, merging `Mul(s)` then `Add(b)` into one `Affine { s, b }`: the lone `Mul`'s
/// `+ (-0.0)` leaves its product unchanged and `· 1` leaves the sum unchanged, so the merged
/// step rounds exactly as the two did.
pub(super) fn push_step(steps: &mut Vec<EpilogueStep>, step: EpilogueStep) {
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

/// Node `index` as an affine step, if it multiplies `x` (of rank `rank`) by a scalar
/// constant, adds one to it, or subtracts one from it (either way round), and that
/// constant's rank does not raise the output's.
pub(super) fn scalar_affine(
    graph: &Graph,
    index: usize,
    x: ValueId,
    rank: usize,
) -> Option<EpilogueStep> {
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
pub(super) fn activation(graph: &Graph, index: usize) -> Option<FusedActivation> {
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
