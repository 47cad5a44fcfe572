//! Static memory planning: value lifetimes -> reusable arena slots.
//!
//! Each planned value gets a slot; a slot is reused by a later value once every reader of the
//! previous one has run. Slots are sized by the largest value they hold; their sum is the
//! arena's size, known before anything runs.

use crate::ir::{Fact, Graph, ValueId};
use crate::tensor::numel;

/// Slot of every planned value, and slot sizes.
#[derive(Debug, Clone, Default)]
pub struct ArenaLayout {
    /// Slot index per value (`None`: not planned: input, constant, output or dynamic shape).
    pub slot_of: Vec<Option<usize>>,
    /// Bytes per slot (64-byte multiples).
    pub slot_bytes: Vec<usize>,
}

impl ArenaLayout {
    /// Total arena bytes.
    pub fn total_bytes(&self) -> usize {
        self.slot_bytes.iter().sum()
    }

    /// Best-fit assignment in execution order.
    pub(super) fn assign(
        graph: &Graph,
        facts: &[Fact],
        folded: &[bool],
        frees_after: &[Vec<ValueId>],
    ) -> ArenaLayout {
        let mut layout = ArenaLayout {
            slot_of: vec![None; graph.values.len()],
            slot_bytes: Vec::new(),
        };
        let mut free: Vec<usize> = Vec::new();
        for (index, node) in graph.nodes.iter().enumerate() {
            if folded[index] {
                continue;
            }
            for id in node.outputs.iter().flatten() {
                if graph.outputs.contains(id) {
                    continue;
                }
                let fact = &facts[id.0];
                let (Some(dtype), Some(shape)) = (fact.dtype, fact.shape.as_ref()) else {
                    continue;
                };
                let bytes = (numel(shape) * dtype.size()).div_ceil(64) * 64;
                // Best fit: the smallest free slot that holds it, else the largest (grown).
                let fit = free
                    .iter()
                    .enumerate()
                    .filter(|(_, &s)| layout.slot_bytes[s] >= bytes)
                    .min_by_key(|(_, &s)| layout.slot_bytes[s])
                    .or_else(|| {
                        free.iter()
                            .enumerate()
                            .max_by_key(|(_, &s)| layout.slot_bytes[s])
                    })
                    .map(|(pos, _)| pos);
                let slot = match fit {
                    Some(pos) => free.swap_remove(pos),
                    None => {
                        layout.slot_bytes.push(0);
                        layout.slot_bytes.len() - 1
                    }
                };
                layout.slot_bytes[slot] = layout.slot_bytes[slot].max(bytes);
                layout.slot_of[id.0] = Some(slot);
            }
            for id in &frees_after[index] {
                if let Some(slot) = layout.slot_of[id.0] {
                    free.push(slot);
                }
            }
        }
        layout
    }
}

/// For each node, the values it is the last reader of (or that it produces and nobody reads).
pub(super) fn last_uses(graph: &Graph, folded: &[bool]) -> Vec<Vec<ValueId>> {
    let mut last: Vec<Option<usize>> = vec![None; graph.values.len()];
    for (index, node) in graph.nodes.iter().enumerate() {
        if folded[index] {
            continue;
        }
        for id in node
            .inputs
            .iter()
            .flatten()
            .chain(node.outputs.iter().flatten())
        {
            last[id.0] = Some(index);
        }
    }
    let mut frees = vec![Vec::new(); graph.nodes.len()];
    for (v, l) in last.iter().enumerate() {
        let id = ValueId(v);
        if let Some(index) = l {
            if !graph.outputs.contains(&id) {
                frees[*index].push(id);
            }
        }
    }
    frees
}
