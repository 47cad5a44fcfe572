//! Folding BatchNormalization, and Mul/Add by a per-channel or scalar constant, into the Conv
//! before them, as onnxruntime's `quant_pre_process` (its basic graph optimizations
//! ConvBNFusion, ConvMulFusion, ConvAddFusion) does before quantizing: the quantized Conv then
//! carries them in its per-channel weights and bias instead of float ops after an integer one.

use super::graph::{self, attr_f, Names};
use super::{pb, tensor};
use crate::Result;

/// Folds every `Conv -> BatchNormalization` pair where the Conv output feeds only the
/// normalization, is not a graph output, and all parameters are initializers. Returns how many
/// pairs were folded.
pub fn fold_into_conv(g: &mut pb::GraphProto) -> Result<usize> {
    let mut names = Names::of(g);
    let mut folded = 0;
    loop {
        let consumers = graph::consumers(g);
        let producer: std::collections::HashMap<&str, usize> = g
            .node
            .iter()
            .enumerate()
            .flat_map(|(i, n)| n.output.iter().map(move |o| (o.as_str(), i)))
            .collect();
        let mut pair = None;
        for (bi, bn) in g.node.iter().enumerate() {
            if !bn.domain.is_empty() || bn.input.is_empty() || bn.output.is_empty() {
                continue;
            }
            let Some(&ci) = producer.get(bn.input[0].as_str()).or_else(|| {
                // Mul/Add are commutative: the Conv output may be either operand.
                bn.input.get(1).and_then(|i| producer.get(i.as_str()))
            }) else {
                continue;
            };
            let conv = &g.node[ci];
            let conv_out = &conv.output[0];
            if conv.op_type != "Conv"
                || !conv.domain.is_empty()
                || consumers.get(conv_out).map_or(0, Vec::len) != 1
                || graph::is_graph_output(g, conv_out)
                || conv.input.len() < 2
                || !conv.input[1..].iter().all(|n| {
                    n.is_empty()
                        || graph::initializer(g, n).is_some_and(|t| t.data_type == tensor::FLOAT)
                })
            {
                continue;
            }
            let ok = match bn.op_type.as_str() {
                "BatchNormalization" => {
                    bn.input.len() == 5
                        && bn.input[0] == *conv_out
                        // A training-mode node has extra outputs; only inference folds.
                        && bn.output.iter().skip(1).all(|o| o.is_empty())
                        && bn.input[1..].iter().all(|n| {
                            graph::initializer(g, n).is_some_and(|t| t.data_type == tensor::FLOAT)
                        })
                }
                "Mul" | "Add" => bn.input.len() == 2 && channel_constant(g, conv, bn).is_some(),
                _ => false,
            };
            if ok {
                pair = Some((ci, bi));
                break;
            }
        }
        let Some((ci, bi)) = pair else { break };
        fold_one(g, ci, bi, &mut names)?;
        folded += 1;
    }
    Ok(folded)
}

/// The constant operand of a Mul/Add after `conv`, as one value per output channel, when it
/// is a float initializer that is a scalar or broadcasts along the channel axis only.
fn channel_constant(
    g: &pb::GraphProto,
    conv: &pb::NodeProto,
    op: &pb::NodeProto,
) -> Option<Vec<f32>> {
    let other = if op.input[0] == conv.output[0] {
        &op.input[1]
    } else {
        &op.input[0]
    };
    let t = graph::initializer(g, other).filter(|t| t.data_type == tensor::FLOAT)?;
    let w = graph::initializer(g, &conv.input[1])?;
    let channels = *w.dims.first()? as usize;
    let rank = w.dims.len();
    let values = tensor::to_f32(t).ok()?;
    if values.len() == 1 && t.dims.len() <= rank {
        return Some(vec![values[0]; channels]);
    }
    // Right-aligned against [N, C, spatial...]: C at rank - (rank - 1), ones elsewhere.
    if values.len() != channels || t.dims.len() > rank || t.dims.len() < rank - 1 {
        return None;
    }
    let c_pos = t.dims.len() - (rank - 1);
    let fits = t.dims.iter().enumerate().all(|(i, &d)| {
        if i == c_pos {
            d as usize == channels
        } else {
            d == 1
        }
    });
    fits.then_some(values)
}

fn fold_one(g: &mut pb::GraphProto, ci: usize, bi: usize, names: &mut Names) -> Result<()> {
    if g.node[bi].op_type != "BatchNormalization" {
        return fold_mul_add(g, ci, bi, names);
    }
    let bn = g.node[bi].clone();
    let conv = g.node[ci].clone();
    let get = |name: &str| -> Result<Vec<f32>> {
        tensor::to_f32(graph::initializer(g, name).expect("checked to be an initializer"))
    };
    let w_proto = graph::initializer(g, &conv.input[1])
        .expect("checked")
        .clone();
    let mut w = tensor::to_f32(&w_proto)?;
    let (gamma, beta, mean, var) = (
        get(&bn.input[1])?,
        get(&bn.input[2])?,
        get(&bn.input[3])?,
        get(&bn.input[4])?,
    );
    let channels = *w_proto.dims.first().unwrap_or(&0) as usize;
    let mut b = match conv.input.get(2).filter(|s| !s.is_empty()) {
        Some(name) => get(name)?,
        None => vec![0.0; channels],
    };
    if [gamma.len(), beta.len(), mean.len(), var.len(), b.len()]
        .iter()
        .any(|&l| l != channels)
        || channels == 0
    {
        return Ok(());
    }
    let eps = attr_f(&bn, "epsilon", 1e-5);
    let per = w.len() / channels;
    for c in 0..channels {
        let s = gamma[c] / (var[c] + eps).sqrt();
        for v in &mut w[c * per..(c + 1) * per] {
            *v *= s;
        }
        b[c] = (b[c] - mean[c]) * s + beta[c];
    }
    let w_name = names.fresh(&format!("{}_bn", conv.input[1]));
    let b_name = names.fresh(&format!("{}_bn_bias", bn.output[0]));
    g.initializer
        .push(tensor::from_f32(&w_name, &w_proto.dims, &w));
    g.initializer
        .push(tensor::from_f32(&b_name, &[channels as i64], &b));
    let conv_mut = &mut g.node[ci];
    conv_mut.input.truncate(1);
    conv_mut.input.push(w_name);
    conv_mut.input.push(b_name);
    conv_mut.output[0] = bn.output[0].clone();
    g.node.remove(bi);
    remove_unused_initializers(g);
    Ok(())
}

/// Folds `Conv -> Mul(c)` (weights and bias times c) or `Conv -> Add(c)` (bias plus c).
fn fold_mul_add(g: &mut pb::GraphProto, ci: usize, bi: usize, names: &mut Names) -> Result<()> {
    let op = g.node[bi].clone();
    let conv = g.node[ci].clone();
    let c = channel_constant(g, &conv, &op).expect("checked");
    let w_proto = graph::initializer(g, &conv.input[1])
        .expect("checked")
        .clone();
    let mut w = tensor::to_f32(&w_proto)?;
    let channels = c.len();
    let mut b = match conv.input.get(2).filter(|s| !s.is_empty()) {
        Some(name) => tensor::to_f32(graph::initializer(g, name).expect("checked"))?,
        None => vec![0.0; channels],
    };
    if b.len() != channels || w.len() % channels != 0 {
        return Ok(());
    }
    let per = w.len() / channels;
    let mul = op.op_type == "Mul";
    for ch in 0..channels {
        if mul {
            for v in &mut w[ch * per..(ch + 1) * per] {
                *v *= c[ch];
            }
            b[ch] *= c[ch];
        } else {
            b[ch] += c[ch];
        }
    }
    let had_bias = conv.input.get(2).is_some_and(|s| !s.is_empty());
    let w_name = if mul {
        names.fresh(&format!("{}_mul", conv.input[1]))
    } else {
        conv.input[1].clone()
    };
    let b_name = names.fresh(&format!("{}_bias", op.output[0]));
    if mul {
        g.initializer
            .push(tensor::from_f32(&w_name, &w_proto.dims, &w));
    }
    if mul && !had_bias {
        // A Conv without bias times c still has no bias.
        let conv_mut = &mut g.node[ci];
        conv_mut.input.truncate(1);
        conv_mut.input.push(w_name);
    } else {
        g.initializer
            .push(tensor::from_f32(&b_name, &[channels as i64], &b));
        let conv_mut = &mut g.node[ci];
        conv_mut.input.truncate(1);
        conv_mut.input.push(w_name);
        conv_mut.input.push(b_name);
    }
    g.node[ci].output[0] = op.output[0].clone();
    g.node.remove(bi);
    remove_unused_initializers(g);
    Ok(())
}

/// Drops initializers that no node (nor subgraph) reads and that are not graph outputs.
pub fn remove_unused_initializers(g: &mut pb::GraphProto) {
    let mut used = std::collections::HashSet::new();
    fn walk(g: &pb::GraphProto, used: &mut std::collections::HashSet<String>) {
        for n in &g.node {
            used.extend(n.input.iter().cloned());
            for a in &n.attribute {
                for sg in a.g.iter().chain(a.graphs.iter()) {
                    walk(sg, used);
                }
            }
        }
        used.extend(g.output.iter().map(|o| o.name.clone()));
    }
    walk(g, &mut used);
    g.initializer.retain(|t| used.contains(&t.name));
}
