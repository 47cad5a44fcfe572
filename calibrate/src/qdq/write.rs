//! Writing a [`Plan`]: integer initializers, scale/zero-point initializers, and the
//! QuantizeLinear/DequantizeLinear nodes, named as onnxruntime names them
//! (`<t>_scale`, `<t>_zero_point`, `<t>_quantized`, `<t>_QuantizeLinear_Output`,
//! `<t>_DequantizeLinear_Output`...), made unique where the source already uses a name.

use super::params::{self, QParams, QType};
use super::plan::{Mark, Plan};
use super::{QdqOptions, QdqReport};
use crate::onnx::graph::{self, int_attr, Names};
use crate::onnx::{pb, tensor};
use crate::{Error, Result};
use std::collections::HashMap;

/// An activation's parameters and the initializers holding them.
struct Act {
    p: QParams,
    scale: String,
    zero_point: String,
}

/// A weight's per-channel (or single) scales.
struct Weight {
    scales: Vec<f32>,
    axis: Option<i64>,
}

pub(super) fn apply(
    g: &mut pb::GraphProto,
    plan: &Plan,
    opts: &QdqOptions,
    report: &mut QdqReport,
) -> Result<()> {
    let mut names = Names::of(g);
    let mut acts: HashMap<String, Act> = HashMap::new();
    let mut weights: HashMap<String, Weight> = HashMap::new();
    let mut new_nodes = Vec::new();
    for t in &plan.order {
        match &plan.marks[t] {
            Mark::Activation { shared_with } => {
                let act = match shared_with {
                    Some(src) => {
                        let a = acts.get(src).ok_or_else(|| {
                            Error::Onnx(format!("'{t}' shares parameters of unquantized '{src}'"))
                        })?;
                        Act {
                            p: a.p,
                            scale: a.scale.clone(),
                            zero_point: a.zero_point.clone(),
                        }
                    }
                    None => {
                        let (lo, hi) = plan.ranges[t];
                        if !lo.is_finite() || !hi.is_finite() || lo > hi {
                            return Err(Error::Table(format!(
                                "tensor '{t}' has an invalid range [{lo}, {hi}]"
                            )));
                        }
                        let p =
                            params::compute(lo, hi, opts.activations, opts.symmetric_activations);
                        let scale = names.fresh(&format!("{t}_scale"));
                        let zero_point = names.fresh(&format!("{t}_zero_point"));
                        g.initializer
                            .push(tensor::from_f32(&scale, &[], &[p.scale]));
                        g.initializer.push(zero_point_tensor(
                            &zero_point,
                            opts.activations,
                            &[p.zero_point],
                        ));
                        Act {
                            p,
                            scale,
                            zero_point,
                        }
                    }
                };
                insert_qdq_pair(g, &mut names, &mut new_nodes, t, &act);
                acts.insert(t.clone(), act);
                report.activations += 1;
            }
            Mark::Weight {
                axis,
                qtype,
                symmetric,
            } => {
                let w =
                    quantize_weight(g, &mut names, &mut new_nodes, t, *axis, *qtype, *symmetric)?;
                weights.insert(t.clone(), w);
                report.weights += 1;
            }
        }
    }
    for b in &plan.biases {
        let (Some(a), Some(w)) = (acts.get(&b.input), weights.get(&b.weight)) else {
            continue;
        };
        if quantize_bias(g, &mut names, &mut new_nodes, &b.name, a.p.scale, w, b.beta)? {
            report.biases += 1;
        }
    }
    g.node.extend(new_nodes);
    Ok(())
}

fn zero_point_tensor(name: &str, qtype: QType, zps: &[i32]) -> pb::TensorProto {
    let dims: Vec<i64> = if zps.len() == 1 {
        vec![]
    } else {
        vec![zps.len() as i64]
    };
    match qtype {
        QType::S8 => tensor::from_i8(
            name,
            &dims,
            &zps.iter().map(|&z| z as i8).collect::<Vec<_>>(),
        ),
        QType::U8 => tensor::from_u8(
            name,
            &dims,
            &zps.iter().map(|&z| z as u8).collect::<Vec<_>>(),
        ),
    }
}

/// Renames every main-graph read of `from` to `to` (nodes not yet added are untouched).
fn redirect_reads(g: &mut pb::GraphProto, from: &str, to: &str) {
    for n in g.node.iter_mut() {
        for i in n.input.iter_mut().filter(|i| *i == from) {
            *i = to.to_string();
        }
    }
}

/// `<producer> -> t -> Q -> DQ -> <consumers>`; a graph output keeps its name on the DQ.
fn insert_qdq_pair(
    g: &mut pb::GraphProto,
    names: &mut Names,
    new_nodes: &mut Vec<pb::NodeProto>,
    t: &str,
    act: &Act,
) {
    let q_out = names.fresh(&format!("{t}_QuantizeLinear_Output"));
    let (q_in, dq_out) = if graph::is_graph_output(g, t) {
        let q_in = names.fresh(&format!("{t}_QuantizeLinear_Input"));
        for o in g
            .node
            .iter_mut()
            .flat_map(|n| n.output.iter_mut())
            .filter(|o| *o == t)
        {
            *o = q_in.clone();
        }
        // Other readers of the output keep reading `t`, now the dequantized value, as in ORT.
        (q_in, t.to_string())
    } else {
        let dq_out = names.fresh(&format!("{t}_DequantizeLinear_Output"));
        redirect_reads(g, t, &dq_out);
        (t.to_string(), dq_out)
    };
    new_nodes.push(graph::node(
        "QuantizeLinear",
        &names.fresh(&format!("{t}_QuantizeLinear")),
        &[&q_in, &act.scale, &act.zero_point],
        &[&q_out],
        vec![],
    ));
    new_nodes.push(graph::node(
        "DequantizeLinear",
        &names.fresh(&format!("{t}_DequantizeLinear")),
        &[&q_out, &act.scale, &act.zero_point],
        &[&dq_out],
        vec![],
    ));
}

/// Stores initializer `w` as integers (per channel along `axis`, or per tensor) followed by a
/// DequantizeLinear that every reader of `w` then reads.
fn quantize_weight(
    g: &mut pb::GraphProto,
    names: &mut Names,
    new_nodes: &mut Vec<pb::NodeProto>,
    w: &str,
    axis: Option<i64>,
    qtype: QType,
    symmetric: bool,
) -> Result<Weight> {
    let proto = graph::initializer(g, w)
        .ok_or_else(|| Error::Onnx(format!("weight '{w}' is not an initializer")))?
        .clone();
    let data = tensor::to_f32(&proto)?;
    let dims = &proto.dims;
    let (q, ps) = quantize_values(&data, dims, axis, qtype, symmetric);
    let channels = ps.len();
    let q_name = names.fresh(&format!("{w}_quantized"));
    let scale = names.fresh(&format!("{w}_scale"));
    let zp = names.fresh(&format!("{w}_zero_point"));
    let dq_out = names.fresh(&format!("{w}_DequantizeLinear_Output"));
    g.initializer.push(match qtype {
        QType::S8 => tensor::from_i8(
            &q_name,
            dims,
            &q.iter().map(|&v| v as i8).collect::<Vec<_>>(),
        ),
        QType::U8 => tensor::from_u8(
            &q_name,
            dims,
            &q.iter().map(|&v| v as u8).collect::<Vec<_>>(),
        ),
    });
    let scales: Vec<f32> = ps.iter().map(|p| p.scale).collect();
    let zps: Vec<i32> = ps.iter().map(|p| p.zero_point).collect();
    let vec_dims: Vec<i64> = if axis.is_some() {
        vec![channels as i64]
    } else {
        vec![]
    };
    g.initializer
        .push(tensor::from_f32(&scale, &vec_dims, &scales));
    let mut zp_t = zero_point_tensor(&zp, qtype, &zps);
    zp_t.dims = vec_dims;
    g.initializer.push(zp_t);
    redirect_reads(g, w, &dq_out);
    new_nodes.push(graph::node(
        "DequantizeLinear",
        &names.fresh(&format!("{w}_DequantizeLinear")),
        &[&q_name, &scale, &zp],
        &[&dq_out],
        axis.map(|a| vec![int_attr("axis", a)]).unwrap_or_default(),
    ));
    Ok(Weight { scales, axis })
}

/// Stores bias `b` as int32 with scale `input_scale * weight_scale * beta` (one per channel
/// for a per-channel weight) and zero point 0. Returns false when the shapes do not fit (the
/// bias then stays in float).
fn quantize_bias(
    g: &mut pb::GraphProto,
    names: &mut Names,
    new_nodes: &mut Vec<pb::NodeProto>,
    b: &str,
    input_scale: f32,
    w: &Weight,
    beta: f32,
) -> Result<bool> {
    let Some(proto) = graph::initializer(g, b).cloned() else {
        return Ok(false);
    };
    let data = tensor::to_f32(&proto)?;
    if w.axis.is_some() && (w.scales.len() != data.len() || proto.dims.len() != 1) {
        return Ok(false);
    }
    let scale_of = |i: usize| {
        let ws = if w.axis.is_some() {
            w.scales[i]
        } else {
            w.scales[0]
        };
        input_scale * ws * beta
    };
    let q: Vec<i32> = data
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let s = scale_of(i) as f64;
            let r = if s == 0.0 {
                0.0
            } else {
                params::round_half_even(v as f64 / s)
            };
            r.clamp(i32::MIN as f64, i32::MAX as f64) as i32
        })
        .collect();
    let count = if w.axis.is_some() { data.len() } else { 1 };
    let scales: Vec<f32> = (0..count).map(scale_of).collect();
    let vec_dims: Vec<i64> = if w.axis.is_some() {
        vec![count as i64]
    } else {
        vec![]
    };
    let q_name = names.fresh(&format!("{b}_quantized"));
    let scale = names.fresh(&format!("{b}_quantized_scale"));
    let zp = names.fresh(&format!("{b}_quantized_zero_point"));
    let dq_out = names.fresh(&format!("{b}_DequantizeLinear_Output"));
    g.initializer
        .push(tensor::from_i32(&q_name, &proto.dims, &q));
    g.initializer
        .push(tensor::from_f32(&scale, &vec_dims, &scales));
    g.initializer
        .push(tensor::from_i32(&zp, &vec_dims, &vec![0; count]));
    redirect_reads(g, b, &dq_out);
    new_nodes.push(graph::node(
        "DequantizeLinear",
        &names.fresh(&format!("{b}_DequantizeLinear")),
        &[&q_name, &scale, &zp],
        &[&dq_out],
        w.axis
            .map(|_| vec![int_attr("axis", 0)])
            .unwrap_or_default(),
    ));
    Ok(true)
}

/// The integers and per-channel (along `axis`) or per-tensor parameters the writer stores
/// for weight values `data` of shape `dims`: each channel's range, made to include 0, mapped
/// by [`params::compute`]. Bias correction calls it too, so that the error it corrects is
/// the one of the weights actually written.
pub(crate) fn quantize_values(
    data: &[f32],
    dims: &[i64],
    axis: Option<i64>,
    qtype: QType,
    symmetric: bool,
) -> (Vec<i32>, Vec<params::QParams>) {
    let (outer, channels, inner) = match axis {
        Some(a) => {
            let a = a as usize;
            let outer: i64 = dims[..a].iter().product();
            let inner: i64 = dims[a + 1..].iter().product();
            (outer as usize, dims[a] as usize, inner as usize)
        }
        None => (1, 1, data.len()),
    };
    let (qmin, qmax) = qtype.range(symmetric);
    let mut ps = Vec::with_capacity(channels);
    for c in 0..channels {
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for o in 0..outer {
            let start = (o * channels + c) * inner;
            let (l, h) = params::min_max(&data[start..start + inner]);
            lo = lo.min(l);
            hi = hi.max(h);
        }
        if !lo.is_finite() {
            (lo, hi) = (0.0, 0.0);
        }
        ps.push(params::compute(lo, hi, qtype, symmetric));
    }
    let mut q = vec![0i32; data.len()];
    for o in 0..outer {
        for (c, p) in ps.iter().enumerate() {
            let start = (o * channels + c) * inner;
            for k in start..start + inner {
                q[k] = params::quantize(data[k], *p, qmin, qmax);
            }
        }
    }
    (q, ps)
}

/// `data` quantized as the writer quantizes it, then dequantized (`(q - zp) * scale`).
pub fn fake_quantize(
    data: &[f32],
    dims: &[i64],
    axis: Option<i64>,
    qtype: QType,
    symmetric: bool,
) -> Vec<f32> {
    let (q, ps) = quantize_values(data, dims, axis, qtype, symmetric);
    let channels = ps.len();
    let inner: usize = match axis {
        Some(a) => dims[a as usize + 1..].iter().product::<i64>() as usize,
        None => data.len(),
    };
    q.iter()
        .enumerate()
        .map(|(k, &v)| {
            let p = ps[(k / inner.max(1)) % channels];
            (v - p.zero_point) as f32 * p.scale
        })
        .collect()
}
