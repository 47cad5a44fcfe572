//! Moves a product's bias add, and the element-wise ops after it, into the GEMM's store
//! (`FusedMatMul`), the way [`super::FuseConvEpilogue`] does for convolutions:
//!
//! * `MatMul(A, W) + b`, with `W` a constant 2-D matrix and `b` a constant row (`[N]`, or
//!   `[1, …, 1, N]` no longer than the product), becomes one node: ONNX's `MatMul + Add →
//!   Gemm`, for any batch of `A` (transformer layers multiply `[batch, tokens, features]`);
//! * a `MatMul` with constant 2-D `W`, or a `Gemm` of constant `B` with `alpha = 1`, no
//!   `transA` and a row bias (`beta = 1`) or none, followed by an activation or a scalar
//!   affine map, becomes one node with that step;
//! * each further activation or scalar affine map (or `ElementwiseChain` of them) after a
//!   `FusedMatMul` joins its steps.
//!
//! The fused node rounds exactly as the ops it replaced: the bias is added to the finished
//! sum, and each step is the op's own function.

use super::conv_affine::add_constant;
use super::steps::{push_step, steps_of};
use super::{f32_constant, remove_nodes, Readers};
use crate::ir::ops::elementwise::{Binary, ElementwiseOp};
use crate::ir::ops::nn::EpilogueStep;
use crate::ir::ops::transformer::{FusedMatMul, TransformerOp};
use crate::ir::{Graph, Node, Op, ValueId};
use crate::passes::Pass;
use crate::{Result, Tensor};

/// See the module docs.
pub(in crate::passes) struct FuseMatMulEpilogue;

impl Pass for FuseMatMulEpilogue {
    fn name(&self) -> &'static str {
        "fuse_matmul_epilogue"
    }

    fn run(&self, graph: &mut Graph) -> Result<bool> {
        let mut changed = false;
        while let Some(fusion) = find(graph) {
            apply(graph, fusion)?;
            changed = true;
        }
        Ok(changed)
    }
}

/// One rewrite: node `product` becomes `op` over `A`, `B` and `bias`, and takes over the
/// output of node `next`, which goes.
struct Fusion {
    product: usize,
    next: usize,
    op: FusedMatMul,
    bias: Bias,
}

/// Where the fused node's bias comes from.
enum Bias {
    /// The node's own (a `FusedMatMul`'s input 2, or none).
    Keep,
    /// A constant value already of shape `[N]`.
    Value(ValueId),
    /// These values, to store as a new `[N]` constant.
    Values(Vec<f32>),
    /// No bias.
    None,
}

fn find(graph: &Graph) -> Option<Fusion> {
    let readers = Readers::of(graph);
    graph.nodes.iter().enumerate().find_map(|(index, node)| {
        let [Some(out)] = node.outputs[..] else {
            return None;
        };
        let next = readers.sole_reader(out)?;
        if graph.nodes[next].outputs.len() != 1 {
            return None;
        }
        let fusion = |op: FusedMatMul, bias: Bias| {
            Some(Fusion {
                product: index,
                next,
                op,
                bias,
            })
        };
        match &node.op {
            Op::Transformer(TransformerOp::FusedMatMul(f)) => {
                let steps = steps_of(graph, next, out, output_rank(graph, node))?;
                let mut op = f.clone();
                steps
                    .into_iter()
                    .for_each(|step| push_step(&mut op.steps, step));
                fusion(op, Bias::Keep)
            }
            Op::Transformer(TransformerOp::MatMul) => {
                let n = constant_rhs_columns(graph, node, false)?;
                let rank = output_rank(graph, node);
                let op = |steps| FusedMatMul {
                    trans_b: false,
                    steps,
                };
                if let Some(bias) = row_bias(graph, next, out, n, rank) {
                    return fusion(op(Vec::new()), bias);
                }
                fusion(op(steps_of(graph, next, out, rank)?), Bias::None)
            }
            Op::Transformer(TransformerOp::Gemm(g)) => {
                if g.alpha != 1.0 || g.trans_a {
                    return None;
                }
                let n = constant_rhs_columns(graph, node, g.trans_b)?;
                let bias = match node.inputs.get(2).copied().flatten() {
                    None => Bias::None,
                    Some(_) if g.beta == 0.0 => Bias::None,
                    Some(c) if g.beta == 1.0 => constant_row(graph, c, n, 2)?,
                    Some(_) => return None,
                };
                let steps = steps_of(graph, next, out, 2)?;
                fusion(
                    FusedMatMul {
                        trans_b: g.trans_b,
                        steps,
                    },
                    bias,
                )
            }
            _ => None,
        }
    })
}

/// `N`, if the product's `B` is a constant 2-D f32 matrix (`[K, N]`, or `[N, K]` when
/// `trans_b`).
fn constant_rhs_columns(graph: &Graph, node: &Node, trans_b: bool) -> Option<usize> {
    let (_, shape) = f32_constant(graph, node.inputs.get(1).copied().flatten()?)?;
    match shape[..] {
        [_, n] if !trans_b => Some(n),
        [n, _] if trans_b => Some(n),
        _ => None,
    }
}

/// The rank of a product's output with a 2-D `B` (`A`'s rank), or 1 when it is not known:
/// the constants fused in must not have a higher rank, and every output has at least one
/// axis.
fn output_rank(graph: &Graph, node: &Node) -> usize {
    let a = node.inputs.first().copied().flatten();
    a.and_then(|a| graph.values[a.0].shape.as_ref())
        .map_or(1, |s| s.len().max(1))
}

/// The bias, if node `index` adds a constant row of `n` values to `x` (rank `rank`).
fn row_bias(graph: &Graph, index: usize, x: ValueId, n: usize, rank: usize) -> Option<Bias> {
    let node = &graph.nodes[index];
    let Op::Elementwise(ElementwiseOp::Binary(Binary::Add)) = node.op else {
        return None;
    };
    let other = match node.inputs[..] {
        [Some(a), Some(b)] if a == x && b != x => b,
        [Some(a), Some(b)] if b == x && a != x => a,
        _ => return None,
    };
    constant_row(graph, other, n, rank)
}

/// The constant `id` as a bias of `n` values, if its shape is `[N]` or `[1, …, 1, N]` of rank
/// at most `rank` (so adding it changes no shape).
fn constant_row(graph: &Graph, id: ValueId, n: usize, rank: usize) -> Option<Bias> {
    let (values, shape) = f32_constant(graph, id)?;
    let (last, leading) = shape.split_last()?;
    if *last != n || shape.len() > rank || leading.iter().any(|&d| d != 1) {
        return None;
    }
    Some(if shape.len() == 1 {
        Bias::Value(id)
    } else {
        Bias::Values(values)
    })
}

fn apply(graph: &mut Graph, fusion: Fusion) -> Result<()> {
    let bias = match fusion.bias {
        Bias::Keep => graph.nodes[fusion.product].inputs.get(2).copied().flatten(),
        Bias::None => None,
        Bias::Value(id) => Some(id),
        Bias::Values(values) => {
            let name = format!("{}.bias", graph.nodes[fusion.product].name);
            let t = Tensor::from_vec(&[values.len()], values)?;
            Some(add_constant(graph, name, t))
        }
    };
    let out = graph.nodes[fusion.next].outputs[0];
    let node = &mut graph.nodes[fusion.product];
    node.inputs.truncate(2);
    if bias.is_some() {
        node.inputs.push(bias);
    }
    if fusion.op.steps.contains(&EpilogueStep::AddResidual) {
        return Err(crate::Error::internal("FusedMatMul takes no residual"));
    }
    node.op = Op::Transformer(TransformerOp::FusedMatMul(fusion.op));
    node.outputs = vec![out];
    remove_nodes(graph, &[fusion.next]);
    Ok(())
}
