//! Half-precision graphs computed in f32.
//!
//! Converters (`onnxconverter_common.float16`) turn every float tensor of a model into f16 and
//! put `Cast`s at the boundaries (or leave f16 inputs and outputs). The CPU backend has no f16
//! arithmetic: f16 ops widen to f32, compute and narrow again, element by element, on generic
//! paths (PP-OCRv4 rec: 152 ms instead of 9 ms). This pass makes every f16/bf16 value computed
//! *inside* the graph an f32 value instead, so the model runs on the f32 kernels: narrow
//! constants become f32 constants (the weights are then packed by the f32 paths at prepare:
//! the conversion happens once, at load, fused into packing), a `Cast` to a narrow type feeding
//! computation becomes a `Cast` to f32 (and disappears when its input is already f32), and ops
//! that choose their output type by attribute (`EyeLike`, `ConstantOfShape`,
//! `DequantizeLinear`, windows...) produce f32.
//!
//! Why this is faithful: every f16 and bf16 number is exactly an f32 number, so the f32 graph
//! starts from the same values; each op then rounds its result once, to f32 (24-bit
//! significand) instead of f16 (11 bits) or bf16 (8 bits). Results differ from a true f16
//! evaluation only by being closer to the exact result: per op by at most f16's half-ulp
//! (2^-11 relative), accumulated over the graph as in any reordering of float arithmetic, so
//! comparisons against an f16 reference need f16 tolerances (not bit equality). One
//! behavioural difference: a value beyond f16's range (|x| > 65504) stays finite instead of
//! overflowing to ±inf. Memory: narrow weights are held as f32, as the f32 original would be.
//!
//! What keeps its narrow type: the graph's inputs and outputs (exactly as declared: an f16
//! output is produced by a final `Cast` from the f32 computation, so it carries exactly one
//! f16 rounding, as the model's own output `Cast` would), and the inputs and outputs of ops
//! that see the representation rather than the number: `BitCast`, and control-flow nodes
//! (their bodies are separate graphs with declared types). Boundary `Cast`s join the two
//! worlds.

use super::Pass;
use crate::ir::ops::quant::{CastAttrs, QuantOp};
use crate::ir::ops::shape::ShapeOp;
use crate::ir::ops::signal::SignalOp;
use crate::ir::{Graph, Node, Op, ValueId, ValueInfo};
use crate::tensor::minifloat::E8M0Rounding;
use crate::{DType, Result, Tensor};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Computes f16/bf16 values inside the graph in f32.
pub(super) struct ComputeHalfInF32;

impl Pass for ComputeHalfInF32 {
    fn name(&self) -> &'static str {
        "compute_half_in_f32"
    }

    fn run(&self, graph: &mut Graph) -> Result<bool> {
        let widened = Rewrite::new(graph).map(|r| r.apply(graph)).transpose()?;
        let Some(changed) = widened else {
            return Ok(false);
        };
        Ok(remove_identity_casts(graph) || changed)
    }
}

/// The types this pass computes in f32 instead.
fn is_narrow(dtype: Option<DType>) -> bool {
    matches!(dtype, Some(DType::F16 | DType::BF16))
}

/// Ops whose inputs and outputs keep their declared type: they see the bits (`BitCast`) or
/// hand values to bodies with declared types (control flow).
fn keeps_types(op: &Op) -> bool {
    matches!(op, Op::Quant(QuantOp::BitCast { .. }) | Op::Control(_))
}

fn cast_to(to: DType) -> Op {
    Op::Quant(QuantOp::Cast(CastAttrs {
        to,
        saturate: true,
        round_mode: E8M0Rounding::default(),
    }))
}

/// What one run of the pass will do to a graph, decided before anything changes.
struct Rewrite {
    /// Values whose narrow type is observable (graph inputs/outputs, captures, inputs and
    /// outputs of [`keeps_types`] ops).
    pinned: Vec<bool>,
    /// Each value's type before the rewrite (constants: their tensor's).
    dtype: Vec<Option<DType>>,
}

impl Rewrite {
    /// `None` when the graph has nothing to widen, or when it cannot be done safely: a
    /// type-keeping op reads a value of unknown type (it might be a narrow value we would
    /// widen behind its back).
    fn new(graph: &Graph) -> Option<Rewrite> {
        let mut dtype: Vec<Option<DType>> = graph.values.iter().map(|v| v.dtype).collect();
        for (id, t) in &graph.constants {
            dtype[id.0] = Some(t.dtype());
        }
        let mut pinned = vec![false; graph.values.len()];
        for id in graph
            .inputs
            .iter()
            .chain(&graph.outputs)
            .chain(&graph.captures)
        {
            pinned[id.0] = true;
        }
        for node in graph.nodes.iter().filter(|n| keeps_types(&n.op)) {
            for id in node.inputs.iter().chain(&node.outputs).flatten() {
                if dtype[id.0].is_none() {
                    return None;
                }
                pinned[id.0] = true;
            }
        }
        let rewrite = Rewrite { pinned, dtype };
        let widens = (0..graph.values.len()).any(|v| rewrite.promoted(ValueId(v)));
        let reads_pinned = graph.nodes.iter().any(|n| {
            computes(&n.op) && n.inputs.iter().flatten().any(|&v| rewrite.pinned_narrow(v))
        });
        (widens || reads_pinned).then_some(rewrite)
    }

    /// A narrow value that becomes f32.
    fn promoted(&self, v: ValueId) -> bool {
        is_narrow(self.dtype[v.0]) && !self.pinned[v.0]
    }

    /// A narrow value that keeps its type.
    fn pinned_narrow(&self, v: ValueId) -> bool {
        is_narrow(self.dtype[v.0]) && self.pinned[v.0]
    }

    fn apply(self, graph: &mut Graph) -> Result<bool> {
        let mut names: HashSet<String> = graph.values.iter().map(|v| v.name.clone()).collect();
        for v in 0..graph.values.len() {
            if self.promoted(ValueId(v)) {
                graph.values[v].dtype = Some(DType::F32);
            }
        }
        let narrow_constants: Vec<ValueId> = graph
            .constants
            .keys()
            .copied()
            .filter(|&v| self.promoted(v))
            .collect();
        for v in narrow_constants {
            let wide = widen_tensor(&graph.constants[&v])?;
            graph.constants.insert(v, Arc::new(wide));
        }
        // f32 stand-ins for pinned narrow values, for the computing nodes that read them.
        let mut wide: HashMap<ValueId, ValueId> = HashMap::new();
        let old_nodes = std::mem::take(&mut graph.nodes);
        let mut nodes: Vec<Node> = Vec::with_capacity(old_nodes.len());
        for mut node in old_nodes {
            if computes(&node.op) {
                for input in node.inputs.iter_mut().flatten() {
                    if !self.pinned_narrow(*input) {
                        continue;
                    }
                    let v = *input;
                    *input = match wide.get(&v) {
                        Some(&w) => w,
                        None => {
                            let w = add_like(graph, &mut names, v, DType::F32);
                            match graph.constants.get(&v) {
                                // A pinned constant (a folded output) read by computation.
                                Some(t) => {
                                    let t = Arc::new(widen_tensor(t)?);
                                    graph.constants.insert(w, t);
                                }
                                None => nodes.push(cast_node(&node.name, v, w, DType::F32)),
                            }
                            wide.insert(v, w);
                            w
                        }
                    };
                }
            }
            let keeps_narrow_cast = matches!(&node.op, Op::Quant(QuantOp::Cast(c))
                if is_narrow(Some(c.to)) && node.outputs.iter().flatten().all(|&o| self.pinned[o.0]));
            if keeps_types(&node.op) || keeps_narrow_cast {
                nodes.push(node);
                continue;
            }
            widen_attributes(&mut node.op)?;
            // Pinned narrow outputs of a computing node: compute in f32, then one Cast.
            let mut after = Vec::new();
            for out in node.outputs.iter_mut().flatten() {
                if self.pinned_narrow(*out) {
                    let declared = self.dtype[out.0].unwrap_or(DType::F16);
                    let w = add_like(graph, &mut names, *out, DType::F32);
                    after.push(cast_node(&node.name, w, *out, declared));
                    wide.insert(*out, w);
                    *out = w;
                }
            }
            nodes.push(node);
            nodes.extend(after);
        }
        graph.nodes = nodes;
        Ok(true)
    }
}

/// Whether a node computes with its inputs' values (so reads the f32 stand-in of a pinned
/// narrow input). A `Cast` reads any type as it is; type-keeping ops want the declared type.
fn computes(op: &Op) -> bool {
    !keeps_types(op) && !matches!(op, Op::Quant(QuantOp::Cast(_)))
}

/// Makes an op that would produce a narrow type by attribute produce f32.
fn widen_attributes(op: &mut Op) -> Result<()> {
    let widen = |d: &mut DType| {
        if is_narrow(Some(*d)) {
            *d = DType::F32;
        }
    };
    match op {
        Op::Quant(QuantOp::Cast(c)) => widen(&mut c.to),
        Op::Quant(QuantOp::DequantizeLinear(a)) => a.output_dtype.iter_mut().for_each(widen),
        // x / scale in f32 rather than f16: x and scale are f32 now, and f32 is closer.
        Op::Quant(QuantOp::QuantizeLinear(a)) => a.precision.iter_mut().for_each(widen),
        Op::Shape(ShapeOp::EyeLike { dtype, .. }) => dtype.iter_mut().for_each(widen),
        Op::Shape(ShapeOp::ConstantOfShape { value }) if is_narrow(Some(value.dtype())) => {
            *value = widen_tensor(value)?;
        }
        Op::Signal(SignalOp::Window(w)) => widen(&mut w.dtype),
        Op::Signal(SignalOp::MelWeightMatrix(m)) => widen(&mut m.dtype),
        _ => {}
    }
    Ok(())
}

/// The f32 tensor holding exactly the values of a narrow one.
fn widen_tensor(t: &Tensor) -> Result<Tensor> {
    Tensor::from_vec(t.shape(), t.view().to_f32_vec()?)
}

/// A new value shaped like `like`, of type `dtype`, with a fresh name.
fn add_like(
    graph: &mut Graph,
    names: &mut HashSet<String>,
    like: ValueId,
    dtype: DType,
) -> ValueId {
    let base = format!("{}_{}", graph.values[like.0].name, dtype.name());
    let mut name = base.clone();
    let mut k = 1;
    while !names.insert(name.clone()) {
        name = format!("{base}_{k}");
        k += 1;
    }
    graph.add_value(ValueInfo {
        name,
        dtype: Some(dtype),
        shape: graph.values[like.0].shape.clone(),
        quant: None,
    })
}

fn cast_node(near: &str, from: ValueId, to: ValueId, dtype: DType) -> Node {
    Node {
        name: format!("{near}_cast_{}_{}", dtype.name(), to.0),
        op: cast_to(dtype),
        inputs: vec![Some(from)],
        outputs: vec![Some(to)],
    }
}

/// Removes `Cast`s from f32 to f32 (what a `Cast` between f16 and f32 becomes): readers take
/// the input instead; a cast that writes a graph output is removed by having its input's
/// producer write the output directly when nothing else reads the input.
fn remove_identity_casts(graph: &mut Graph) -> bool {
    let is_identity = |node: &Node| {
        matches!(&node.op, Op::Quant(QuantOp::Cast(c)) if c.to == DType::F32)
            && node.inputs.len() == 1
            && node.inputs[0].is_some_and(|v| {
                graph.values[v.0].dtype == Some(DType::F32)
                    || graph
                        .constants
                        .get(&v)
                        .is_some_and(|t| t.dtype() == DType::F32)
            })
    };
    let outputs: HashSet<ValueId> = graph.outputs.iter().copied().collect();
    let mut readers = vec![0usize; graph.values.len()];
    for id in graph.nodes.iter().flat_map(|n| n.inputs.iter().flatten()) {
        readers[id.0] += 1;
    }
    let mut producer: HashMap<ValueId, usize> = HashMap::new();
    for (i, node) in graph.nodes.iter().enumerate() {
        for o in node.outputs.iter().flatten() {
            producer.insert(*o, i);
        }
    }
    // out -> in for removed casts whose readers are redirected.
    let mut alias: HashMap<ValueId, ValueId> = HashMap::new();
    let mut remove = vec![false; graph.nodes.len()];
    for i in 0..graph.nodes.len() {
        if !is_identity(&graph.nodes[i]) {
            continue;
        }
        let (Some(input), Some(output)) = (graph.nodes[i].inputs[0], graph.nodes[i].outputs[0])
        else {
            continue;
        };
        if !outputs.contains(&output) {
            alias.insert(output, input);
            remove[i] = true;
        } else if let (false, 1, Some(&p)) = (
            outputs.contains(&input),
            readers[input.0],
            producer.get(&input),
        ) {
            if remove[p] {
                continue;
            }
            // The input's only reader is this cast, so its producer can write the output.
            for o in graph.nodes[p].outputs.iter_mut().flatten() {
                if *o == input {
                    *o = output;
                }
            }
            remove[i] = true;
        }
    }
    if !remove.contains(&true) {
        return false;
    }
    let resolve = |mut v: ValueId| {
        while let Some(&next) = alias.get(&v) {
            v = next;
        }
        v
    };
    let mut index = 0;
    graph.nodes.retain(|_| {
        index += 1;
        !remove[index - 1]
    });
    for input in graph
        .nodes
        .iter_mut()
        .flat_map(|n| n.inputs.iter_mut().flatten())
    {
        *input = resolve(*input);
    }
    true
}

#[cfg(test)]
mod tests;
