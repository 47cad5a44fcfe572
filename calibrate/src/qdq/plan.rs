//! Deciding what to quantize, node by node in graph order, with onnxruntime's QDQ rules
//! (`onnxruntime/quantization/operators/*.py`, `qdq_quantizer.py`). Removing Relu/Clip and
//! duplicating shared biases edit the graph here; everything else is recorded in the plan and
//! written by [`super::write`].

use super::{QType, QdqOptions, QdqReport};
use crate::onnx::{graph, pb, tensor};
use crate::table::CalibrationTable;
use crate::Result;
use std::collections::{HashMap, HashSet};

/// How one tensor is quantized.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Mark {
    /// An activation with its own range, or sharing the parameters of another quantized
    /// activation (data-movement ops' outputs).
    Activation { shared_with: Option<String> },
    /// An initializer stored as integers: per channel along `axis`, or per tensor.
    Weight {
        axis: Option<i64>,
        qtype: QType,
        symmetric: bool,
    },
}

/// A float bias to store as int32 with scale `scale(input) * scale(weight) * beta`.
#[derive(Clone, Debug)]
pub(super) struct Bias {
    pub name: String,
    pub input: String,
    pub weight: String,
    pub beta: f32,
}

#[derive(Debug, Default)]
pub(super) struct Plan {
    /// Marked tensors in marking order (the order the writer emits them).
    pub order: Vec<String>,
    pub marks: HashMap<String, Mark>,
    pub biases: Vec<Bias>,
    /// The table's ranges after onnxruntime's adjustments (Relu/Clip inputs, Softmax).
    pub ranges: HashMap<String, (f32, f32)>,
}

impl Plan {
    fn mark(&mut self, name: &str, mark: Mark) {
        if name.is_empty() || self.marks.contains_key(name) {
            return;
        }
        self.order.push(name.to_string());
        self.marks.insert(name.to_string(), mark);
    }
}

struct Cx<'a> {
    inits: HashMap<String, (i32, usize)>,
    opts: &'a QdqOptions,
    plan: Plan,
    unranged: Vec<String>,
}

impl Cx<'_> {
    /// `quantize_activation_tensor`: a float initializer becomes a per-tensor "weight" with
    /// the activation type (elementwise ops' constants); an activation needs a range.
    fn activation(&mut self, name: &str) {
        if name.is_empty() || self.plan.marks.contains_key(name) {
            return;
        }
        if let Some(&(dtype, _)) = self.inits.get(name) {
            if dtype == tensor::FLOAT {
                self.plan.mark(
                    name,
                    Mark::Weight {
                        axis: None,
                        qtype: self.opts.activations,
                        symmetric: self.opts.symmetric_activations,
                    },
                );
            }
            return;
        }
        if self.plan.ranges.contains_key(name) {
            self.plan.mark(name, Mark::Activation { shared_with: None });
        } else if !self.unranged.iter().any(|u| u == name) {
            self.unranged.push(name.to_string());
        }
    }

    /// An output using the parameters of `input` (only when `input` is quantized).
    fn shared(&mut self, output: &str, input: &str) {
        if matches!(self.plan.marks.get(input), Some(Mark::Activation { .. }))
            && !self.plan.marks.contains_key(output)
            && !self.inits.contains_key(output)
        {
            self.plan.mark(
                output,
                Mark::Activation {
                    shared_with: Some(input.to_string()),
                },
            );
        }
    }

    /// A weight input: int8 symmetric, per channel along `axis` when asked and possible.
    /// Not an initializer: quantized as an activation instead.
    fn weight(&mut self, name: &str, axis: i64) {
        match self.inits.get(name) {
            Some(&(dtype, rank)) if dtype == tensor::FLOAT => {
                let axis = (self.opts.per_channel && (axis as usize) < rank).then_some(axis);
                self.plan.mark(
                    name,
                    Mark::Weight {
                        axis,
                        qtype: QType::S8,
                        symmetric: true,
                    },
                );
            }
            Some(_) => {}
            None => self.activation(name),
        }
    }

    /// A weight input quantized per tensor whatever the options say.
    fn weight_per_tensor(&mut self, name: &str) {
        match self.inits.get(name) {
            Some(&(dtype, _)) if dtype == tensor::FLOAT => self.plan.mark(
                name,
                Mark::Weight {
                    axis: None,
                    qtype: QType::S8,
                    symmetric: true,
                },
            ),
            Some(_) => {}
            None => self.activation(name),
        }
    }

    fn is_quantized(&self, name: &str) -> bool {
        self.plan.marks.contains_key(name)
    }
}

/// Plans the quantization of `g` (edits it for removed activations and duplicated biases).
pub(super) fn plan(
    g: &mut pb::GraphProto,
    table: &CalibrationTable,
    opts: &QdqOptions,
    opset: i64,
    report: &mut QdqReport,
) -> Result<Plan> {
    let op_types: HashSet<&str> = opts.op_types.iter().map(String::as_str).collect();
    let mut cx = Cx {
        inits: g
            .initializer
            .iter()
            .map(|t| (t.name.clone(), (t.data_type, t.dims.len())))
            .collect(),
        opts,
        plan: Plan {
            ranges: table
                .ranges
                .iter()
                .map(|(k, r)| (k.clone(), (r.min, r.max)))
                .collect(),
            ..Plan::default()
        },
        unranged: Vec::new(),
    };
    adjust_ranges(g, &op_types, &mut cx.plan.ranges);

    let mut removed = Vec::new();
    let mut bias_owner: HashMap<String, usize> = HashMap::new();
    let mut names = graph::Names::of(g);
    for i in 0..g.node.len() {
        let n = g.node[i].clone();
        // A node without inputs or outputs is malformed; leave it for the runtime to refuse.
        if !n.domain.is_empty()
            || !op_types.contains(n.op_type.as_str())
            || n.input.is_empty()
            || n.output.is_empty()
        {
            continue;
        }
        let before = cx.plan.order.len();
        match n.op_type.as_str() {
            "Conv" | "ConvTranspose" => {
                cx.activation(&n.input[0]);
                cx.activation(&n.output[0]);
                if n.input.len() > 1 {
                    cx.weight(&n.input[1], if n.op_type == "Conv" { 0 } else { 1 });
                }
                if let Some(b) = n.input.get(2).filter(|b| !b.is_empty()) {
                    plan_bias(g, &mut cx, &mut bias_owner, &mut names, i, b, 1.0);
                }
            }
            "Gemm" => {
                cx.activation(&n.input[0]);
                cx.activation(&n.output[0]);
                let trans_b = graph::attr_i(&n, "transB", 0) != 0;
                if n.input.len() > 1 {
                    cx.weight(&n.input[1], if trans_b { 0 } else { 1 });
                }
                // ORT folds beta into the bias scale and then resets beta to 1, which
                // changes the result when beta != 1; such biases stay in float here.
                let beta = graph::attr_f(&n, "beta", 1.0);
                if let Some(b) = n.input.get(2).filter(|b| !b.is_empty()) {
                    if beta == 1.0 && cx.inits.contains_key(b.as_str()) {
                        plan_bias(g, &mut cx, &mut bias_owner, &mut names, i, b, beta);
                    }
                }
            }
            "MatMul" => {
                for (k, inp) in n.input.iter().enumerate() {
                    match cx.inits.get(inp.as_str()) {
                        // The right operand's last axis is the output channel.
                        Some(&(_, rank)) if k == 1 && rank >= 2 => cx.weight(inp, rank as i64 - 1),
                        // A constant left operand (or a 1-D right one): per tensor.
                        Some(_) => cx.weight_per_tensor(inp),
                        None => cx.activation(inp),
                    }
                }
                cx.activation(&n.output[0]);
            }
            "Relu" | "Clip" => {
                if !cx.is_quantized(&n.input[0]) {
                    continue;
                }
                if !opts.symmetric_activations
                    && !opts.keep_removable_activations
                    && try_replace_upstream(g, &mut cx.plan, &n.input[0], &n.output[0])
                {
                    removed.push(i);
                } else {
                    cx.activation(&n.input[0]);
                }
                cx.activation(&n.output[0]);
            }
            "Reshape" | "Transpose" | "Squeeze" | "Unsqueeze" | "Flatten" | "AveragePool"
            | "Slice" | "Resize" | "MaxPool" => {
                if n.op_type == "MaxPool" && opset < 12 || n.op_type == "Resize" && opset < 11 {
                    continue;
                }
                cx.activation(&n.input[0]);
                cx.shared(&n.output[0], &n.input[0]);
            }
            "Split" => {
                cx.activation(&n.input[0]);
                for o in &n.output {
                    cx.shared(o, &n.input[0]);
                }
            }
            _ => {
                for t in n.input.iter().chain(&n.output) {
                    cx.activation(t);
                }
            }
        }
        if cx.plan.order.len() > before || removed.last() == Some(&i) {
            report.quantized_nodes += 1;
        }
    }
    report.removed_activations = removed.len();
    for &i in removed.iter().rev() {
        g.node.remove(i);
    }
    report.missing_ranges = cx
        .unranged
        .into_iter()
        .filter(|n| !cx.plan.marks.contains_key(n))
        .collect();
    Ok(cx.plan)
}

/// `BaseQuantizer.adjust_tensor_ranges`: a Relu/Clip input read by that node only takes the
/// output's range, and Softmax outputs are [0, 1].
fn adjust_ranges(
    g: &pb::GraphProto,
    op_types: &HashSet<&str>,
    ranges: &mut HashMap<String, (f32, f32)>,
) {
    let consumers = graph::consumers(g);
    for n in &g.node {
        if !n.domain.is_empty()
            || !op_types.contains(n.op_type.as_str())
            || n.input.is_empty()
            || n.output.is_empty()
        {
            continue;
        }
        match n.op_type.as_str() {
            "Relu" | "Clip" => {
                if consumers.get(&n.input[0]).map_or(0, Vec::len) != 1 {
                    continue;
                }
                if ranges.contains_key(&n.input[0]) {
                    if let Some(&r) = ranges.get(&n.output[0]) {
                        ranges.insert(n.input[0].clone(), r);
                    }
                }
            }
            "Softmax" => {
                ranges.insert(n.output[0].clone(), (0.0, 1.0));
            }
            _ => {}
        }
    }
}

/// `try_replacing_upstream_output`: when `upstream` is produced by a node, read only by the
/// activation and neither a graph input nor output, the producer writes `output` directly and
/// the activation disappears (its clamp is the quantization range's).
fn try_replace_upstream(
    g: &mut pb::GraphProto,
    plan: &mut Plan,
    upstream: &str,
    output: &str,
) -> bool {
    if !plan.ranges.contains_key(output)
        || graph::consumers(g).get(upstream).map_or(0, Vec::len) != 1
        || graph::is_graph_output(g, upstream)
        || g.input.iter().any(|i| i.name == upstream)
    {
        return false;
    }
    let Some(producer) = g
        .node
        .iter_mut()
        .find(|n| n.output.iter().any(|o| o == upstream))
    else {
        return false;
    };
    for o in producer.output.iter_mut().filter(|o| *o == upstream) {
        *o = output.to_string();
    }
    for n in g.node.iter_mut() {
        for inp in n.input.iter_mut().filter(|i| *i == upstream) {
            *inp = output.to_string();
        }
    }
    if plan.marks.remove(upstream).is_some() {
        plan.order.retain(|t| t != upstream);
    }
    true
}

/// `quantize_bias_tensor`: a float initializer bias, duplicated when another node already
/// claimed it (its scale depends on the node's input and weight).
fn plan_bias(
    g: &mut pb::GraphProto,
    cx: &mut Cx<'_>,
    owner: &mut HashMap<String, usize>,
    names: &mut graph::Names,
    node: usize,
    bias: &str,
    beta: f32,
) {
    let Some(&(dtype, _)) = cx.inits.get(bias) else {
        return;
    };
    if dtype != tensor::FLOAT {
        return;
    }
    let mut name = bias.to_string();
    if owner.contains_key(bias) {
        let copy = graph::initializer(g, bias)
            .expect("known initializer")
            .clone();
        name = names.fresh(bias);
        g.initializer.push(pb::TensorProto {
            name: name.clone(),
            ..copy
        });
        cx.inits.insert(name.clone(), (dtype, 1));
        g.node[node].input[2] = name.clone();
    }
    owner.insert(name.clone(), node);
    let n = &g.node[node];
    cx.plan.biases.push(Bias {
        name,
        input: n.input[0].clone(),
        weight: n.input[1].clone(),
        beta,
    });
}
