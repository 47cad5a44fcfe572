//! Removes nodes whose outputs nobody reads, and constants nobody reads.

use super::Pass;
use crate::ir::Graph;
use crate::Result;

/// Dead node and constant elimination.
pub(super) struct DeadCode;

impl Pass for DeadCode {
    fn name(&self) -> &'static str {
        "dead_code"
    }

    fn run(&self, graph: &mut Graph) -> Result<bool> {
        let mut live = vec![false; graph.values.len()];
        for id in &graph.outputs {
            live[id.0] = true;
        }
        let mut keep = vec![false; graph.nodes.len()];
        for (index, node) in graph.nodes.iter().enumerate().rev() {
            if node.outputs.iter().flatten().any(|id| live[id.0]) {
                keep[index] = true;
                for id in node.inputs.iter().flatten() {
                    live[id.0] = true;
                }
            }
        }
        let before = (graph.nodes.len(), graph.constants.len());
        let mut index = 0;
        graph.nodes.retain(|_| {
            index += 1;
            keep[index - 1]
        });
        graph.constants.retain(|id, _| live[id.0]);
        Ok(before != (graph.nodes.len(), graph.constants.len()))
    }
}
