//! Records inferred dtypes (and shapes where the inputs' declared shapes are fully known) on
//! the graph's values, for inspection and for later passes.

use super::Pass;
use crate::ir::{Dim, Fact, Graph};
use crate::Result;

/// Static type inference from declared input types.
pub(super) struct InferTypes;

impl Pass for InferTypes {
    fn name(&self) -> &'static str {
        "infer_types"
    }

    fn run(&self, graph: &mut Graph) -> Result<bool> {
        let mut facts: Vec<Fact> = graph
            .values
            .iter()
            .map(|v| Fact {
                dtype: v.dtype,
                shape: v.concrete_shape(),
                value: None,
            })
            .collect();
        for (id, t) in &graph.constants {
            facts[id.0] = Fact::constant(t.clone());
        }
        let mut changed = false;
        for node in &graph.nodes {
            let ins: Vec<Option<&Fact>> = node
                .inputs
                .iter()
                .map(|i| i.map(|id| &facts[id.0]))
                .collect();
            // Inference errors surface when planning with concrete shapes; here we only record.
            let Ok(outs) = node.op.infer(&ins, node.outputs.len()) else {
                continue;
            };
            for (o, f) in node.outputs.iter().zip(outs) {
                let Some(id) = o else { continue };
                let info = &mut graph.values[id.0];
                if info.dtype.is_none() && f.dtype.is_some() {
                    info.dtype = f.dtype;
                    changed = true;
                }
                if info.shape.is_none() {
                    if let Some(s) = &f.shape {
                        info.shape = Some(s.iter().map(|&d| Dim::Known(d)).collect());
                        changed = true;
                    }
                }
                facts[id.0] = Fact { value: None, ..f };
            }
        }
        Ok(changed)
    }
}
