//! `x · clip(x + 3, 0, 6) / 6` → `HardSwish(x)`: how exporters (Paddle, older PyTorch) spell
//! the activation of MobileNetV3 and PP-LCNet; four memory passes become one.

use super::{remove_nodes, scalar_constant, Readers};
use crate::ir::ops::elementwise::{Binary, Clip, ElementwiseOp, Unary};
use crate::ir::{Graph, Op, ValueId};
use crate::passes::Pass;
use crate::Result;

/// See the module docs.
pub(in crate::passes) struct RecognizeHardSwish;

impl Pass for RecognizeHardSwish {
    fn name(&self) -> &'static str {
        "recognize_hardswish"
    }

    fn run(&self, graph: &mut Graph) -> Result<bool> {
        let mut changed = false;
        while let Some(found) = find(graph) {
            let (last, x, dead) = found;
            let node = &mut graph.nodes[last];
            node.op = Op::Elementwise(ElementwiseOp::Unary(Unary::HardSwish));
            node.inputs = vec![Some(x)];
            remove_nodes(graph, &dead);
            changed = true;
        }
        Ok(changed)
    }
}

/// `(index of the final Div/Mul node, x, the other three nodes)`.
fn find(graph: &Graph) -> Option<(usize, ValueId, Vec<usize>)> {
    let readers = Readers::of(graph);
    graph.nodes.iter().enumerate().find_map(|(add, node)| {
        // x + 3
        let x = binary_with_scalar(graph, add, Binary::Add, 3.0)?;
        let sum = node.outputs.first().copied().flatten()?;
        // clip(·, 0, 6)
        let clip = readers.sole_reader(sum)?;
        if clip_bounds(graph, clip)? != (0.0, 6.0) {
            return None;
        }
        let clipped = graph.nodes[clip].outputs.first().copied().flatten()?;
        // x · clip
        let mul = readers.sole_reader(clipped)?;
        let m = &graph.nodes[mul];
        let is_mul = matches!(m.op, Op::Elementwise(ElementwiseOp::Binary(Binary::Mul)));
        let operands = [
            m.inputs.first().copied().flatten(),
            m.inputs.get(1).copied().flatten(),
        ];
        if !is_mul
            || m.inputs.len() != 2
            || !(operands == [Some(x), Some(clipped)] || operands == [Some(clipped), Some(x)])
        {
            return None;
        }
        let product = m.outputs.first().copied().flatten()?;
        // · / 6 (or · 1/6)
        let last = readers.sole_reader(product)?;
        let divided = binary_with_scalar(graph, last, Binary::Div, 6.0) == Some(product);
        let scaled = binary_with_scalar(graph, last, Binary::Mul, 1.0 / 6.0) == Some(product);
        (divided || scaled).then(|| (last, x, vec![add, clip, mul]))
    })
}

/// The other operand of node `index` if it is `op(other, c)` (or `c op other` for the
/// commutative `Add`/`Mul`) with the scalar constant `c` (to within an ulp for 1/6).
fn binary_with_scalar(graph: &Graph, index: usize, op: Binary, c: f32) -> Option<ValueId> {
    let node = &graph.nodes[index];
    let Op::Elementwise(ElementwiseOp::Binary(found)) = &node.op else {
        return None;
    };
    if *found != op || node.inputs.len() != 2 || node.outputs.len() != 1 {
        return None;
    }
    let (a, b) = (node.inputs[0]?, node.inputs[1]?);
    let is_c =
        |id| scalar_constant(graph, id).is_some_and(|v| (v - c).abs() <= f32::EPSILON * c.abs());
    if is_c(b) && !is_c(a) {
        return Some(a);
    }
    let commutative = matches!(op, Binary::Add | Binary::Mul);
    (commutative && is_c(a) && !is_c(b)).then_some(b)
}

/// The constant bounds of a `Clip` node.
fn clip_bounds(graph: &Graph, index: usize) -> Option<(f32, f32)> {
    let node = &graph.nodes[index];
    match &node.op {
        Op::Elementwise(ElementwiseOp::Clip(Clip::Attributes { min, max })) => Some((*min, *max)),
        Op::Elementwise(ElementwiseOp::Clip(Clip::FromInputs)) => {
            let bound = |i: usize| scalar_constant(graph, node.inputs.get(i).copied().flatten()?);
            Some((bound(1)?, bound(2)?))
        }
        _ => None,
    }
}
