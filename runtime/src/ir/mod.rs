//! Mote's intermediate representation: a graph of nodes over a closed [`Op`] enum.
//!
//! Values are SSA: each [`ValueId`] is produced once (a graph input, an initializer, or one node
//! output) and read any number of times. Node order in [`Graph::nodes`] is a topological order
//! (checked by [`Graph::validate`]). Shapes in the IR may be symbolic; concrete shapes appear
//! when a session plans for concrete input shapes (see `plan`).

mod fact;
pub mod ops;
mod validate;
mod value;

pub use fact::Fact;
pub use ops::Op;
pub use value::{Dim, QuantParams, ValueInfo};

use crate::Tensor;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Index of a value in [`Graph::values`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct ValueId(pub usize);

/// One operation.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Node {
    /// The node's name in the source model (may be empty there; import fills one in).
    pub name: String,
    /// What it computes.
    pub op: Op,
    /// Inputs in op order; `None` for an omitted optional input.
    pub inputs: Vec<Option<ValueId>>,
    /// Outputs in op order; `None` for an output the model does not use.
    pub outputs: Vec<Option<ValueId>>,
}

/// A computation graph (a model's main graph, or a control-flow body).
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// Every value, indexed by [`ValueId`].
    pub values: Vec<ValueInfo>,
    /// Nodes in a topological order.
    pub nodes: Vec<Node>,
    /// Values fed by the caller, in order.
    pub inputs: Vec<ValueId>,
    /// Values returned to the caller, in order.
    pub outputs: Vec<ValueId>,
    /// Constant values (initializers and folded constants).
    pub constants: BTreeMap<ValueId, Arc<Tensor>>,
    /// For a subgraph: its values that stand for values of the enclosing graph, aligned with
    /// the owning node's trailing inputs (see [`ops::ControlOp`]).
    pub captures: Vec<ValueId>,
}

impl Graph {
    /// Adds a value and returns its id.
    pub fn add_value(&mut self, info: ValueInfo) -> ValueId {
        self.values.push(info);
        ValueId(self.values.len() - 1)
    }

    /// The value's metadata.
    pub fn value(&self, id: ValueId) -> &ValueInfo {
        &self.values[id.0]
    }

    /// Finds a value by name.
    pub fn find_value(&self, name: &str) -> Option<ValueId> {
        self.values.iter().position(|v| v.name == name).map(ValueId)
    }

    /// The constant value of `id`, if it is one.
    pub fn constant(&self, id: ValueId) -> Option<&Arc<Tensor>> {
        self.constants.get(&id)
    }

    /// Number of nodes, including those inside control-flow bodies.
    pub fn node_count_deep(&self) -> usize {
        self.nodes
            .iter()
            .map(|n| {
                1 + n
                    .op
                    .subgraphs()
                    .iter()
                    .map(|g| g.node_count_deep())
                    .sum::<usize>()
            })
            .sum()
    }
}
