//! Cross-layer equalization (Nagel et al. 2019, "Data-Free Quantization Through Weight
//! Equalization and Bias Correction", section 4.1).
//!
//! For two convolutions in a row, `y = W2 · f(W1 · x + b1) + b2`, where `f` is applied per
//! channel and is positively homogeneous (`f(x / s) = f(x) / s` for `s > 0`: Relu, LeakyRelu,
//! identity, max pooling), dividing output channel `i` of the first layer (its weights and
//! bias) by `s_i` and multiplying the weights that read channel `i` in the second layer by
//! `s_i` leaves `y` unchanged. Choosing `s_i = sqrt(r1_i / r2_i)`, where `r1_i` is the largest
//! |weight| of output channel `i` of the first layer and `r2_i` the largest |weight| reading
//! input channel `i` in the second, makes both ranges `sqrt(r1_i · r2_i)`: channels with tiny
//! weights next to channels with huge ones (typical of depthwise convolutions after BatchNorm
//! folding) no longer waste a per-tensor quantization grid. Chains of layers are equalized by
//! sweeping over all pairs until the scales settle.
//!
//! `Clip` with a finite upper bound (Relu6) is *not* positively homogeneous
//! (`min(x / s, 6) != min(x, 6) / s`), so pairs joined by it are left alone rather than
//! changing what the float model computes (AIMET replaces Relu6 by Relu first, which changes
//! the model; this pass never does). Neither are HardSwish, Sigmoid and other non-homogeneous
//! activations, nor pairs whose intermediate tensors have other readers or are graph outputs.

use super::graph::{self, Names};
use super::{pb, tensor};
use crate::Result;
use std::collections::BTreeMap;

/// A sweep stops the iteration when no scale moved further than this from 1.
const SETTLED: f32 = 1e-4;
/// At most this many sweeps over all pairs.
const MAX_SWEEPS: usize = 32;

/// What [`equalize`] did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EqualizeReport {
    /// Conv pairs equalized.
    pub pairs: usize,
    /// Sweeps run over all pairs.
    pub sweeps: usize,
}

/// One pair: node indices of the two convolutions.
#[derive(Clone, Copy, Debug)]
struct Pair {
    first: usize,
    second: usize,
}

/// Equalizes every eligible Conv pair of `g` in place (its float weights change, what it
/// computes does not, up to rounding). Run it after BatchNormalization folding.
pub fn equalize(g: &mut pb::GraphProto) -> Result<EqualizeReport> {
    let pairs = find_pairs(g)?;
    let mut report = EqualizeReport {
        pairs: pairs.len(),
        sweeps: 0,
    };
    if pairs.is_empty() {
        return Ok(report);
    }
    // Work on copies of the weights and biases, keyed by node (ordered, so that the names and
    // order of the new initializers do not vary between runs), written back once at the end
    // under fresh names (an initializer may be shared with nodes this pass does not touch).
    let mut weights: BTreeMap<usize, (Vec<i64>, Vec<f32>)> = BTreeMap::new();
    let mut biases: BTreeMap<usize, Vec<f32>> = BTreeMap::new();
    for p in &pairs {
        for &n in &[p.first, p.second] {
            if weights.contains_key(&n) {
                continue;
            }
            let node = &g.node[n];
            let w = graph::initializer(g, &node.input[1]).expect("checked by find_pairs");
            weights.insert(n, (w.dims.clone(), tensor::to_f32(w)?));
            if let Some(b) = node.input.get(2).filter(|b| !b.is_empty()) {
                let b = graph::initializer(g, b).expect("checked by find_pairs");
                biases.insert(n, tensor::to_f32(b)?);
            }
        }
    }
    for _ in 0..MAX_SWEEPS {
        report.sweeps += 1;
        let mut moved = 0f32;
        for p in &pairs {
            let groups = graph::attr_i(&g.node[p.second], "group", 1).max(1) as usize;
            let (dims1, w1) = &weights[&p.first];
            let (dims2, w2) = &weights[&p.second];
            let r1 = output_ranges(dims1, w1);
            let r2 = input_ranges(dims2, w2, groups);
            let scales: Vec<f32> = r1.iter().zip(&r2).map(|(&a, &b)| scale_for(a, b)).collect();
            moved = scales.iter().fold(moved, |m, &s| m.max((s - 1.0).abs()));
            let (dims1, w1) = weights.get_mut(&p.first).expect("inserted");
            scale_outputs(dims1, w1, &scales);
            if let Some(b) = biases.get_mut(&p.first) {
                b.iter_mut().zip(&scales).for_each(|(v, s)| *v /= s);
            }
            let (dims2, w2) = weights.get_mut(&p.second).expect("inserted");
            scale_inputs(dims2, w2, groups, &scales);
        }
        if moved < SETTLED {
            break;
        }
    }
    let mut names = Names::of(g);
    for (n, (dims, w)) in weights {
        let name = names.fresh(&format!("{}_equalized", g.node[n].input[1]));
        g.initializer.push(tensor::from_f32(&name, &dims, &w));
        g.node[n].input[1] = name;
        if let Some(b) = biases.remove(&n) {
            let name = names.fresh(&format!("{}_equalized", g.node[n].input[2]));
            g.initializer
                .push(tensor::from_f32(&name, &[b.len() as i64], &b));
            g.node[n].input[2] = name;
        }
    }
    super::fold::remove_unused_initializers(g);
    Ok(report)
}

/// `s = sqrt(r1 / r2)`, which makes both ranges `sqrt(r1 · r2)`; 1 when either range is 0
/// or not finite (a dead channel stays as it is).
fn scale_for(r1: f32, r2: f32) -> f32 {
    let s = (r1 as f64 / r2 as f64).sqrt() as f32;
    if r1 > 0.0 && r2 > 0.0 && s.is_finite() && s > 0.0 {
        s
    } else {
        1.0
    }
}

/// max |w| per output channel (axis 0) of a Conv weight `[O, I/g, k...]`.
pub fn output_ranges(dims: &[i64], w: &[f32]) -> Vec<f32> {
    let out = dims[0] as usize;
    let per = w.len() / out.max(1);
    w.chunks(per.max(1))
        .take(out)
        .map(|c| c.iter().fold(0f32, |m, v| m.max(v.abs())))
        .collect()
}

/// For each input channel `i` of a Conv with `groups` groups and weight `[O, I/g, k...]`, the
/// weights that read it: output channels of group `i / (I/g)`, local input `i % (I/g)`.
fn for_input_channel(
    dims: &[i64],
    groups: usize,
    mut f: impl FnMut(usize, std::ops::Range<usize>),
) {
    let out = dims[0] as usize;
    let per_group_in = dims[1] as usize;
    let spatial: usize = dims[2..].iter().product::<i64>() as usize;
    let per_group_out = out / groups;
    for i in 0..per_group_in * groups {
        let (gi, li) = (i / per_group_in, i % per_group_in);
        for o in gi * per_group_out..(gi + 1) * per_group_out {
            let start = (o * per_group_in + li) * spatial;
            f(i, start..start + spatial);
        }
    }
}

/// max |w| per input channel of a (grouped) Conv weight.
pub fn input_ranges(dims: &[i64], w: &[f32], groups: usize) -> Vec<f32> {
    let mut r = vec![0f32; dims[1] as usize * groups];
    for_input_channel(dims, groups, |i, range| {
        r[i] = w[range].iter().fold(r[i], |m, v| m.max(v.abs()));
    });
    r
}

fn scale_outputs(dims: &[i64], w: &mut [f32], scales: &[f32]) {
    let per = w.len() / (dims[0] as usize).max(1);
    for (c, s) in w.chunks_mut(per.max(1)).zip(scales) {
        c.iter_mut().for_each(|v| *v /= s);
    }
}

fn scale_inputs(dims: &[i64], w: &mut [f32], groups: usize, scales: &[f32]) {
    for_input_channel(dims, groups, |i, range| {
        w[range].iter_mut().for_each(|v| *v *= scales[i]);
    });
}

/// A Conv whose weight (and bias, if any) are float initializers, with a weight of rank ≥ 3
/// and a group count that divides its channels.
fn plain_conv(g: &pb::GraphProto, n: &pb::NodeProto) -> Option<(Vec<i64>, usize)> {
    if n.op_type != "Conv" || !n.domain.is_empty() || n.input.len() < 2 || n.output.is_empty() {
        return None;
    }
    let w = graph::initializer(g, &n.input[1]).filter(|t| t.data_type == tensor::FLOAT)?;
    if w.dims.len() < 3 || w.dims.iter().any(|&d| d <= 0) {
        return None;
    }
    if let Some(b) = n.input.get(2).filter(|b| !b.is_empty()) {
        let b = graph::initializer(g, b).filter(|t| t.data_type == tensor::FLOAT)?;
        if tensor::element_count(&b.dims).ok()? != w.dims[0] as usize {
            return None;
        }
    }
    let groups = graph::attr_i(n, "group", 1);
    if groups < 1 || w.dims[0] % groups != 0 {
        return None;
    }
    Some((w.dims.clone(), groups as usize))
}

/// Whether `n` maps each channel through a positively homogeneous function, so that scaling a
/// channel of its input by `1/s` scales that channel of its output by `1/s`.
fn homogeneous(g: &pb::GraphProto, n: &pb::NodeProto) -> bool {
    if !n.domain.is_empty() || n.input.is_empty() || n.output.len() != 1 {
        return false;
    }
    match n.op_type.as_str() {
        "Relu" | "LeakyRelu" | "Identity" | "MaxPool" => true,
        // Clip(0, no max) is a Relu; a finite max (Relu6) or a nonzero finite min is not
        // homogeneous.
        "Clip" => {
            let bound = |idx: usize, attr: &str| -> Option<Option<f32>> {
                match n.input.get(idx).filter(|s| !s.is_empty()) {
                    Some(name) => {
                        let t = graph::initializer(g, name)?;
                        tensor::to_f32(t).ok()?.first().copied().map(Some)
                    }
                    None => Some(graph::attr(n, attr).map(|a| a.f)),
                }
            };
            let lo_ok = matches!(bound(1, "min"), Some(None))
                || matches!(bound(1, "min"), Some(Some(lo)) if lo == 0.0 || lo == f32::NEG_INFINITY);
            let hi_ok = matches!(bound(2, "max"), Some(None))
                || matches!(bound(2, "max"), Some(Some(hi)) if hi == f32::INFINITY);
            lo_ok && hi_ok
        }
        _ => false,
    }
}

/// The Conv pairs joined by a single-reader chain of homogeneous ops, where the second Conv
/// reads the chain's end as its data input only and its input channels are the first's
/// output channels.
fn find_pairs(g: &pb::GraphProto) -> Result<Vec<Pair>> {
    let consumers = graph::consumers(g);
    let mut pairs = Vec::new();
    let mut used_as_first = std::collections::HashSet::new();
    for (i, n) in g.node.iter().enumerate() {
        let Some((dims1, _)) = plain_conv(g, n) else {
            continue;
        };
        let mut t = n.output[0].clone();
        let second = loop {
            if graph::is_graph_output(g, &t) {
                break None;
            }
            let Some(readers) = consumers.get(&t) else {
                break None;
            };
            if readers.len() != 1 {
                break None;
            }
            let r = &g.node[readers[0]];
            // The tensor must be read once, as the data input.
            if r.input.iter().filter(|x| **x == t).count() != 1 || r.input[0] != t {
                break None;
            }
            if plain_conv(g, r).is_some() {
                break Some(readers[0]);
            }
            if !homogeneous(g, r) {
                break None;
            }
            t = r.output[0].clone();
        };
        let Some(j) = second else { continue };
        let (dims2, groups2) = plain_conv(g, &g.node[j]).expect("checked");
        if dims2[1] as usize * groups2 != dims1[0] as usize || !used_as_first.insert(i) {
            continue;
        }
        pairs.push(Pair {
            first: i,
            second: j,
        });
    }
    Ok(pairs)
}
