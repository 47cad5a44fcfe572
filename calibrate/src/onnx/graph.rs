//! Graph editing helpers: attributes, new nodes, unique names, constant hoisting and a
//! topological re-sort after edits.

use super::pb;
use crate::{Error, Result};
use pb::attribute_proto::AttributeType;
use std::collections::{HashMap, HashSet, VecDeque};

/// The attribute `name` of `node`.
pub fn attr<'a>(node: &'a pb::NodeProto, name: &str) -> Option<&'a pb::AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

/// An integer attribute, or `default` when absent.
pub fn attr_i(node: &pb::NodeProto, name: &str, default: i64) -> i64 {
    attr(node, name).map_or(default, |a| a.i)
}

/// A float attribute, or `default` when absent.
pub fn attr_f(node: &pb::NodeProto, name: &str, default: f32) -> f32 {
    attr(node, name).map_or(default, |a| a.f)
}

/// An integer-list attribute, if present.
pub fn attr_ints(node: &pb::NodeProto, name: &str) -> Option<Vec<i64>> {
    attr(node, name).map(|a| a.ints.clone())
}

/// Sets (or replaces) an attribute on `node`.
pub fn set_attr(node: &mut pb::NodeProto, a: pb::AttributeProto) {
    node.attribute.retain(|x| x.name != a.name);
    node.attribute.push(a);
}

/// Removes the attribute `name` from `node`.
pub fn remove_attr(node: &mut pb::NodeProto, name: &str) {
    node.attribute.retain(|x| x.name != name);
}

/// An INT attribute.
pub fn int_attr(name: &str, i: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i,
        ..Default::default()
    }
}

/// A FLOAT attribute.
pub fn float_attr(name: &str, f: f32) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: AttributeType::Float as i32,
        f,
        ..Default::default()
    }
}

/// An INTS attribute.
pub fn ints_attr(name: &str, ints: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints: ints.to_vec(),
        ..Default::default()
    }
}

/// A default-domain node.
pub fn node(
    op_type: &str,
    name: &str,
    inputs: &[&str],
    outputs: &[&str],
    attribute: Vec<pb::AttributeProto>,
) -> pb::NodeProto {
    pb::NodeProto {
        op_type: op_type.into(),
        name: name.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute,
        ..Default::default()
    }
}

/// Hands out names no tensor or node of the graph uses yet.
#[derive(Default)]
pub struct Names {
    used: HashSet<String>,
}

impl Names {
    /// Every tensor and node name of `g` (subgraphs included) counts as used.
    pub fn of(g: &pb::GraphProto) -> Names {
        let mut n = Names::default();
        n.collect(g);
        n
    }

    fn collect(&mut self, g: &pb::GraphProto) {
        self.used.extend(g.input.iter().map(|v| v.name.clone()));
        self.used.extend(g.output.iter().map(|v| v.name.clone()));
        self.used
            .extend(g.value_info.iter().map(|v| v.name.clone()));
        self.used
            .extend(g.initializer.iter().map(|t| t.name.clone()));
        for n in &g.node {
            self.used.insert(n.name.clone());
            self.used.extend(n.input.iter().cloned());
            self.used.extend(n.output.iter().cloned());
            for a in &n.attribute {
                for sg in a.g.iter().chain(a.graphs.iter()) {
                    self.collect(sg);
                }
            }
        }
    }

    /// `wanted` when free, otherwise `wanted_1`, `wanted_2`...; the name is then used.
    pub fn fresh(&mut self, wanted: &str) -> String {
        let mut name = wanted.to_string();
        let mut i = 1;
        while self.used.contains(&name) {
            name = format!("{wanted}_{i}");
            i += 1;
        }
        self.used.insert(name.clone());
        name
    }
}

/// Replaces every `Constant` node whose value is a tensor (`value` attribute) by an
/// initializer of the same name, so that the writers see exporters' constant weights (paddle2onnx
/// writes every weight that way) like stored ones. Returns how many were hoisted.
pub fn hoist_constants(g: &mut pb::GraphProto) -> usize {
    let mut hoisted = 0;
    let mut kept = Vec::with_capacity(g.node.len());
    for n in std::mem::take(&mut g.node) {
        let value = (n.op_type == "Constant" && n.domain.is_empty() && n.output.len() == 1)
            .then(|| attr(&n, "value").and_then(|a| a.t.clone()))
            .flatten();
        match value {
            Some(mut t) => {
                t.name = n.output[0].clone();
                g.initializer.push(t);
                hoisted += 1;
            }
            None => kept.push(n),
        }
    }
    g.node = kept;
    hoisted
}

/// The names a node reads: its inputs and, for control flow, every name its subgraphs read
/// (they may capture tensors of the enclosing graph).
fn reads(n: &pb::NodeProto, out: &mut Vec<String>) {
    out.extend(n.input.iter().filter(|s| !s.is_empty()).cloned());
    for a in &n.attribute {
        for sg in a.g.iter().chain(a.graphs.iter()) {
            for sn in &sg.node {
                reads(sn, out);
            }
        }
    }
}

/// Sorts the nodes so that every node comes after the producers of what it reads, keeping
/// the existing order wherever it already is valid. Fails on a cycle.
pub fn topo_sort(g: &mut pb::GraphProto) -> Result<()> {
    let mut producer: HashMap<&str, usize> = HashMap::new();
    for (i, n) in g.node.iter().enumerate() {
        for o in &n.output {
            producer.insert(o.as_str(), i);
        }
    }
    let count = g.node.len();
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); count];
    let mut pending = vec![0usize; count];
    for (i, n) in g.node.iter().enumerate() {
        let mut names = Vec::new();
        reads(n, &mut names);
        let mut seen = HashSet::new();
        for name in &names {
            if let Some(&p) = producer.get(name.as_str()) {
                if p != i && seen.insert(p) {
                    deps[p].push(i);
                    pending[i] += 1;
                }
            }
        }
    }
    // A min-heap on the original index would keep the order stabler still; a FIFO seeded in
    // order is enough to keep untouched runs of nodes where they were.
    let mut ready: VecDeque<usize> = (0..count).filter(|&i| pending[i] == 0).collect();
    let mut order = Vec::with_capacity(count);
    while let Some(i) = ready.pop_front() {
        order.push(i);
        for &d in &deps[i] {
            pending[d] -= 1;
            if pending[d] == 0 {
                ready.push_back(d);
            }
        }
    }
    if order.len() != count {
        return Err(Error::Onnx("the graph has a cycle".into()));
    }
    let mut old: Vec<Option<pb::NodeProto>> =
        std::mem::take(&mut g.node).into_iter().map(Some).collect();
    g.node = order
        .into_iter()
        .map(|i| old[i].take().expect("each index once"))
        .collect();
    Ok(())
}

/// For each tensor name, the indices of the nodes reading it (direct inputs only).
pub fn consumers(g: &pb::GraphProto) -> HashMap<String, Vec<usize>> {
    let mut map: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, n) in g.node.iter().enumerate() {
        for inp in n.input.iter().filter(|s| !s.is_empty()) {
            let v = map.entry(inp.clone()).or_default();
            if v.last() != Some(&i) {
                v.push(i);
            }
        }
    }
    map
}

/// The initializer called `name`.
pub fn initializer<'a>(g: &'a pb::GraphProto, name: &str) -> Option<&'a pb::TensorProto> {
    g.initializer.iter().find(|t| t.name == name)
}

/// Whether `name` is one of the graph's outputs.
pub fn is_graph_output(g: &pb::GraphProto, name: &str) -> bool {
    g.output.iter().any(|o| o.name == name)
}
