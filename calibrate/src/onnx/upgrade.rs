//! Raising the default opset of a model, rewriting the operators whose signature or semantics
//! changed on the way, so that the upgraded model computes exactly what the source did.
//!
//! Only what the writers need: QDQ needs opset 13 (per-axis DequantizeLinear); the rewrites
//! cover the operators that changed between opset 10 and 13 in a way that matters for
//! inference. Older models, and the few changes with no exact rewrite, are refused with an
//! error naming the node.

use super::graph::{self, attr, attr_i, attr_ints, int_attr, Names};
use super::{opset, pb, set_opset, tensor};
use crate::{Error, Result};

/// The oldest opset this module upgrades from.
pub const MIN_SOURCE_OPSET: i64 = 10;

/// Raises the default opset to `target` (at most 13) if it is lower; a model already at or
/// above `target` is left untouched. Returns whether the model changed.
pub fn upgrade(model: &mut pb::ModelProto, target: i64) -> Result<bool> {
    if target > 13 {
        return Err(Error::Onnx(format!(
            "upgrading to opset {target} is not supported (at most 13)"
        )));
    }
    let from = opset(model);
    if from >= target {
        return Ok(false);
    }
    if from < MIN_SOURCE_OPSET {
        return Err(Error::Onnx(format!(
            "the model uses opset {from}; calibrate upgrades models from opset \
             {MIN_SOURCE_OPSET} or later (convert it with onnx.version_converter first)"
        )));
    }
    let g = super::graph_mut(model)?;
    let mut names = Names::of(g);
    let mut added = Vec::new();
    let mut nodes = std::mem::take(&mut g.node);
    let ranks = known_ranks(g);
    nodes = rewrite_nodes(nodes, from, &ranks, &mut names, &mut added)?;
    g.node = nodes;
    g.initializer.extend(added);
    set_opset(model, target);
    Ok(true)
}

/// Ranks declared for tensors in the graph's inputs, outputs and value_info.
fn known_ranks(g: &pb::GraphProto) -> std::collections::HashMap<String, usize> {
    use pb::type_proto::Value;
    g.input
        .iter()
        .chain(&g.output)
        .chain(&g.value_info)
        .filter_map(|vi| {
            let Value::TensorType(t) = vi.r#type.as_ref()?.value.as_ref()?;
            Some((vi.name.clone(), t.shape.as_ref()?.dim.len()))
        })
        .collect()
}

fn rewrite_nodes(
    nodes: Vec<pb::NodeProto>,
    from: i64,
    ranks: &std::collections::HashMap<String, usize>,
    names: &mut Names,
    added: &mut Vec<pb::TensorProto>,
) -> Result<Vec<pb::NodeProto>> {
    let mut out = Vec::with_capacity(nodes.len());
    for mut n in nodes {
        // Subgraphs run at the model's opset too.
        for a in n.attribute.iter_mut() {
            for sg in a.g.iter_mut().chain(a.graphs.iter_mut()) {
                let inner = std::mem::take(&mut sg.node);
                sg.node = rewrite_nodes(inner, from, ranks, names, added)?;
            }
        }
        // Foreign domains are not ours to rewrite; malformed nodes are left for the runtime.
        if (!n.domain.is_empty() && n.domain != "ai.onnx")
            || n.input.is_empty()
            || n.output.is_empty()
        {
            out.push(n);
            continue;
        }
        let mut const_input = |n: &mut pb::NodeProto, attr_name: &str, values: Vec<i64>| {
            let name = names.fresh(&format!("{}_{attr_name}", n.output[0]));
            added.push(tensor::from_i64(&name, &[values.len() as i64], &values));
            graph::remove_attr(n, attr_name);
            name
        };
        match n.op_type.as_str() {
            "Squeeze" | "Unsqueeze" | "ReduceSum" => {
                if let Some(axes) = attr_ints(&n, "axes") {
                    let name = const_input(&mut n, "axes", axes);
                    n.input.truncate(1);
                    n.input.push(name);
                }
            }
            "Split" => {
                if let Some(split) = attr_ints(&n, "split") {
                    let name = const_input(&mut n, "split", split);
                    n.input.truncate(1);
                    n.input.push(name);
                }
            }
            "Dropout" if from < 12 => {
                // Inference Dropout is the identity at every opset; opset 12 moved `ratio`
                // to an input and only training mode reads it.
                graph::remove_attr(&mut n, "ratio");
            }
            "Resize" => {
                if attr(&n, "coordinate_transformation_mode")
                    .is_some_and(|a| a.s == b"tf_half_pixel_for_nn")
                {
                    return Err(unsupported(&n, "coordinate_transformation_mode tf_half_pixel_for_nn was removed in opset 13"));
                }
                if from < 11 {
                    return Err(unsupported(
                        &n,
                        "opset-10 Resize has no exact opset-13 form here",
                    ));
                }
            }
            "Softmax" | "LogSoftmax" | "Hardmax" => {
                let axis = attr_i(&n, "axis", 1);
                let rank = ranks.get(&n.input[0]).copied();
                let last = axis == -1 || rank.is_some_and(|r| axis == r as i64 - 1);
                if last {
                    graph::set_attr(&mut n, int_attr("axis", -1));
                } else {
                    // Before 13 the op flattened the input to 2-D at `axis` and normalised
                    // the rows; spell that out so any rank and axis stay exact.
                    out.extend(coerced_2d(n, axis, names));
                    continue;
                }
            }
            _ => {}
        }
        out.push(n);
    }
    Ok(out)
}

/// `op(x, axis)` of opset < 13 as Flatten(axis) -> op(axis=-1) -> Reshape(Shape(x)).
fn coerced_2d(n: pb::NodeProto, axis: i64, names: &mut Names) -> Vec<pb::NodeProto> {
    let x = n.input[0].clone();
    let y = n.output[0].clone();
    let base = if n.name.is_empty() {
        y.clone()
    } else {
        n.name.clone()
    };
    let flat = names.fresh(&format!("{y}_flat2d"));
    let normed = names.fresh(&format!("{y}_2d"));
    let shape = names.fresh(&format!("{y}_shape"));
    vec![
        graph::node(
            "Flatten",
            &names.fresh(&format!("{base}_flatten")),
            &[&x],
            &[&flat],
            vec![int_attr("axis", axis)],
        ),
        pb::NodeProto {
            input: vec![flat.clone()],
            output: vec![normed.clone()],
            attribute: vec![int_attr("axis", -1)],
            ..n
        },
        graph::node(
            "Shape",
            &names.fresh(&format!("{base}_shape")),
            &[&x],
            &[&shape],
            vec![],
        ),
        graph::node(
            "Reshape",
            &names.fresh(&format!("{base}_reshape")),
            &[&normed, &shape],
            &[&y],
            vec![],
        ),
    ]
}

fn unsupported(n: &pb::NodeProto, why: &str) -> Error {
    Error::Onnx(format!(
        "cannot upgrade node '{}' ({}) to opset 13: {why}",
        n.name, n.op_type
    ))
}
