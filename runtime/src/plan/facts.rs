//! Shape inference with constant folding, for concrete input shapes.

use crate::backend::cpu;
use crate::ir::{Fact, Graph, ValueId};
use crate::{DType, Error, Result, Tensor};
use std::collections::HashMap;
use std::sync::Arc;

/// Folded values larger than this stay computed at run time (keeps plans small).
const MAX_FOLDED_BYTES: usize = 16 << 20;

type Propagated = (Vec<Fact>, Vec<bool>, HashMap<ValueId, Arc<Tensor>>);

/// Infers facts node by node; a node whose inputs are all known values is evaluated (folded).
pub(super) fn propagate(graph: &Graph, inputs: &[(DType, Vec<usize>)]) -> Result<Propagated> {
    if inputs.len() != graph.inputs.len() {
        return Err(Error::argument(format!(
            "{} input shapes given for {} model inputs",
            inputs.len(),
            graph.inputs.len()
        )));
    }
    let mut facts = vec![Fact::unknown(); graph.values.len()];
    for (&id, (dtype, shape)) in graph.inputs.iter().zip(inputs) {
        facts[id.0] = Fact::typed(*dtype, shape.clone());
    }
    for (&id, t) in &graph.constants {
        facts[id.0] = Fact::constant(t.clone());
    }
    let mut folded_nodes = vec![false; graph.nodes.len()];
    let mut folded_values = HashMap::new();
    for (index, node) in graph.nodes.iter().enumerate() {
        let in_facts: Vec<Option<&Fact>> = node
            .inputs
            .iter()
            .map(|i| i.map(|id| &facts[id.0]))
            .collect();
        let foldable = !node.op.is_nondeterministic()
            && node.op.subgraphs().is_empty()
            && in_facts.iter().flatten().all(|f| f.value.is_some());
        let out_facts = if foldable {
            let values: Vec<Option<&Tensor>> = in_facts
                .iter()
                .map(|f| f.and_then(|f| f.value.as_deref()))
                .collect();
            let results =
                cpu::eval_node(&node.op, &values, node.outputs.len(), 1).map_err(|e| {
                    e.context_with(format!("folding node '{}' ({})", node.name, node.op.name()))
                })?;
            let small = results
                .iter()
                .flatten()
                .all(|t| t.bytes().len() <= MAX_FOLDED_BYTES);
            if small {
                folded_nodes[index] = true;
                results
                    .into_iter()
                    .map(|t| t.map(|t| Fact::constant(Arc::new(t))).unwrap_or_default())
                    .collect()
            } else {
                results
                    .iter()
                    .map(|t| {
                        t.as_ref()
                            .map(|t| Fact::typed(t.dtype(), t.shape().to_vec()))
                            .unwrap_or_default()
                    })
                    .collect()
            }
        } else {
            node.op
                .infer(&in_facts, node.outputs.len())
                .map_err(|e| e.context_with(format!("node '{}' ({})", node.name, node.op.name())))?
        };
        for (out, fact) in node.outputs.iter().zip(out_facts) {
            if let Some(id) = out {
                if folded_nodes[index] {
                    if let Some(v) = &fact.value {
                        folded_values.insert(*id, v.clone());
                    }
                }
                facts[id.0] = fact;
            }
        }
    }
    Ok((facts, folded_nodes, folded_values))
}
