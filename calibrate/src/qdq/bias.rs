//! Empirical bias correction (Nagel et al. 2019, section 4.2): quantizing the weights of a
//! linear layer shifts the mean of its output, `E[Wq·x] - E[W·x] = (Wq - W)·E[x]` per output
//! channel, and the shift is removed by subtracting it from the layer's bias.
//!
//! Because the error is linear in `x`, only the mean of what each weight multiplies is needed:
//! for a Conv, the mean over samples and output positions of the input value under each kernel
//! tap (zero padding counted as zero), one number per (input channel, tap); for Gemm and
//! MatMul, the mean of each input feature. These means are accumulated sample by sample in
//! f64 in a fixed order, so memory does not depend on the number of samples and the result is
//! deterministic. The inputs are the float model's activations, and `Wq` is exactly what the
//! QDQ writer will store ([`super::write::fake_quantize`] with the writer's axis and type).
//!
//! Layers corrected: Conv (1-D and 2-D, any groups, strides, dilations, pads, auto_pad), Gemm
//! with a bias of one value per output (or none: one is added), and MatMul by a 2-D constant
//! followed by an Add of a per-output constant (the exporters' bias). Others are left alone.

use super::write::fake_quantize;
use super::{QType, QdqOptions};
use crate::onnx::graph::{self, Names};
use crate::onnx::{self, pb, tensor};
use crate::{Error, Result};
use mote::Tensor;
use std::collections::HashMap;

/// How one layer's input is reduced to the means its weights multiply.
#[derive(Clone, Debug)]
enum Kind {
    Conv {
        groups: usize,
        /// Kernel extent per spatial axis (1 or 2 axes).
        kernel: Vec<usize>,
        strides: Vec<usize>,
        dilations: Vec<usize>,
        /// Explicit pads (begin..., end...), or the auto_pad mode.
        pads: Pads,
        in_channels: usize,
    },
    Gemm {
        trans_a: bool,
        k: usize,
    },
    MatMul {
        k: usize,
        /// The Add node holding the bias, and which of its inputs the bias is.
        add: usize,
        bias_input: usize,
    },
}

#[derive(Clone, Debug)]
enum Pads {
    Explicit(Vec<usize>),
    SameUpper,
    SameLower,
}

#[derive(Clone, Debug)]
struct Layer {
    node: usize,
    kind: Kind,
    /// Sum of the input under each weight position (Conv: per (channel, tap); else per input
    /// feature), over every output position seen.
    sums: Vec<f64>,
    /// Output positions seen.
    count: u64,
}

/// What [`BiasCorrection::apply`] did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BiasReport {
    /// Layers whose bias was corrected (or added).
    pub corrected: usize,
    /// The largest correction relative to the layer's largest |bias| (0 when no bias).
    pub max_shift: f32,
}

/// The statistics bias correction needs, gathered while calibrating: create it with
/// [`BiasCorrection::plan`] on the float model that will be quantized, feed it every float
/// activation with [`BiasCorrection::observe`], then [`BiasCorrection::apply`].
#[derive(Clone, Debug)]
pub struct BiasCorrection {
    layers: Vec<Layer>,
    /// Input tensor name -> layers reading it.
    by_input: HashMap<String, Vec<usize>>,
}

fn ints(n: &pb::NodeProto, name: &str, len: usize, default: usize) -> Option<Vec<usize>> {
    match graph::attr_ints(n, name) {
        Some(v) if v.len() == len && v.iter().all(|&x| x >= 0) => {
            Some(v.iter().map(|&x| x as usize).collect())
        }
        Some(_) => None,
        None => Some(vec![default; len]),
    }
}

/// A float initializer's dims and values.
fn float_init(g: &pb::GraphProto, name: &str) -> Option<(Vec<i64>, Vec<f32>)> {
    let t = graph::initializer(g, name).filter(|t| t.data_type == tensor::FLOAT)?;
    Some((t.dims.clone(), tensor::to_f32(t).ok()?))
}

fn conv_kind(g: &pb::GraphProto, n: &pb::NodeProto) -> Option<Kind> {
    let (dims, _) = float_init(g, n.input.get(1)?)?;
    if !(3..=4).contains(&dims.len()) || dims.iter().any(|&d| d <= 0) {
        return None;
    }
    if let Some(b) = n.input.get(2).filter(|b| !b.is_empty()) {
        let (_, b) = float_init(g, b)?;
        if b.len() != dims[0] as usize {
            return None;
        }
    }
    let groups = graph::attr_i(n, "group", 1);
    if groups < 1 || dims[0] % groups != 0 {
        return None;
    }
    let spatial = dims.len() - 2;
    let kernel: Vec<usize> = dims[2..].iter().map(|&d| d as usize).collect();
    if let Some(ks) = graph::attr_ints(n, "kernel_shape") {
        if ks.iter().map(|&d| d as usize).collect::<Vec<_>>() != kernel {
            return None;
        }
    }
    let auto_pad = graph::attr(n, "auto_pad")
        .map(|a| String::from_utf8_lossy(&a.s).into_owned())
        .unwrap_or_default();
    let pads = match auto_pad.as_str() {
        "" | "NOTSET" => Pads::Explicit(ints(n, "pads", 2 * spatial, 0)?),
        "VALID" => Pads::Explicit(vec![0; 2 * spatial]),
        "SAME_UPPER" => Pads::SameUpper,
        "SAME_LOWER" => Pads::SameLower,
        _ => return None,
    };
    Some(Kind::Conv {
        groups: groups as usize,
        in_channels: dims[1] as usize * groups as usize,
        strides: ints(n, "strides", spatial, 1)?,
        dilations: ints(n, "dilations", spatial, 1)?,
        kernel,
        pads,
    })
}

fn gemm_kind(g: &pb::GraphProto, n: &pb::NodeProto) -> Option<Kind> {
    let (dims, _) = float_init(g, n.input.get(1)?)?;
    if dims.len() != 2 || graph::attr_f(n, "beta", 1.0) == 0.0 {
        return None;
    }
    let trans_b = graph::attr_i(n, "transB", 0) != 0;
    let (k, outputs) = if trans_b {
        (dims[1], dims[0])
    } else {
        (dims[0], dims[1])
    };
    if let Some(c) = n.input.get(2).filter(|c| !c.is_empty()) {
        let (cd, _) = float_init(g, c)?;
        // One value per output column only ([N] or [1, N]).
        if cd.last() != Some(&outputs) || cd.iter().rev().skip(1).any(|&d| d != 1) {
            return None;
        }
    }
    Some(Kind::Gemm {
        trans_a: graph::attr_i(n, "transA", 0) != 0,
        k: k as usize,
    })
}

fn matmul_kind(
    g: &pb::GraphProto,
    n: &pb::NodeProto,
    consumers: &HashMap<String, Vec<usize>>,
) -> Option<Kind> {
    let (dims, _) = float_init(g, n.input.get(1)?)?;
    if dims.len() != 2 || graph::initializer(g, &n.input[0]).is_some() {
        return None;
    }
    let out = n.output.first()?;
    let readers = consumers.get(out)?;
    if readers.len() != 1 || graph::is_graph_output(g, out) {
        return None;
    }
    let add = readers[0];
    let a = &g.node[add];
    if a.op_type != "Add" || !a.domain.is_empty() || a.input.len() != 2 {
        return None;
    }
    let bias_input = if a.input[0] == *out { 1 } else { 0 };
    if a.input[1 - bias_input] != *out {
        return None;
    }
    let (cd, _) = float_init(g, &a.input[bias_input])?;
    if cd.last() != Some(&dims[1]) || cd.iter().rev().skip(1).any(|&d| d != 1) {
        return None;
    }
    Some(Kind::MatMul {
        k: dims[0] as usize,
        add,
        bias_input,
    })
}

impl BiasCorrection {
    /// The layers of `model` (a float model, BatchNorm already folded: what
    /// [`super::quantize_static`] will see) whose bias can be corrected under `opts`.
    pub fn plan(model: &pb::ModelProto, opts: &QdqOptions) -> Result<BiasCorrection> {
        let g = onnx::graph_of(model)?;
        let consumers = graph::consumers(g);
        let mut layers = Vec::new();
        let mut by_input: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, n) in g.node.iter().enumerate() {
            if !n.domain.is_empty()
                || n.input.is_empty()
                || n.output.is_empty()
                || !opts.op_types.iter().any(|o| *o == n.op_type)
            {
                continue;
            }
            let kind = match n.op_type.as_str() {
                "Conv" => conv_kind(g, n),
                "Gemm" => gemm_kind(g, n),
                "MatMul" => matmul_kind(g, n, &consumers),
                _ => None,
            };
            let Some(kind) = kind else { continue };
            let len = match &kind {
                Kind::Conv {
                    kernel,
                    in_channels,
                    ..
                } => in_channels * kernel.iter().product::<usize>(),
                Kind::Gemm { k, .. } | Kind::MatMul { k, .. } => *k,
            };
            by_input
                .entry(n.input[0].clone())
                .or_default()
                .push(layers.len());
            layers.push(Layer {
                node: i,
                kind,
                sums: vec![0.0; len],
                count: 0,
            });
        }
        Ok(BiasCorrection { layers, by_input })
    }

    /// Layers that will be corrected.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether no layer can be corrected.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// Accumulates one float activation (ignored unless a planned layer reads it).
    pub fn observe(&mut self, name: &str, t: &Tensor) -> Result<()> {
        let Some(ids) = self.by_input.get(name) else {
            return Ok(());
        };
        let x = t.as_slice::<f32>()?;
        let shape = t.shape();
        for &id in ids {
            let layer = &mut self.layers[id];
            let bad = || {
                Error::Data(format!(
                    "bias correction: input '{name}' has shape {shape:?}, which does not fit \
                     the layer reading it"
                ))
            };
            match &layer.kind {
                Kind::Conv { .. } => accumulate_conv(layer, x, shape).ok_or_else(bad)?,
                Kind::Gemm { trans_a, k } => {
                    let (k, trans_a) = (*k, *trans_a);
                    if shape.len() != 2
                        || (if trans_a { shape[0] } else { shape[1] }) != k
                        || x.len() != shape[0] * shape[1]
                    {
                        return Err(bad());
                    }
                    let rows = x.len() / k.max(1);
                    for r in 0..rows {
                        for j in 0..k {
                            let v = if trans_a {
                                x[j * rows + r]
                            } else {
                                x[r * k + j]
                            };
                            layer.sums[j] += v as f64;
                        }
                    }
                    layer.count += rows as u64;
                }
                Kind::MatMul { k, .. } => {
                    let k = *k;
                    if shape.last() != Some(&k) {
                        return Err(bad());
                    }
                    for row in x.chunks_exact(k.max(1)) {
                        for (s, &v) in layer.sums.iter_mut().zip(row) {
                            *s += v as f64;
                        }
                    }
                    layer.count += (x.len() / k.max(1)) as u64;
                }
            }
        }
        Ok(())
    }

    /// `model` (the one given to [`BiasCorrection::plan`]) with each planned layer's bias
    /// minus its expected output error, `(Wq - W)·E[x]`, with `Wq` as the writer quantizes
    /// under `opts`. Layers never observed are left alone.
    pub fn apply(
        &self,
        model: &pb::ModelProto,
        opts: &QdqOptions,
    ) -> Result<(pb::ModelProto, BiasReport)> {
        let mut model = model.clone();
        let g = onnx::graph_mut(&mut model)?;
        let mut names = Names::of(g);
        let mut report = BiasReport::default();
        for layer in &self.layers {
            if layer.count == 0 {
                continue;
            }
            let n = g.node.get(layer.node).cloned().ok_or_else(|| {
                Error::Onnx("bias correction: the model is not the one planned".into())
            })?;
            let (dims, w) = float_init(g, &n.input[1]).ok_or_else(|| {
                Error::Onnx("bias correction: the model is not the one planned".into())
            })?;
            let mean: Vec<f64> = layer.sums.iter().map(|s| s / layer.count as f64).collect();
            let (axis, outputs) = match &layer.kind {
                Kind::Conv { .. } => (0, dims[0] as usize),
                Kind::Gemm { .. } => {
                    let trans_b = graph::attr_i(&n, "transB", 0) != 0;
                    if trans_b {
                        (0, dims[0] as usize)
                    } else {
                        (1, dims[1] as usize)
                    }
                }
                Kind::MatMul { .. } => (1, dims[1] as usize),
            };
            let axis = opts.per_channel.then_some(axis as i64);
            let wq = fake_quantize(&w, &dims, axis, QType::S8, true);
            let dw: Vec<f64> = wq
                .iter()
                .zip(&w)
                .map(|(a, b)| *a as f64 - *b as f64)
                .collect();
            let mut err = vec![0f64; outputs];
            match &layer.kind {
                Kind::Conv { groups, .. } => {
                    // dw: [O, I/g, taps]; mean: [I, taps].
                    let per = dw.len() / outputs;
                    let per_group_out = outputs / groups;
                    for (o, e) in err.iter_mut().enumerate() {
                        let base = (o / per_group_out) * per;
                        *e = dw[o * per..(o + 1) * per]
                            .iter()
                            .zip(&mean[base..base + per])
                            .map(|(a, b)| a * b)
                            .sum();
                    }
                }
                Kind::Gemm { k, .. } => {
                    let trans_b = graph::attr_i(&n, "transB", 0) != 0;
                    let alpha = graph::attr_f(&n, "alpha", 1.0) as f64;
                    let beta = graph::attr_f(&n, "beta", 1.0) as f64;
                    for (o, e) in err.iter_mut().enumerate() {
                        let s: f64 = (0..*k)
                            .map(|j| {
                                let d = if trans_b {
                                    dw[o * k + j]
                                } else {
                                    dw[j * outputs + o]
                                };
                                d * mean[j]
                            })
                            .sum();
                        // Y = alpha·A·B + beta·C: C moves by err / beta.
                        *e = alpha * s / beta;
                    }
                }
                Kind::MatMul { k, .. } => {
                    for (o, e) in err.iter_mut().enumerate() {
                        *e = (0..*k).map(|j| dw[j * outputs + o] * mean[j]).sum();
                    }
                }
            }
            // The node and input slot holding the bias, and its current values.
            let (node, slot) = match &layer.kind {
                Kind::MatMul {
                    add, bias_input, ..
                } => (*add, *bias_input),
                _ => (layer.node, 2),
            };
            let current = g.node[node]
                .input
                .get(slot)
                .filter(|b| !b.is_empty())
                .cloned();
            let (bdims, mut b) = match &current {
                Some(name) => float_init(g, name).ok_or_else(|| {
                    Error::Onnx("bias correction: the model is not the one planned".into())
                })?,
                None => (vec![outputs as i64], vec![0.0; outputs]),
            };
            let largest = b.iter().fold(0f32, |m, v| m.max(v.abs()));
            let mut shift = 0f32;
            for (v, e) in b.iter_mut().zip(&err) {
                *v = (*v as f64 - e) as f32;
                shift = shift.max(e.abs() as f32);
            }
            if largest > 0.0 {
                report.max_shift = report.max_shift.max(shift / largest);
            }
            let wanted = current.unwrap_or_else(|| format!("{}_bias", n.output[0]));
            let name = names.fresh(&format!("{wanted}_corrected"));
            g.initializer.push(tensor::from_f32(&name, &bdims, &b));
            let inputs = &mut g.node[node].input;
            while inputs.len() <= slot {
                inputs.push(String::new());
            }
            inputs[slot] = name;
            report.corrected += 1;
        }
        onnx::fold::remove_unused_initializers(g);
        Ok((model, report))
    }
}

/// Adds one Conv input `x` (`[N, C, spatial...]`) to the per-(channel, tap) sums.
fn accumulate_conv(layer: &mut Layer, x: &[f32], shape: &[usize]) -> Option<()> {
    let Kind::Conv {
        kernel,
        strides,
        dilations,
        pads,
        in_channels,
        ..
    } = &layer.kind
    else {
        return None;
    };
    let spatial = kernel.len();
    if shape.len() != spatial + 2
        || shape[1] != *in_channels
        || x.len() != shape.iter().product::<usize>()
    {
        return None;
    }
    // Treat 1-D as 2-D with a height of 1.
    let (h, w) = if spatial == 1 {
        (1, shape[2])
    } else {
        (shape[2], shape[3])
    };
    let two = |v: &[usize], one: usize| -> [usize; 2] {
        if spatial == 1 {
            [one, v[0]]
        } else {
            [v[0], v[1]]
        }
    };
    let [kh, kw] = two(kernel, 1);
    let [sh, sw] = two(strides, 1);
    let [dh, dw] = two(dilations, 1);
    let size = [h, w];
    let (kk, ss, dd) = ([kh, kw], [sh, sw], [dh, dw]);
    // Per axis: (pad_begin, output size).
    let mut geo = [(0usize, 0usize); 2];
    for a in 0..2 {
        if ss[a] == 0 || dd[a] == 0 {
            return None;
        }
        let extent = dd[a] * (kk[a] - 1) + 1;
        let (begin, end) = match pads {
            Pads::Explicit(p) => {
                if spatial == 1 {
                    if a == 0 {
                        (0, 0)
                    } else {
                        (p[0], p[1])
                    }
                } else {
                    (p[a], p[a + 2])
                }
            }
            Pads::SameUpper | Pads::SameLower => {
                if spatial == 1 && a == 0 {
                    (0, 0)
                } else {
                    let out = size[a].div_ceil(ss[a]);
                    let total = ((out - 1) * ss[a] + extent).saturating_sub(size[a]);
                    let small = total / 2;
                    if matches!(pads, Pads::SameUpper) {
                        (small, total - small)
                    } else {
                        (total - small, small)
                    }
                }
            }
        };
        let padded = size[a] + begin + end;
        if padded < extent {
            return None;
        }
        geo[a] = (begin, (padded - extent) / ss[a] + 1);
    }
    let [(ph, oh), (pw, ow)] = geo;
    // The output positions where tap offset `t` lands inside the input along one axis.
    let valid = |t: usize, pad: usize, stride: usize, out: usize, len: usize| {
        // Position o reads o·stride + t − pad; keep 0 ≤ that < len.
        let lo = if t >= pad {
            0
        } else {
            (pad - t).div_ceil(stride)
        };
        let hi = if len + pad > t {
            ((len + pad - t - 1) / stride + 1).min(out)
        } else {
            0
        };
        (lo, hi.max(lo))
    };
    let batch = shape[0];
    let plane = h * w;
    let taps = kh * kw;
    for n in 0..batch {
        for c in 0..*in_channels {
            let xc = &x[(n * in_channels + c) * plane..(n * in_channels + c + 1) * plane];
            for i in 0..kh {
                let (ylo, yhi) = valid(i * dh, ph, sh, oh, h);
                for j in 0..kw {
                    let (xlo, xhi) = valid(j * dw, pw, sw, ow, w);
                    let mut s = 0f64;
                    for oy in ylo..yhi {
                        let row = &xc[(oy * sh + i * dh - ph) * w..];
                        for ox in xlo..xhi {
                            s += row[ox * sw + j * dw - pw] as f64;
                        }
                    }
                    layer.sums[c * taps + i * kw + j] += s;
                }
            }
        }
    }
    layer.count += (batch * oh * ow) as u64;
    Some(())
}
