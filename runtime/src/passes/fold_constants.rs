//! Evaluates nodes whose inputs are all constants, whatever the input shapes (shape-dependent
//! folding happens when a plan is built).

use super::Pass;
use crate::backend::cpu;
use crate::ir::Graph;
use crate::{Result, Tensor};
use std::sync::Arc;

/// Results larger than this are left to run time (folding would bloat the model).
const MAX_FOLDED_BYTES: usize = 16 << 20;

/// Constant folding.
pub(super) struct FoldConstants;

impl Pass for FoldConstants {
    fn name(&self) -> &'static str {
        "fold_constants"
    }

    fn run(&self, graph: &mut Graph) -> Result<bool> {
        let mut changed = false;
        let mut index = 0;
        while index < graph.nodes.len() {
            let node = &graph.nodes[index];
            let foldable = !node.op.is_nondeterministic()
                && node.op.subgraphs().is_empty()
                && node
                    .inputs
                    .iter()
                    .flatten()
                    .all(|id| graph.constants.contains_key(id));
            if !foldable {
                index += 1;
                continue;
            }
            let inputs: Vec<Option<&Tensor>> = node
                .inputs
                .iter()
                .map(|i| i.map(|id| graph.constants[&id].as_ref()))
                .collect();
            // A node that fails to evaluate here will fail at run time with the same error;
            // keep it so the error surfaces there with full context.
            let Ok(results) = cpu::eval_node(&node.op, &inputs, node.outputs.len(), 1) else {
                index += 1;
                continue;
            };
            if results
                .iter()
                .flatten()
                .any(|t| t.bytes().len() > MAX_FOLDED_BYTES)
            {
                index += 1;
                continue;
            }
            let node = graph.nodes.remove(index);
            for (out, t) in node.outputs.iter().zip(results) {
                if let (Some(id), Some(t)) = (out, t) {
                    let info = &mut graph.values[id.0];
                    info.dtype = Some(t.dtype());
                    info.shape = Some(
                        t.shape()
                            .iter()
                            .map(|&d| crate::ir::Dim::Known(d))
                            .collect(),
                    );
                    graph.constants.insert(*id, Arc::new(t));
                }
            }
            changed = true;
        }
        Ok(changed)
    }
}
