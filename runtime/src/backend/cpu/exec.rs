//! The node-by-node executor.

use super::prepare::Prepared;
use super::{control, ops};
use crate::ir::{Graph, ValueId};
use crate::plan::Plan;
use crate::profile::{estimate_flops, op_label, OpRecord, Profile};
use crate::tensor::{AlignedBytes, TensorView};
use crate::{Error, Result, Tensor};
use std::sync::Arc;
use std::time::Instant;

/// A graph prepared for the CPU with one plan: the arena slots are allocated here, once.
pub(crate) struct CpuProgram {
    plan: Arc<Plan>,
    slots: Vec<AlignedBytes>,
    threads: usize,
    /// Load-time state per node (packed weights), shared by the session's programs.
    prepared: Arc<Vec<Option<Arc<Prepared>>>>,
}

impl CpuProgram {
    pub(crate) fn new(
        plan: Arc<Plan>,
        threads: usize,
        prepared: Arc<Vec<Option<Arc<Prepared>>>>,
    ) -> Self {
        let slots = plan
            .arena
            .slot_bytes
            .iter()
            .map(|&b| AlignedBytes::zeroed(b))
            .collect();
        CpuProgram {
            plan,
            slots,
            threads,
            prepared,
        }
    }

    /// Runs `graph` (the one the plan was built for) on inputs aligned with `graph.inputs`,
    /// timing every node into `profile` when one is given.
    pub(crate) fn run_profiled(
        &mut self,
        graph: &Graph,
        inputs: &[TensorView<'_>],
        mut profile: Option<&mut Profile>,
    ) -> Result<Vec<Tensor>> {
        // The clock is read only when profiling: an unprofiled run of a small model has nodes
        // of a few hundred nanoseconds, where two clock reads each would show.
        let run_start = profile.is_some().then(Instant::now);
        let mut values: Vec<Option<Tensor>> = vec![None; graph.values.len()];
        let plan = self.plan.clone();
        let env = Env {
            graph,
            inputs,
            captures: &[],
            folded: Some(&plan.folded_values),
        };
        for (index, node) in graph.nodes.iter().enumerate() {
            if plan.folded_nodes[index] {
                continue;
            }
            let recycled = node
                .outputs
                .iter()
                .map(|o| {
                    o.and_then(|id| plan.arena.slot_of[id.0])
                        .map(|s| std::mem::take(&mut self.slots[s]))
                })
                .collect();
            let prepared = self.prepared.get(index).and_then(|p| p.as_deref());
            let node_start = run_start.map(|_| Instant::now());
            let results = run_node(&env, &values, index, recycled, self.threads, prepared)?;
            if let (Some(profile), Some(run_start), Some(node_start)) =
                (profile.as_deref_mut(), run_start, node_start)
            {
                profile.ops.push(record(
                    &env, &values, index, &results, run_start, node_start,
                ));
            }
            for (out, result) in node.outputs.iter().zip(results) {
                let (Some(id), Some(t)) = (out, result) else {
                    continue;
                };
                check_against_plan(&plan, graph, index, *id, &t)?;
                values[id.0] = Some(t);
            }
            for id in &plan.frees_after[index] {
                if let Some(t) = values[id.0].take() {
                    if let Some(slot) = plan.arena.slot_of[id.0] {
                        self.slots[slot] = t.into_storage();
                    }
                }
            }
        }
        let outputs = collect_outputs(&env, &mut values);
        if let (Some(profile), Some(run_start)) = (profile, run_start) {
            profile.total_us = run_start.elapsed().as_secs_f64() * 1e6;
        }
        outputs
    }
}

/// The profile record of node `index`, which started at `start` and just finished.
fn record(
    env: &Env<'_>,
    values: &[Option<Tensor>],
    index: usize,
    results: &[Option<Tensor>],
    run_start: Instant,
    start: Instant,
) -> OpRecord {
    let duration_us = start.elapsed().as_secs_f64() * 1e6;
    let node = &env.graph.nodes[index];
    let input_shapes: Vec<Option<Vec<usize>>> = node
        .inputs
        .iter()
        .map(|id| {
            id.and_then(|id| env.view(values, id))
                .map(|v| v.shape.to_vec())
        })
        .collect();
    let input_refs: Vec<Option<&[usize]>> = input_shapes.iter().map(|s| s.as_deref()).collect();
    let output_shape = results
        .iter()
        .flatten()
        .next()
        .map(|t| t.shape().to_vec())
        .unwrap_or_default();
    OpRecord {
        node: node.name.clone(),
        op: op_label(&node.op),
        flops: estimate_flops(&node.op, &input_refs, &output_shape),
        output_shape,
        start_us: start.duration_since(run_start).as_secs_f64() * 1e6,
        duration_us,
    }
}

/// Where the values a node reads come from.
pub(super) struct Env<'a> {
    pub(super) graph: &'a Graph,
    pub(super) inputs: &'a [TensorView<'a>],
    pub(super) captures: &'a [TensorView<'a>],
    pub(super) folded: Option<&'a std::collections::HashMap<ValueId, Arc<Tensor>>>,
}

impl<'a> Env<'a> {
    pub(super) fn view<'v>(
        &'v self,
        values: &'v [Option<Tensor>],
        id: ValueId,
    ) -> Option<TensorView<'v>> {
        if let Some(t) = &values[id.0] {
            return Some(t.view());
        }
        if let Some(pos) = self.graph.inputs.iter().position(|&i| i == id) {
            return self.inputs.get(pos).copied();
        }
        if let Some(pos) = self.graph.captures.iter().position(|&i| i == id) {
            return self.captures.get(pos).copied();
        }
        if let Some(t) = self.folded.and_then(|f| f.get(&id)) {
            return Some(t.view());
        }
        self.graph.constants.get(&id).map(|t| t.view())
    }
}

/// Runs node `index` of `env.graph`, reading `values`.
pub(super) fn run_node(
    env: &Env<'_>,
    values: &[Option<Tensor>],
    index: usize,
    recycled: Vec<Option<AlignedBytes>>,
    threads: usize,
    prepared: Option<&Prepared>,
) -> Result<Vec<Option<Tensor>>> {
    let node = &env.graph.nodes[index];
    let mut views = Vec::with_capacity(node.inputs.len());
    for input in &node.inputs {
        views.push(match input {
            None => None,
            Some(id) => Some(env.view(values, *id).ok_or_else(|| {
                Error::internal(format!(
                    "value '{}' read before it was computed",
                    env.graph.value(*id).name
                ))
            })?),
        });
    }
    let context = |e: Error| e.context_with(format!("node '{}' ({})", node.name, node.op.name()));
    if let crate::ir::Op::Control(op) = &node.op {
        return control::run(op, &views, node.outputs.len(), threads).map_err(context);
    }
    let ins = ops::Inputs::new(views, threads).with_prepared(prepared);
    let mut out = ops::Outputs::new(node.outputs.iter().map(|o| o.is_some()).collect(), recycled);
    ops::eval(&node.op, &ins, &mut out).map_err(context)?;
    let results = out.into_results();
    for (k, (o, r)) in node.outputs.iter().zip(&results).enumerate() {
        if o.is_some() && r.is_none() {
            return Err(context(Error::internal(format!(
                "output {k} was not produced"
            ))));
        }
    }
    Ok(results)
}

/// A value whose planned type or shape differs from what ran is a shape-inference bug; it
/// must not pass silently (folding downstream relied on the plan).
fn check_against_plan(
    plan: &Plan,
    graph: &Graph,
    index: usize,
    id: ValueId,
    t: &Tensor,
) -> Result<()> {
    let fact = &plan.facts[id.0];
    let dtype_ok = fact.dtype.is_none_or(|d| d == t.dtype());
    let shape_ok = fact.shape.as_deref().is_none_or(|s| s == t.shape());
    if dtype_ok && shape_ok {
        return Ok(());
    }
    let node = &graph.nodes[index];
    Err(Error::internal(format!(
        "node '{}' ({}) produced {} {:?} for '{}' where inference predicted {:?} {:?}",
        node.name,
        node.op.name(),
        t.dtype(),
        t.shape(),
        graph.value(id).name,
        fact.dtype,
        fact.shape
    )))
}

/// The graph's outputs, moved out of `values` when possible.
pub(super) fn collect_outputs(env: &Env<'_>, values: &mut [Option<Tensor>]) -> Result<Vec<Tensor>> {
    let mut outs = Vec::with_capacity(env.graph.outputs.len());
    for (k, &id) in env.graph.outputs.iter().enumerate() {
        let repeated = env.graph.outputs[k + 1..].contains(&id);
        let t = match if repeated { None } else { values[id.0].take() } {
            Some(t) => t,
            None => env.view(values, id).map(|v| v.to_tensor()).ok_or_else(|| {
                Error::internal(format!(
                    "output '{}' was not computed",
                    env.graph.value(id).name
                ))
            })?,
        };
        outs.push(t);
    }
    Ok(outs)
}

/// Runs a body graph without a plan (every value dynamically allocated).
pub(super) fn run_unplanned(
    graph: &Graph,
    inputs: &[TensorView<'_>],
    captures: &[TensorView<'_>],
    threads: usize,
) -> Result<Vec<Tensor>> {
    let env = Env {
        graph,
        inputs,
        captures,
        folded: None,
    };
    let mut values: Vec<Option<Tensor>> = vec![None; graph.values.len()];
    let mut last_use = vec![usize::MAX; graph.values.len()];
    for (index, node) in graph.nodes.iter().enumerate() {
        for id in node.inputs.iter().flatten() {
            last_use[id.0] = index;
        }
    }
    for (index, node) in graph.nodes.iter().enumerate() {
        let recycled = vec![None; node.outputs.len()];
        let results = run_node(&env, &values, index, recycled, threads, None)?;
        for (out, result) in node.outputs.iter().zip(results) {
            if let (Some(id), Some(t)) = (out, result) {
                values[id.0] = Some(t);
            }
        }
        for id in node.inputs.iter().flatten() {
            if last_use[id.0] == index && !graph.outputs.contains(id) {
                values[id.0] = None;
            }
        }
    }
    collect_outputs(&env, &mut values)
}
