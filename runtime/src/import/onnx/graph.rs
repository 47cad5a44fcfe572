//! Translation of one `GraphProto` (the main graph or a control-flow body) into an IR graph.

use super::node::NodeCx;
use super::{contrib, is_default_domain, lower, pb, tensor_proto};
use crate::ir::ops::ControlOp;
use crate::ir::{Dim, Graph, Node, Op, ValueId, ValueInfo};
use crate::{DType, Error, Result};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

/// Model-wide import settings.
#[derive(Clone, Copy)]
pub(super) struct ImportCx<'a> {
    pub(super) opset: i64,
    pub(super) model_dir: Option<&'a Path>,
    pub(super) functions: &'a [pb::FunctionProto],
}

/// A translated graph and the enclosing-scope names it reads (aligned with `graph.captures`).
pub(super) struct Translated {
    pub(super) graph: Graph,
    pub(super) captured_names: Vec<String>,
}

struct Builder<'a> {
    graph: Graph,
    names: HashMap<String, ValueId>,
    /// Names visible in enclosing graphs, innermost last.
    outer: &'a [HashSet<String>],
    captured_names: Vec<String>,
}

impl Builder<'_> {
    /// The value a node input names, capturing it from an enclosing graph when needed.
    fn resolve(&mut self, name: &str, reader: &str) -> Result<ValueId> {
        if let Some(&id) = self.names.get(name) {
            return Ok(id);
        }
        if self.outer.iter().any(|s| s.contains(name)) {
            let id = self.graph.add_value(ValueInfo::named(name));
            self.graph.captures.push(id);
            self.captured_names.push(name.to_string());
            self.names.insert(name.to_string(), id);
            return Ok(id);
        }
        Err(Error::invalid_model(format!(
            "{reader} reads '{name}', which no node, input or initializer produces"
        )))
    }

    fn define(&mut self, info: ValueInfo) -> Result<ValueId> {
        if self.names.contains_key(&info.name) {
            return Err(Error::invalid_model(format!(
                "value '{}' is defined twice",
                info.name
            )));
        }
        let name = info.name.clone();
        let id = self.graph.add_value(info);
        self.names.insert(name, id);
        Ok(id)
    }
}

fn value_info(vi: &pb::ValueInfoProto) -> Result<ValueInfo> {
    use pb::tensor_shape_proto::dimension::Value as DimValue;
    use pb::type_proto::Value;
    let mut info = ValueInfo::named(&vi.name);
    match vi.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(Value::TensorType(t)) => {
            info.dtype = DType::from_onnx_code(t.elem_type);
            if info.dtype.is_none() && t.elem_type != 0 {
                return Err(Error::unsupported(
                    "tensor",
                    format!(
                        "value '{}' has ONNX element type {} (string/complex are not supported)",
                        vi.name, t.elem_type
                    ),
                ));
            }
            info.shape = t.shape.as_ref().map(|s| {
                s.dim
                    .iter()
                    .map(|d| match &d.value {
                        Some(DimValue::DimValue(v)) if *v >= 0 => Dim::Known(*v as usize),
                        Some(DimValue::DimParam(p)) if !p.is_empty() => Dim::Symbol(p.clone()),
                        _ => Dim::Symbol("?".into()),
                    })
                    .collect()
            });
        }
        None => {}
    }
    Ok(info)
}

/// Translates `gp`. `outer` holds the names visible in enclosing graphs (empty for the main
/// graph).
pub(super) fn translate(
    cx: &ImportCx<'_>,
    gp: &pb::GraphProto,
    outer: &[HashSet<String>],
) -> Result<Translated> {
    let mut b = Builder {
        graph: Graph::default(),
        names: HashMap::new(),
        outer,
        captured_names: Vec::new(),
    };
    if !gp.sparse_initializer.is_empty() {
        return Err(Error::unsupported(
            "sparse_initializer",
            "sparse initializers are not supported",
        ));
    }
    let initializer_names: HashSet<&str> = gp.initializer.iter().map(|t| t.name.as_str()).collect();
    for t in &gp.initializer {
        let tensor = tensor_proto::decode(t, cx.model_dir)?;
        let mut info = ValueInfo::named(&t.name);
        info.dtype = Some(tensor.dtype());
        info.shape = Some(tensor.shape().iter().map(|&d| Dim::Known(d)).collect());
        let id = b.define(info)?;
        b.graph.constants.insert(id, Arc::new(tensor));
    }
    for vi in &gp.input {
        // Before IR 4, initializers were also listed as inputs: they stay constants.
        if initializer_names.contains(vi.name.as_str()) {
            continue;
        }
        let id = b.define(value_info(vi)?)?;
        b.graph.inputs.push(id);
    }
    for (index, np) in gp.node.iter().enumerate() {
        // Unnamed nodes get "<op>_<index>" so every error can point at a node.
        let renamed;
        let np = if np.name.is_empty() {
            renamed = pb::NodeProto {
                name: format!("{}_{index}", np.op_type),
                ..np.clone()
            };
            &renamed
        } else {
            np
        };
        translate_node(cx, &mut b, np)?;
    }
    for vi in &gp.output {
        let id = b.resolve(&vi.name, "the graph output list")?;
        let declared = value_info(vi)?;
        let info = &mut b.graph.values[id.0];
        if info.dtype.is_none() {
            info.dtype = declared.dtype;
        }
        if info.shape.is_none() {
            info.shape = declared.shape;
        }
        b.graph.outputs.push(id);
    }
    Ok(Translated {
        graph: b.graph,
        captured_names: b.captured_names,
    })
}

fn translate_node(cx: &ImportCx<'_>, b: &mut Builder<'_>, np: &pb::NodeProto) -> Result<()> {
    if np.domain == contrib::DOMAIN {
        return translate_contrib(cx, b, np);
    }
    if !is_default_domain(&np.domain) {
        if cx.functions.iter().any(|f| {
            f.domain.as_deref() == Some(np.domain.as_str())
                && f.name.as_deref() == Some(np.op_type.as_str())
        }) {
            return Err(Error::unsupported(
                &np.op_type,
                format!("node '{}' calls a model-local function ({}); inlining functions is not supported yet", np.name, np.domain),
            ));
        }
        return Err(Error::unsupported(
            &np.op_type,
            format!(
                "node '{}' is in domain '{}'; Mote supports the default ai.onnx domain and some '{}' ops",
                np.name, np.domain, contrib::DOMAIN
            ),
        ));
    }
    let ncx = NodeCx {
        proto: np,
        opset: cx.opset,
    };
    if np.op_type == "Constant" {
        let out = np
            .output
            .first()
            .ok_or_else(|| ncx.invalid("Constant without output"))?;
        let tensor = lower::constant_value(&ncx)?;
        let mut info = ValueInfo::named(out);
        info.dtype = Some(tensor.dtype());
        info.shape = Some(tensor.shape().iter().map(|&d| Dim::Known(d)).collect());
        let id = b.define(info)?;
        b.graph.constants.insert(id, Arc::new(tensor));
        return Ok(());
    }
    let reader = format!("{} node '{}'", np.op_type, np.name);
    let mut inputs = Vec::with_capacity(np.input.len());
    for name in &np.input {
        inputs.push(if name.is_empty() {
            None
        } else {
            Some(b.resolve(name, &reader)?)
        });
    }
    let op = match np.op_type.as_str() {
        "If" | "Loop" | "Scan" => {
            let (op, captured) = lower_control(cx, b, &ncx)?;
            for name in captured {
                inputs.push(Some(b.resolve(&name, &reader)?));
            }
            op
        }
        _ => lower::lower(&ncx)?,
    };
    let mut outputs = Vec::with_capacity(np.output.len());
    for name in &np.output {
        outputs.push(if name.is_empty() {
            None
        } else {
            Some(b.define(ValueInfo::named(name))?)
        });
    }
    b.graph.nodes.push(Node {
        name: np.name.clone(),
        op,
        inputs,
        outputs,
    });
    Ok(())
}

/// Translates a `com.microsoft` node through its expansion into standard nodes, each at the
/// opset it is written for.
fn translate_contrib(cx: &ImportCx<'_>, b: &mut Builder<'_>, np: &pb::NodeProto) -> Result<()> {
    let ncx = NodeCx {
        proto: np,
        opset: cx.opset,
    };
    let nodes = contrib::expand(&ncx).unwrap_or_else(|| Err(contrib::unsupported(np)))?;
    for s in nodes {
        let scx = ImportCx {
            opset: s.opset,
            ..*cx
        };
        translate_node(&scx, b, &s.proto).map_err(|e| {
            e.context_with(format!(
                "in the expansion of {}.{} node '{}'",
                np.domain, np.op_type, np.name
            ))
        })?;
    }
    Ok(())
}

/// Lowers If/Loop/Scan: translates the bodies and returns the op and the outer names they
/// read (to append to the node's inputs).
fn lower_control(
    cx: &ImportCx<'_>,
    b: &Builder<'_>,
    ncx: &NodeCx<'_>,
) -> Result<(Op, Vec<String>)> {
    let mut outer: Vec<HashSet<String>> = b.outer.to_vec();
    outer.push(b.names.keys().cloned().collect());
    let body = |name: &str| -> Result<&pb::GraphProto> {
        ncx.proto
            .attribute
            .iter()
            .find(|a| a.name == name)
            .and_then(|a| a.g.as_ref())
            .ok_or_else(|| ncx.invalid(format!("missing graph attribute '{name}'")))
    };
    let sub = |name: &str| -> Result<Translated> {
        translate(cx, body(name)?, &outer)
            .map_err(|e| e.context_with(format!("in '{name}' of node '{}'", ncx.name())))
    };
    let formal_inputs = ncx.input_count();
    match ncx.op_type() {
        "If" => {
            let mut then_b = sub("then_branch")?;
            let mut else_b = sub("else_branch")?;
            // Both branches get the union of captures, in one order, so the node's trailing
            // inputs line up with each branch's `captures`.
            let mut names = then_b.captured_names.clone();
            for n in &else_b.captured_names {
                if !names.contains(n) {
                    names.push(n.clone());
                }
            }
            align_captures(&mut then_b, &names);
            align_captures(&mut else_b, &names);
            let op = ControlOp::If {
                then_branch: Box::new(then_b.graph),
                else_branch: Box::new(else_b.graph),
            };
            Ok((Op::Control(op), names))
        }
        "Loop" => {
            let t = sub("body")?;
            let op = ControlOp::Loop {
                body: Box::new(t.graph),
                formal_inputs,
            };
            Ok((Op::Control(op), t.captured_names))
        }
        _ => {
            let t = sub("body")?;
            let num_scan_inputs = ncx
                .int("num_scan_inputs")?
                .ok_or_else(|| ncx.invalid("missing num_scan_inputs"))?
                as usize;
            // Opset 8 scans batches with an optional sequence_lens input; its only per-input
            // attribute, `directions`, became `scan_input_directions` in opset 9.
            let batched = cx.opset < 9;
            let input_directions = if batched {
                "directions"
            } else {
                "scan_input_directions"
            };
            let op = ControlOp::Scan {
                body: Box::new(t.graph),
                formal_inputs,
                num_scan_inputs,
                scan_input_axes: ncx.ints("scan_input_axes")?.unwrap_or_default(),
                scan_input_directions: ncx.ints(input_directions)?.unwrap_or_default(),
                scan_output_axes: ncx.ints("scan_output_axes")?.unwrap_or_default(),
                scan_output_directions: ncx.ints("scan_output_directions")?.unwrap_or_default(),
                batched,
            };
            Ok((Op::Control(op), t.captured_names))
        }
    }
}

/// Rewrites a branch's captures to follow `names` (adding unused capture values as needed).
fn align_captures(t: &mut Translated, names: &[String]) {
    let mut captures = Vec::with_capacity(names.len());
    for n in names {
        let id = match t.captured_names.iter().position(|c| c == n) {
            Some(i) => t.graph.captures[i],
            None => t.graph.add_value(ValueInfo::named(n)),
        };
        captures.push(id);
    }
    t.graph.captures = captures;
    t.captured_names = names.to_vec();
}
