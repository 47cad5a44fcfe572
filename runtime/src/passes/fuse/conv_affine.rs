//! Folds a per-channel affine op after a convolution (or a transposed one) into its weights
//! and bias: `s ⊙ conv(x, W, B) + t = conv(x, s ⊙ W, s ⊙ B + t)` with `s`, `t` per output
//! channel. (PP-OCR det's head runs `ConvTranspose → Add → BatchNormalization`: both fold.)

use super::{f32_constant, remove_nodes, Readers};
use crate::ir::ops::elementwise::{Binary, ElementwiseOp};
use crate::ir::ops::nn::BatchNorm;
use crate::ir::ops::NnOp;
use crate::ir::{Graph, Op, ValueId, ValueInfo};
use crate::passes::Pass;
use crate::{DType, Result, Tensor};
use std::sync::Arc;

/// See the module docs.
pub(in crate::passes) struct FoldIntoConv;

impl Pass for FoldIntoConv {
    fn name(&self) -> &'static str {
        "fold_into_conv"
    }

    fn run(&self, graph: &mut Graph) -> Result<bool> {
        let mut changed = false;
        while let Some(fold) = find(graph) {
            apply(graph, fold)?;
            changed = true;
        }
        Ok(changed)
    }
}

/// One fold: conv node, the affine node after it, and the per-channel scale and shift.
struct Fold {
    conv: usize,
    layout: WeightLayout,
    affine: usize,
    scale: Vec<f32>,
    shift: Vec<f32>,
}

/// Where the output channels sit in the weights.
#[derive(Clone, Copy)]
enum WeightLayout {
    /// `Conv`: `[C_out, C_in / group, k…]`, one output channel per leading row.
    Conv,
    /// `ConvTranspose`: `[C_in, C_out / group, k…]`; output channel `g · C_out/group + j` is
    /// column `j` of the rows of group `g`.
    Transposed { group: usize },
}

impl WeightLayout {
    fn of(op: &Op) -> Option<Self> {
        match op {
            Op::Nn(NnOp::Conv(_)) => Some(WeightLayout::Conv),
            Op::Nn(NnOp::ConvTranspose(ct)) if ct.group > 0 => {
                Some(WeightLayout::Transposed { group: ct.group })
            }
            _ => None,
        }
    }

    /// The number of output channels of weights of `shape`, if they are well formed.
    fn out_channels(self, shape: &[usize]) -> Option<usize> {
        match self {
            WeightLayout::Conv => shape.first().copied(),
            WeightLayout::Transposed { group } => {
                let (c_in, per_group) = (*shape.first()?, *shape.get(1)?);
                (c_in % group == 0).then_some(per_group.checked_mul(group)?)
            }
        }
    }

    /// The output channel of each weight, in order.
    fn channel_of_each(self, shape: &[usize]) -> Vec<usize> {
        let taps: usize = shape.iter().skip(2).product();
        let len = shape.iter().product::<usize>();
        match self {
            WeightLayout::Conv => {
                let per_channel = len / shape[0].max(1);
                (0..len).map(|i| i / per_channel.max(1)).collect()
            }
            WeightLayout::Transposed { group } => {
                let (c_in, per_group) = (shape[0], shape[1]);
                let in_per_group = (c_in / group).max(1);
                (0..len)
                    .map(|i| {
                        let (ci, j) = (
                            i / (per_group * taps).max(1),
                            (i / taps.max(1)) % per_group.max(1),
                        );
                        (ci / in_per_group) * per_group + j
                    })
                    .collect()
            }
        }
    }
}

fn find(graph: &Graph) -> Option<Fold> {
    let readers = Readers::of(graph);
    graph.nodes.iter().enumerate().find_map(|(index, node)| {
        let layout = WeightLayout::of(&node.op)?;
        let (_, w_shape) = f32_constant(graph, node.inputs.get(1).copied().flatten()?)?;
        let channels = layout.out_channels(&w_shape)?;
        if let Some(b) = node.inputs.get(2).copied().flatten() {
            // A malformed bias is left for the run to report.
            (f32_constant(graph, b)?.0.len() == channels).then_some(())?;
        }
        let out = node.outputs.first().copied().flatten()?;
        let next = readers.sole_reader(out)?;
        let (scale, shift) = affine_of(graph, next, out, channels, w_shape.len())?;
        Some(Fold {
            conv: index,
            layout,
            affine: next,
            scale,
            shift,
        })
    })
}

/// `(scale, shift)` per channel if node `index`, reading `x` (a conv output of `rank` axes
/// and `channels` channels), is a per-channel affine map of it.
fn affine_of(
    graph: &Graph,
    index: usize,
    x: ValueId,
    channels: usize,
    rank: usize,
) -> Option<(Vec<f32>, Vec<f32>)> {
    let node = &graph.nodes[index];
    if node.outputs.len() != 1 {
        return None;
    }
    match &node.op {
        Op::Nn(NnOp::BatchNorm(BatchNorm {
            epsilon,
            training: false,
            ..
        })) => {
            if node.inputs.first().copied().flatten() != Some(x) || node.inputs.len() != 5 {
                return None;
            }
            let param = |i: usize| {
                let (v, _) = f32_constant(graph, node.inputs[i]?)?;
                (v.len() == channels).then_some(v)
            };
            let (gamma, beta, mean, var) = (param(1)?, param(2)?, param(3)?, param(4)?);
            let scale: Vec<f32> = gamma
                .iter()
                .zip(&var)
                .map(|(g, v)| g / (v + epsilon).sqrt())
                .collect();
            let shift = beta
                .iter()
                .zip(&mean)
                .zip(&scale)
                .map(|((b, m), s)| b - m * s)
                .collect();
            Some((scale, shift))
        }
        Op::Elementwise(ElementwiseOp::Binary(op)) => {
            let [a, b] = node.inputs[..] else {
                return None;
            };
            let (a, b) = (a?, b?);
            // Which side is the conv output; `Sub`/`Div` only fold with it on the left.
            let (other, x_first) = if a == x && b != x {
                (b, true)
            } else if b == x && a != x {
                (a, false)
            } else {
                return None;
            };
            let c = per_channel(graph, other, channels, rank)?;
            let ones = vec![1.0; channels];
            let zeros = vec![0.0; channels];
            match op {
                Binary::Mul => Some((c, zeros)),
                Binary::Add => Some((ones, c)),
                Binary::Sub if x_first => Some((ones, c.iter().map(|v| -v).collect())),
                Binary::Div if x_first && c.iter().all(|v| *v != 0.0) => {
                    Some((c.iter().map(|v| 1.0 / v).collect(), zeros))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// The constant `id` as one value per channel, if it broadcasts against `[N, C, ...]` (rank
/// `rank`) without changing that shape and varies at most along the channel axis.
fn per_channel(graph: &Graph, id: ValueId, channels: usize, rank: usize) -> Option<Vec<f32>> {
    let (v, shape) = f32_constant(graph, id)?;
    if shape.len() > rank {
        return None;
    }
    if v.len() == 1 {
        return Some(vec![v[0]; channels]);
    }
    // Right-align: the channel axis of the output is axis 1.
    let pad = rank - shape.len();
    let ok = shape.iter().enumerate().all(|(i, &d)| {
        let axis = i + pad;
        d == 1 || (axis == 1 && d == channels)
    });
    (ok && v.len() == channels).then_some(v)
}

fn apply(graph: &mut Graph, fold: Fold) -> Result<()> {
    let conv = &graph.nodes[fold.conv];
    let w_id = conv.inputs[1].ok_or_else(|| crate::Error::internal("conv without weights"))?;
    let (w, w_shape) =
        f32_constant(graph, w_id).ok_or_else(|| crate::Error::internal("weights vanished"))?;
    let channels = fold
        .layout
        .out_channels(&w_shape)
        .ok_or_else(|| crate::Error::internal("weights changed shape"))?;
    let bias = match conv.inputs.get(2).copied().flatten() {
        Some(b) => {
            f32_constant(graph, b)
                .ok_or_else(|| crate::Error::internal("bias vanished"))?
                .0
        }
        None => vec![0.0; channels],
    };
    let new_w: Vec<f32> = w
        .iter()
        .zip(fold.layout.channel_of_each(&w_shape))
        .map(|(v, o)| v * fold.scale[o])
        .collect();
    let new_b: Vec<f32> = bias
        .iter()
        .zip(&fold.scale)
        .zip(&fold.shift)
        .map(|((b, s), t)| b * s + t)
        .collect();
    let name = graph.nodes[fold.conv].name.clone();
    let w_new = add_constant(
        graph,
        format!("{name}.folded_w"),
        Tensor::from_vec(&w_shape, new_w)?,
    );
    let b_new = add_constant(
        graph,
        format!("{name}.folded_b"),
        Tensor::from_vec(&[channels], new_b)?,
    );
    let out = graph.nodes[fold.affine].outputs[0];
    let conv = &mut graph.nodes[fold.conv];
    conv.inputs.resize(3, None);
    conv.inputs[1] = Some(w_new);
    conv.inputs[2] = Some(b_new);
    conv.outputs = vec![out];
    remove_nodes(graph, &[fold.affine]);
    Ok(())
}

/// A new constant value.
pub(super) fn add_constant(graph: &mut Graph, name: String, t: Tensor) -> ValueId {
    let mut info = ValueInfo::named(name);
    info.dtype = Some(DType::F32);
    info.shape = Some(
        t.shape()
            .iter()
            .map(|&d| crate::ir::Dim::Known(d))
            .collect(),
    );
    let id = graph.add_value(info);
    graph.constants.insert(id, Arc::new(t));
    id
}
