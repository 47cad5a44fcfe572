//! Fuses runs of f32 element-wise ops that no product took into its epilogue (activations,
//! and `Mul`/`Add`/`Sub` by a scalar constant) into one `ElementwiseChain` node, which reads
//! and writes the tensor once. A single op stays as it is: fusing it would save nothing.
//!
//! Runs after the conv and product epilogue passes, which take such ops first (their store
//! is cheaper still); they also absorb a whole chain that ends up after a product.

use super::steps::{push_step, step_of};
use super::{remove_nodes, Readers};
use crate::ir::ops::elementwise::ElementwiseOp;
use crate::ir::ops::nn::EpilogueStep;
use crate::ir::{Graph, Op, ValueId};
use crate::passes::Pass;
use crate::{DType, Result};

/// See the module docs.
pub(in crate::passes) struct FuseElementwiseChain;

impl Pass for FuseElementwiseChain {
    fn name(&self) -> &'static str {
        "fuse_elementwise_chain"
    }

    fn run(&self, graph: &mut Graph) -> Result<bool> {
        let mut changed = false;
        while let Some(fusion) = find(graph) {
            let out = graph.nodes[fusion.next].outputs[0];
            let node = &mut graph.nodes[fusion.first];
            node.op = Op::Elementwise(ElementwiseOp::Chain(fusion.steps));
            node.inputs = vec![Some(fusion.x)];
            node.outputs = vec![out];
            remove_nodes(graph, &[fusion.next]);
            changed = true;
        }
        Ok(changed)
    }
}

/// Node `first` (reading `x`) and node `next` (reading only its output) become one chain of
/// `steps`.
struct Fusion {
    first: usize,
    next: usize,
    x: ValueId,
    steps: Vec<EpilogueStep>,
}

fn find(graph: &Graph) -> Option<Fusion> {
    let readers = Readers::of(graph);
    graph.nodes.iter().enumerate().find_map(|(index, node)| {
        let [Some(out)] = node.outputs[..] else {
            return None;
        };
        let (x, mut steps) = chain_of(graph, index)?;
        let next = readers.sole_reader(out)?;
        if graph.nodes[next].outputs.len() != 1 {
            return None;
        }
        push_step(&mut steps, step_of(graph, next, out, known_rank(graph, x))?);
        Some(Fusion {
            first: index,
            next,
            x,
            steps,
        })
    })
}

/// Node `index` as a chain over its one f32 tensor input: a chain already, or a single step.
fn chain_of(graph: &Graph, index: usize) -> Option<(ValueId, Vec<EpilogueStep>)> {
    let node = &graph.nodes[index];
    if let Op::Elementwise(ElementwiseOp::Chain(steps)) = &node.op {
        return Some((node.inputs.first().copied().flatten()?, steps.clone()));
    }
    // The tensor input: the one that is not a constant (unary ops have one input; `Clip`'s
    // bounds and the affine maps' scalars are constants).
    let x = node
        .inputs
        .iter()
        .copied()
        .flatten()
        .find(|&id| graph.constant(id).is_none())?;
    if graph.values[x.0].dtype != Some(DType::F32) {
        return None;
    }
    let step = step_of(graph, index, x, known_rank(graph, x))?;
    Some((x, vec![step]))
}

/// `id`'s rank, or 1 when it is not known (a lower bound: the steps' constants must not
/// raise the rank).
fn known_rank(graph: &Graph, id: ValueId) -> usize {
    graph.values[id.0]
        .shape
        .as_ref()
        .map_or(1, |s| s.len().max(1))
}
