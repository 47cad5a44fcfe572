//! The graph invariant, checked after import and after every pass.

use super::{Graph, ValueId};
use crate::{Error, Result};

impl Graph {
    /// Checks SSA (one producer per value), that every read value is produced earlier
    /// (topological order), that ids are in range, and that constants agree with declared
    /// types. Recurses into subgraphs.
    pub fn validate(&self) -> Result<()> {
        let n = self.values.len();
        let mut defined = vec![false; n];
        let check = |id: ValueId, what: &str| -> Result<()> {
            if id.0 >= n {
                return Err(Error::internal(format!(
                    "{what}: value id {} out of range",
                    id.0
                )));
            }
            Ok(())
        };
        let define = |id: ValueId, defined: &mut Vec<bool>, what: &str| -> Result<()> {
            check(id, what)?;
            if std::mem::replace(&mut defined[id.0], true) {
                return Err(Error::invalid_model(format!(
                    "value '{}' is produced more than once ({what})",
                    self.values[id.0].name
                )));
            }
            Ok(())
        };
        for &id in self.inputs.iter().chain(self.captures.iter()) {
            define(id, &mut defined, "graph input")?;
        }
        for (&id, t) in &self.constants {
            define(id, &mut defined, "constant")?;
            let info = &self.values[id.0];
            if info.dtype.is_some_and(|d| d != t.dtype()) {
                return Err(Error::internal(format!(
                    "constant '{}' dtype disagrees",
                    info.name
                )));
            }
        }
        for node in &self.nodes {
            for id in node.inputs.iter().flatten() {
                check(*id, &node.name)?;
                if !defined[id.0] {
                    return Err(Error::invalid_model(format!(
                        "node '{}' ({}) reads '{}' before it is produced (graph not topologically sorted, or a dangling name)",
                        node.name,
                        node.op.name(),
                        self.values[id.0].name
                    )));
                }
            }
            for id in node.outputs.iter().flatten() {
                define(*id, &mut defined, &node.name)?;
            }
            for g in node.op.subgraphs() {
                g.validate()
                    .map_err(|e| e.context_with(format!("in a body of node '{}'", node.name)))?;
            }
        }
        for &id in &self.outputs {
            check(id, "graph output")?;
            if !defined[id.0] {
                return Err(Error::invalid_model(format!(
                    "graph output '{}' is never produced",
                    self.values[id.0].name
                )));
            }
        }
        Ok(())
    }
}
