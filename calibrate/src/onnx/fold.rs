//! Folding BatchNormalization into the Conv before it, as onnxruntime's `quant_pre_process`
//! does before quantizing: the quantized Conv then carries the normalization in its
//! per-channel weights and bias instead of a float op after an integer one.

use super::graph::{self, attr_f, Names};
use super::{pb, tensor};
use crate::Result;

/// Folds every `Conv -> BatchNormalization` pair where the Conv output feeds only the
/// normalization, is not a graph output, and all parameters are initializers. Returns how many
/// pairs were folded.
pub fn fold_batch_norms(g: &mut pb::GraphProto) -> Result<usize> {
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
            if bn.op_type != "BatchNormalization" || !bn.domain.is_empty() || bn.input.len() != 5 {
                continue;
            }
            // A training-mode node has extra outputs; only the plain inference form folds.
            if bn.output.iter().skip(1).any(|o| !o.is_empty()) {
                continue;
            }
            let Some(&ci) = producer.get(bn.input[0].as_str()) else {
                continue;
            };
            let conv = &g.node[ci];
            if conv.op_type != "Conv"
                || !conv.domain.is_empty()
                || consumers.get(&bn.input[0]).map_or(0, Vec::len) != 1
                || graph::is_graph_output(g, &bn.input[0])
                || conv.input.len() < 2
            {
                continue;
            }
            let all_const = bn.input[1..].iter().chain(conv.input[1..].iter()).all(|n| {
                n.is_empty()
                    || graph::initializer(g, n).is_some_and(|t| t.data_type == tensor::FLOAT)
            });
            if all_const {
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

fn fold_one(g: &mut pb::GraphProto, ci: usize, bi: usize, names: &mut Names) -> Result<()> {
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
