//! Execution plans: for one set of concrete input shapes, what every value's type and shape
//! is, what folds to a constant, and where each intermediate lives in the memory arena.
//!
//! Shapes that depend on input *values* (a Reshape target computed at run time, NonZero...)
//! stay unknown here; those values get dynamically sized buffers when the plan runs, while
//! everything with a static shape lives in the planned arena.

mod arena;
mod facts;

pub use arena::ArenaLayout;

use crate::ir::{Fact, Graph, ValueId};
use crate::{DType, Result, Tensor};
use std::collections::HashMap;
use std::sync::Arc;

/// A plan for one graph and one set of input types and shapes.
#[derive(Debug)]
pub struct Plan {
    /// What is known about each value (indexed by [`ValueId`]).
    pub facts: Vec<Fact>,
    /// Nodes whose outputs were all folded to constants: not run.
    pub folded_nodes: Vec<bool>,
    /// Constants discovered for these input shapes (values of folded nodes).
    pub folded_values: HashMap<ValueId, Arc<Tensor>>,
    /// For each node, the values whose last reader it is (freed after it runs).
    pub frees_after: Vec<Vec<ValueId>>,
    /// Arena slots of planned values.
    pub arena: ArenaLayout,
}

impl Plan {
    /// Plans `graph` for inputs of these types and shapes (aligned with `graph.inputs`).
    pub fn build(graph: &Graph, inputs: &[(DType, Vec<usize>)]) -> Result<Plan> {
        let (facts, folded_nodes, folded_values) = facts::propagate(graph, inputs)?;
        let frees_after = arena::last_uses(graph, &folded_nodes);
        let arena = ArenaLayout::assign(graph, &facts, &folded_nodes, &frees_after);
        Ok(Plan {
            facts,
            folded_nodes,
            folded_values,
            frees_after,
            arena,
        })
    }

    /// Bytes the arena needs (the planned peak of intermediate tensors).
    pub fn arena_bytes(&self) -> usize {
        self.arena.total_bytes()
    }

    /// Bytes of the constants folded for these input shapes (held by the plan as long as it
    /// is cached). A folded value that shares a model constant's storage is counted too:
    /// this errs on the side of more.
    pub fn folded_bytes(&self) -> usize {
        self.folded_values.values().map(|t| t.bytes().len()).sum()
    }

    /// What a session holds for this plan while it is cached: the arena plus the folded
    /// constants. What a session's memory limit is checked against.
    pub fn memory_bytes(&self) -> usize {
        self.arena_bytes().saturating_add(self.folded_bytes())
    }
}
