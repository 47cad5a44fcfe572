//! Moves the element-wise ops after a convolution into its epilogue (`FusedConv`): an
//! activation, an `Add` of a value that is already computed when the conv runs (a residual
//! branch), or a `Mul`/`Add`/`Sub` by a scalar constant after an activation (the
//! "learnable affine blocks" of PP-LCNetV3 put one after nearly every conv; before any
//! activation, [`super::FoldIntoConv`] folds them into the weights instead).
//!
//! The chain is fused one op at a time; a `Mul` by `s` then an `Add` of `b` become one
//! `Affine { s, b }` step, which rounds exactly as the two ops did.

use super::steps::{push_step, steps_of};
use super::{remove_nodes, Readers};
use crate::ir::ops::elementwise::{Binary, ElementwiseOp};
use crate::ir::ops::nn::{EpilogueStep, FusedConv};
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
        while let Some((conv, next, steps)) = find(graph) {
            let out = graph.nodes[next].outputs[0];
            let residual = match steps[..] {
                [EpilogueStep::AddResidual] => {
                    let n = &graph.nodes[next];
                    let conv_out = graph.nodes[conv].outputs[0];
                    n.inputs
                        .iter()
                        .copied()
                        .flatten()
                        .find(|&id| Some(id) != conv_out)
                }
                _ => None,
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
            steps
                .into_iter()
                .for_each(|step| push_step(&mut fused.steps, step));
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

/// `(conv node, the node after it, the steps it becomes)`.
fn find(graph: &Graph) -> Option<(usize, usize, Vec<EpilogueStep>)> {
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
        if let Some(steps) = steps_of(graph, next, out, conv_rank(graph, node)?) {
            return Some((index, next, steps));
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
        ready.then_some((index, next, vec![EpilogueStep::AddResidual]))
    })
}

/// The rank of the conv's output: its weights' rank.
fn conv_rank(graph: &Graph, conv: &crate::ir::Node) -> Option<usize> {
    let w = conv.inputs.get(1).copied().flatten()?;
    graph.values[w.0].shape.as_ref().map(|s| s.len())
}
