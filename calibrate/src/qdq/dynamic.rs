//! Dynamic quantization, as onnxruntime's `quantize_dynamic` writes it for MatMul: the weight
//! is stored as int8, the activation is quantized at run time by `DynamicQuantizeLinear`
//! (uint8, its own range on every run), `MatMulInteger` multiplies, and the int32 result is
//! cast to float and scaled by `input_scale * weight_scale`. No calibration data is needed.
//!
//! Gemm nodes with `alpha == 1` and `transA == 0` are written the same way (the weight
//! transposed when `transB`), their bias added in float after the scaling.

use super::params::{self, QType};
use crate::onnx::graph::{self, Names};
use crate::onnx::{self as ox, pb, tensor};
use crate::Result;

/// Options of [`quantize_dynamic`].
#[derive(Clone, Debug)]
pub struct DynamicOptions {
    /// One weight scale per output column (true) or one per weight.
    pub per_channel: bool,
    /// Op types to quantize: "MatMul" and/or "Gemm".
    pub op_types: Vec<String>,
}

impl Default for DynamicOptions {
    fn default() -> Self {
        DynamicOptions {
            per_channel: true,
            op_types: vec!["MatMul".into(), "Gemm".into()],
        }
    }
}

/// Rewrites every MatMul/Gemm with a 2-D float initializer weight; returns the model and how
/// many nodes were rewritten. The opset is raised to 11 (DynamicQuantizeLinear) if lower.
pub fn quantize_dynamic(
    model: &pb::ModelProto,
    opts: &DynamicOptions,
) -> Result<(pb::ModelProto, usize)> {
    let mut model = model.clone();
    ox::graph::hoist_constants(ox::graph_mut(&mut model)?);
    ox::upgrade::upgrade(&mut model, 11)?;
    let g = ox::graph_mut(&mut model)?;
    let mut names = Names::of(g);
    let mut out = Vec::with_capacity(g.node.len());
    let mut count = 0;
    for n in std::mem::take(&mut g.node) {
        match rewrite(g, &n, opts, &mut names)? {
            Some(nodes) => {
                out.extend(nodes);
                count += 1;
            }
            None => out.push(n),
        }
    }
    g.node = out;
    ox::fold::remove_unused_initializers(g);
    ox::graph::topo_sort(g)?;
    Ok((model, count))
}

/// The weight as [K, N] row-major f32, if `n` is a rewritable MatMul/Gemm.
fn weight_kn(
    g: &pb::GraphProto,
    n: &pb::NodeProto,
    opts: &DynamicOptions,
) -> Result<Option<(Vec<f32>, usize, usize)>> {
    if !n.domain.is_empty()
        || !opts.op_types.iter().any(|t| *t == n.op_type)
        || n.input.len() < 2
        || n.output.is_empty()
    {
        return Ok(None);
    }
    let is_gemm = match n.op_type.as_str() {
        "MatMul" => false,
        "Gemm" => {
            if graph::attr_f(n, "alpha", 1.0) != 1.0 || graph::attr_i(n, "transA", 0) != 0 {
                return Ok(None);
            }
            true
        }
        _ => return Ok(None),
    };
    let Some(w) = graph::initializer(g, &n.input[1]) else {
        return Ok(None);
    };
    if w.data_type != tensor::FLOAT || w.dims.len() != 2 {
        return Ok(None);
    }
    let data = tensor::to_f32(w)?;
    let (r, c) = (w.dims[0] as usize, w.dims[1] as usize);
    if is_gemm && graph::attr_i(n, "transB", 0) != 0 {
        // Stored [N, K]: transpose to [K, N].
        let mut t = vec![0f32; data.len()];
        for i in 0..r {
            for j in 0..c {
                t[j * r + i] = data[i * c + j];
            }
        }
        return Ok(Some((t, c, r)));
    }
    Ok(Some((data, r, c)))
}

fn rewrite(
    g: &mut pb::GraphProto,
    n: &pb::NodeProto,
    opts: &DynamicOptions,
    names: &mut Names,
) -> Result<Option<Vec<pb::NodeProto>>> {
    let Some((w, k, cols)) = weight_kn(g, n, opts)? else {
        return Ok(None);
    };
    let groups = if opts.per_channel { cols } else { 1 };
    let mut ps = Vec::with_capacity(groups);
    for c in 0..groups {
        let (lo, hi) = if opts.per_channel {
            (0..k)
                .map(|r| w[r * cols + c])
                .fold((0f32, 0f32), |(l, h), v| (l.min(v), h.max(v)))
        } else {
            params::min_max(&w)
        };
        ps.push(params::compute(lo, hi, QType::S8, true));
    }
    let q: Vec<i8> = w
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            params::quantize(
                v,
                ps[if opts.per_channel { i % cols } else { 0 }],
                -127,
                127,
            ) as i8
        })
        .collect();
    let b = &n.input[1];
    let out = &n.output[0];
    let base = if n.name.is_empty() {
        out.clone()
    } else {
        n.name.clone()
    };
    let fresh = |names: &mut Names, s: &str| names.fresh(s);
    let b_q = fresh(names, &format!("{b}_quantized"));
    let b_scale = fresh(names, &format!("{b}_scale"));
    let b_zp = fresh(names, &format!("{b}_zero_point"));
    let sdims: Vec<i64> = if opts.per_channel {
        vec![cols as i64]
    } else {
        vec![]
    };
    g.initializer
        .push(tensor::from_i8(&b_q, &[k as i64, cols as i64], &q));
    g.initializer.push(tensor::from_f32(
        &b_scale,
        &sdims,
        &ps.iter().map(|p| p.scale).collect::<Vec<_>>(),
    ));
    g.initializer
        .push(tensor::from_i8(&b_zp, &sdims, &vec![0; groups]));
    let a = &n.input[0];
    let a_q = fresh(names, &format!("{a}_quantized"));
    let a_scale = fresh(names, &format!("{a}_scale"));
    let a_zp = fresh(names, &format!("{a}_zero_point"));
    let mm = fresh(names, &format!("{out}_MatMulInteger_output"));
    let cast = fresh(names, &format!("{out}_cast_output"));
    let scales = fresh(names, &format!("{base}_scales_mul"));
    let bias = n.input.get(2).filter(|s| !s.is_empty());
    let scaled = if bias.is_some() {
        fresh(names, &format!("{out}_scaled"))
    } else {
        out.clone()
    };
    let mut nodes = vec![
        graph::node(
            "DynamicQuantizeLinear",
            &fresh(names, &format!("{a}_DynamicQuantizeLinear")),
            &[a],
            &[&a_q, &a_scale, &a_zp],
            vec![],
        ),
        graph::node(
            "MatMulInteger",
            &fresh(names, &format!("{base}_MatMulInteger")),
            &[&a_q, &b_q, &a_zp, &b_zp],
            &[&mm],
            vec![],
        ),
        graph::node(
            "Cast",
            &fresh(names, &format!("{base}_cast")),
            &[&mm],
            &[&cast],
            vec![graph::int_attr("to", tensor::FLOAT as i64)],
        ),
        graph::node(
            "Mul",
            &fresh(names, &format!("{base}_scales_mul_node")),
            &[&a_scale, &b_scale],
            &[&scales],
            vec![],
        ),
        graph::node(
            "Mul",
            &fresh(names, &format!("{base}_output_scale_mul")),
            &[&cast, &scales],
            &[&scaled],
            vec![],
        ),
    ];
    if let Some(c) = bias {
        let beta = graph::attr_f(n, "beta", 1.0);
        let c_in = if beta != 1.0 {
            let beta_name = fresh(names, &format!("{base}_beta"));
            g.initializer
                .push(tensor::from_f32(&beta_name, &[], &[beta]));
            let scaled_c = fresh(names, &format!("{c}_times_beta"));
            nodes.push(graph::node(
                "Mul",
                &fresh(names, &format!("{base}_beta_mul")),
                &[c, &beta_name],
                &[&scaled_c],
                vec![],
            ));
            scaled_c
        } else {
            c.clone()
        };
        nodes.push(graph::node(
            "Add",
            &fresh(names, &format!("{base}_bias_add")),
            &[&scaled, &c_in],
            &[out],
            vec![],
        ));
    }
    Ok(Some(nodes))
}
