//! FP16 conversion: float32 initializers and tensors become float16, with `Cast` nodes where
//! a float16 tensor meets an op kept in float32 and back. Like onnxconverter-common's
//! `convert_float_to_float16` (whose default block list is kept here, plus control flow,
//! non-default domains and quantization ops), with its constant clamping: nonzero magnitudes
//! below 1e-7 become 1e-7 and finite ones above 1e4 become 1e4, so no weight flushes to zero
//! or overflows.
//!
//! Two safeguards go beyond that converter: BatchNormalization and constant Mul/Add after a
//! Conv are folded into it first (as onnxruntime's optimizer does before its FP16 tools; a
//! variance of 1e8 has no float16 form), and a node reading a constant that float16 cannot
//! hold without clamping (a finite magnitude above 1e4) stays float32.
//!
//! Tensor dtypes come from a small forward inference over the source graph (graph inputs,
//! initializers, and per-op output rules), so no shape inference is needed.

use crate::onnx::graph::{self, Names};
use crate::onnx::{self as ox, pb, tensor};
use crate::{Error, Result};
use std::collections::{HashMap, HashSet};

/// onnxconverter-common's DEFAULT_OP_BLOCK_LIST: ops left in float32 (ML ops, ops with index
/// or range semantics, and Resize/Upsample whose coordinate math needs float32).
pub const DEFAULT_KEEP_FP32: &[&str] = &[
    "ArrayFeatureExtractor",
    "Binarizer",
    "CastMap",
    "CategoryMapper",
    "DictVectorizer",
    "FeatureVectorizer",
    "Imputer",
    "LabelEncoder",
    "LinearClassifier",
    "LinearRegressor",
    "Normalizer",
    "OneHotEncoder",
    "RandomUniformLike",
    "SVMClassifier",
    "SVMRegressor",
    "Scaler",
    "TreeEnsembleClassifier",
    "TreeEnsembleRegressor",
    "ZipMap",
    "NonMaxSuppression",
    "TopK",
    "RoiAlign",
    "Resize",
    "Range",
    "CumSum",
    "Min",
    "Max",
    "Upsample",
];

/// Ops always kept in float32: their float inputs or outputs are tied to integer types or
/// attributes this converter does not rewrite.
const ALWAYS_FP32: &[&str] = &[
    "QuantizeLinear",
    "DequantizeLinear",
    "DynamicQuantizeLinear",
    "EyeLike",
    "RandomNormal",
    "RandomUniform",
    "RandomNormalLike",
    "Multinomial",
    "Bernoulli",
    "OneHot",
];

/// Options of [`convert`].
#[derive(Clone, Debug)]
pub struct Fp16Options {
    /// Keep float32 graph inputs and outputs (Casts inside the graph) instead of float16.
    pub keep_io_fp32: bool,
    /// Op types computed in float32.
    pub keep_fp32_ops: Vec<String>,
    /// Fold BatchNormalization and constant Mul/Add into the Conv before them first.
    pub fold_into_conv: bool,
}

impl Default for Fp16Options {
    fn default() -> Self {
        Fp16Options {
            keep_io_fp32: false,
            keep_fp32_ops: DEFAULT_KEEP_FP32.iter().map(|s| s.to_string()).collect(),
            fold_into_conv: true,
        }
    }
}

/// What the conversion did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fp16Report {
    pub converted_initializers: usize,
    pub clamped_values: usize,
    pub fp32_nodes: usize,
    pub casts: usize,
}

const F32: i32 = tensor::FLOAT;
const F16: i32 = tensor::FLOAT16;

/// Converts `model` (cloned) to float16.
pub fn convert(model: &pb::ModelProto, opts: &Fp16Options) -> Result<(pb::ModelProto, Fp16Report)> {
    let mut model = model.clone();
    let mut report = Fp16Report::default();
    let g = ox::graph_mut(&mut model)?;
    graph::hoist_constants(g);
    if opts.fold_into_conv {
        ox::fold::fold_into_conv(g)?;
    }
    graph::topo_sort(g)?;
    let dtypes = infer_dtypes(g)?;
    let too_large: HashSet<String> = g
        .initializer
        .iter()
        .filter(|t| t.data_type == F32)
        .filter(|t| {
            tensor::to_f32(t).is_ok_and(|v| v.iter().any(|x| x.is_finite() && x.abs() > MAX_FIN))
        })
        .map(|t| t.name.clone())
        .collect();
    let keep: HashSet<&str> = opts
        .keep_fp32_ops
        .iter()
        .map(String::as_str)
        .chain(ALWAYS_FP32.iter().copied())
        .collect();
    let blocked: Vec<bool> = g
        .node
        .iter()
        .map(|n| {
            (!n.domain.is_empty() && n.domain != "ai.onnx")
                || keep.contains(n.op_type.as_str())
                || n.attribute
                    .iter()
                    .any(|a| a.g.is_some() || !a.graphs.is_empty())
                || n.input.iter().any(|i| too_large.contains(i))
        })
        .collect();
    report.fp32_nodes = blocked.iter().filter(|&&b| b).count();
    let is_f32 = |name: &str| dtypes.get(name) == Some(&F32);

    // Where each float32 tensor lives after conversion ("home" precision).
    let mut home: HashMap<String, i32> = HashMap::new();
    let graph_inputs: HashSet<String> = g.input.iter().map(|i| i.name.clone()).collect();
    let io_type = if opts.keep_io_fp32 { F32 } else { F16 };
    for i in &g.input {
        if is_f32(&i.name) && graph::initializer(g, &i.name).is_none() {
            home.insert(i.name.clone(), io_type);
        }
    }
    for t in &g.initializer {
        if t.data_type == F32 && !graph_inputs.contains(&t.name) {
            home.insert(t.name.clone(), F32); // f16 copies are made on demand
        }
    }
    for (n, &b) in g.node.iter().zip(&blocked) {
        for o in n.output.iter().filter(|o| is_f32(o)) {
            home.insert(o.clone(), if b { F32 } else { F16 });
        }
    }

    let mut names = Names::of(g);
    let mut casts: HashMap<(String, i32), String> = HashMap::new();
    let mut half_inits: HashMap<String, String> = HashMap::new();
    let mut new_inits = Vec::new();
    let mut nodes = Vec::with_capacity(g.node.len());
    let old_nodes = std::mem::take(&mut g.node);
    for (mut n, b) in old_nodes.into_iter().zip(blocked) {
        let want = if b { F32 } else { F16 };
        for inp in n.input.iter_mut() {
            let Some(&h) = home.get(inp.as_str()) else {
                continue;
            };
            if h == want {
                continue;
            }
            let is_init = graph::initializer(g, inp).is_some_and(|t| t.data_type == F32);
            if is_init && want == F16 {
                let name = match half_inits.get(inp.as_str()) {
                    Some(n) => n.clone(),
                    None => {
                        let t = graph::initializer(g, inp).expect("checked");
                        let mut values = tensor::to_f32(t)?;
                        report.clamped_values += clamp_for_f16(&mut values);
                        let name = names.fresh(&format!("{inp}_fp16"));
                        new_inits.push(tensor::from_f32_as_f16(&name, &t.dims, &values));
                        report.converted_initializers += 1;
                        half_inits.insert(inp.clone(), name.clone());
                        name
                    }
                };
                *inp = name;
                continue;
            }
            let key = (inp.clone(), want);
            let name = match casts.get(&key) {
                Some(c) => c.clone(),
                None => {
                    let out = names.fresh(&format!(
                        "{inp}_{}",
                        if want == F16 { "fp16" } else { "fp32" }
                    ));
                    nodes.push(cast_node(
                        &names.fresh(&format!("{inp}_cast")),
                        inp,
                        &out,
                        want,
                    ));
                    report.casts += 1;
                    casts.insert(key, out.clone());
                    out
                }
            };
            *inp = name;
        }
        if !b {
            retarget_float_attrs(&mut n)?;
        }
        nodes.push(n);
    }
    // Graph outputs: produced at their home precision, declared at io_type.
    let mut tail = Vec::new();
    for o in g.output.iter_mut() {
        let Some(&h) = home.get(&o.name) else {
            continue;
        };
        if h != io_type {
            let inner = names.fresh(&format!(
                "{}_{}",
                o.name,
                if h == F16 { "fp16" } else { "fp32" }
            ));
            for n in nodes.iter_mut() {
                for x in n.output.iter_mut().filter(|x| **x == o.name) {
                    *x = inner.clone();
                }
                for x in n.input.iter_mut().filter(|x| **x == o.name) {
                    *x = inner.clone();
                }
            }
            tail.push(cast_node(
                &names.fresh(&format!("{}_cast", o.name)),
                &inner,
                &o.name,
                io_type,
            ));
            report.casts += 1;
        }
        set_elem_type(o, io_type);
    }
    for i in g.input.iter_mut() {
        if home.get(&i.name) == Some(&F16) {
            set_elem_type(i, F16);
        }
    }
    nodes.extend(tail);
    g.node = nodes;
    g.initializer.extend(new_inits);
    // value_info entries describe float32 tensors that may now be float16: drop them rather
    // than leave stale types.
    g.value_info.clear();
    ox::fold::remove_unused_initializers(g);
    graph::topo_sort(g)?;
    Ok((model, report))
}

fn cast_node(name: &str, input: &str, output: &str, to: i32) -> pb::NodeProto {
    graph::node(
        "Cast",
        name,
        &[input],
        &[output],
        vec![graph::int_attr("to", to as i64)],
    )
}

fn set_elem_type(vi: &mut pb::ValueInfoProto, elem: i32) {
    if let Some(pb::type_proto::Value::TensorType(t)) =
        vi.r#type.as_mut().and_then(|t| t.value.as_mut())
    {
        if t.elem_type == F32 {
            t.elem_type = elem;
        }
    }
}

/// Cast-to-float and ConstantOfShape-of-float in a converted node produce float16 instead.
fn retarget_float_attrs(n: &mut pb::NodeProto) -> Result<()> {
    match n.op_type.as_str() {
        "Cast" if graph::attr_i(n, "to", 0) == F32 as i64 => {
            graph::set_attr(n, graph::int_attr("to", F16 as i64));
        }
        "ConstantOfShape" => {
            let value = graph::attr(n, "value").and_then(|a| a.t.clone());
            match value {
                Some(t) if t.data_type == F32 => {
                    let v = tensor::to_f32(&t)?;
                    let mut a = graph::attr(n, "value").expect("present").clone();
                    a.t = Some(tensor::from_f32_as_f16(&t.name, &t.dims, &v));
                    graph::set_attr(n, a);
                }
                None => {
                    // The default value is a float32 zero.
                    let mut a = graph::int_attr("value", 0);
                    a.r#type = pb::attribute_proto::AttributeType::Tensor as i32;
                    a.i = 0;
                    a.t = Some(tensor::from_f32_as_f16("value", &[1], &[0.0]));
                    graph::set_attr(n, a);
                }
                _ => {}
            }
        }
        _ => {}
    }
    Ok(())
}

/// onnxconverter-common's `convert_np_to_float16` clamping; returns how many values changed.
/// onnxconverter-common's clamping bounds.
const MIN_POS: f32 = 1e-7;
const MAX_FIN: f32 = 1e4;

fn clamp_for_f16(values: &mut [f32]) -> usize {
    let mut changed = 0;
    for v in values.iter_mut() {
        let a = v.abs();
        let c = if a > 0.0 && a < MIN_POS {
            MIN_POS.copysign(*v)
        } else if a.is_finite() && a > MAX_FIN {
            MAX_FIN.copysign(*v)
        } else {
            *v
        };
        if c != *v {
            changed += 1;
            *v = c;
        }
    }
    changed
}

/// The element type of every tensor of the main graph, by forward rules.
fn infer_dtypes(g: &pb::GraphProto) -> Result<HashMap<String, i32>> {
    use pb::type_proto::Value;
    let mut d: HashMap<String, i32> = HashMap::new();
    for vi in &g.input {
        if let Some(Value::TensorType(t)) = vi.r#type.as_ref().and_then(|t| t.value.as_ref()) {
            d.insert(vi.name.clone(), t.elem_type);
        }
    }
    for t in &g.initializer {
        d.insert(t.name.clone(), t.data_type);
    }
    const BOOL: i32 = 9;
    for n in &g.node {
        let input = |k: usize| n.input.get(k).and_then(|i| d.get(i)).copied();
        let first = input(0);
        let outs: Vec<Option<i32>> = match n.op_type.as_str() {
            _ if !n.domain.is_empty() && n.domain != "ai.onnx" => vec![None; n.output.len()],
            "Shape" | "Size" | "NonZero" | "ArgMax" | "ArgMin" => vec![Some(tensor::INT64)],
            "Equal" | "Less" | "LessOrEqual" | "Greater" | "GreaterOrEqual" | "Not" | "And"
            | "Or" | "Xor" | "IsNaN" | "IsInf" => vec![Some(BOOL)],
            "Cast" => vec![Some(graph::attr_i(n, "to", 0) as i32)],
            "CastLike" => vec![input(1)],
            "ConstantOfShape" => vec![Some(
                graph::attr(n, "value")
                    .and_then(|a| a.t.as_ref())
                    .map_or(F32, |t| t.data_type),
            )],
            "Constant" => vec![graph::attr(n, "value")
                .and_then(|a| a.t.as_ref())
                .map(|t| t.data_type)],
            "Where" => vec![input(1)],
            "TopK" => vec![first, Some(tensor::INT64)],
            "MaxPool" => vec![first, Some(tensor::INT64)],
            "Unique" => vec![
                first,
                Some(tensor::INT64),
                Some(tensor::INT64),
                Some(tensor::INT64),
            ],
            "DequantizeLinear" => vec![input(1)],
            "QuantizeLinear" => vec![input(2).or(Some(tensor::UINT8))],
            "DynamicQuantizeLinear" => vec![Some(tensor::UINT8), Some(F32), Some(tensor::UINT8)],
            "MatMulInteger" | "ConvInteger" => vec![Some(tensor::INT32)],
            "QLinearConv" | "QLinearMatMul" => vec![input(7)],
            "OneHot" => vec![input(2)],
            "EyeLike" | "RandomNormalLike" | "RandomUniformLike" => {
                vec![Some(graph::attr_i(n, "dtype", 0) as i32)
                    .filter(|&t| t != 0)
                    .or(first)]
            }
            "RandomNormal" | "RandomUniform" => {
                vec![Some(graph::attr_i(n, "dtype", F32 as i64) as i32)]
            }
            "Multinomial" => vec![Some(graph::attr_i(n, "dtype", 6) as i32)],
            _ => vec![first; n.output.len()],
        };
        for (k, o) in n.output.iter().enumerate() {
            if let Some(Some(t)) = outs.get(k).or(outs.last()) {
                d.insert(o.clone(), *t);
            }
        }
    }
    if d.is_empty() && !g.node.is_empty() {
        return Err(Error::Onnx("no tensor types could be inferred".into()));
    }
    Ok(d)
}
