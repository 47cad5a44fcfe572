//! Load-time work per node: constant weights packed once into the layout of the kernel that
//! will run the node (the GEMM's panels, or the direct conv's channel blocks), so no run
//! repacks them. Built once per session and shared by all its plans.

use crate::backend::cpu::ops::quant::{
    pack_right_operand, right_zero_points, softmax_table, DynamicQMatMulPrepared, QConvPrepared,
    QConvTransposePrepared, QMatMulPrepared,
};
use crate::ir::ops::nn::{Conv, FusedConv};
use crate::ir::ops::transformer::TransformerOp;
use crate::ir::ops::{NnOp, QuantOp};
use crate::ir::{Graph, Op};
use crate::tensor::numel;
use crate::{DType, Result};
use mote_kernels::cpu::direct_conv::{DirectConvKernel, PackedConvWeights};
use mote_kernels::cpu::matmul::{packing_tile, PackedA, PackedB, Strided};
use mote_kernels::cpu::qgemm::PackedQWeights;
use mote_kernels::cpu::softmax::quantized::QSoftmaxTable;
use std::sync::Arc;

/// What a node keeps from load time.
#[derive(Debug)]
pub(crate) enum Prepared {
    /// A convolution's weights, one packed `A` per group (`[C_out/group, C_in/group · Π k]`).
    ConvWeights(Vec<PackedA>),
    /// A 2-D convolution's weights for the direct kernel, one block per group.
    DirectConvWeights(DirectConvKernel, Vec<PackedConvWeights>),
    /// The constant right-hand side `B'` (`[K, N]`, after a `transB`) of a `MatMul`, `Gemm`
    /// or `FusedMatMul`, packed for the GEMM kernel.
    MatMulWeights(PackedB),
    /// An 8-bit convolution's packed weights and requantization.
    QConv(QConvPrepared),
    /// An 8-bit product's packed weights and requantization.
    QMatMul(QMatMulPrepared),
    /// An 8-bit transposed convolution's packed weights and requantization.
    QConvTranspose(QConvTransposePrepared),
    /// `MatMulInteger`'s constant 2-D right operand, packed as the 8-bit GEMM's weights.
    MatMulInteger(PackedQWeights),
    /// A dynamically quantized product's packed weights, scales and bias.
    DynamicQMatMul(DynamicQMatMulPrepared),
    /// An 8-bit softmax's table of `e^x` per input byte distance.
    QSoftmax(QSoftmaxTable),
}

/// The prepared state of every node of `graph` (by node index), `None` where there is none.
pub(crate) fn prepare(graph: &Graph) -> Result<Vec<Option<Arc<Prepared>>>> {
    graph
        .nodes
        .iter()
        .map(|node| {
            if let Op::Quant(QuantOp::QSoftmax(q)) = &node.op {
                return Ok(Some(Arc::new(Prepared::QSoftmax(softmax_table(q)?))));
            }
            let Some(w) = node
                .inputs
                .get(1)
                .copied()
                .flatten()
                .and_then(|id| graph.constant(id))
            else {
                return Ok(None);
            };
            let bias = || {
                node.inputs
                    .get(2)
                    .copied()
                    .flatten()
                    .and_then(|id| graph.constant(id))
                    .map(|t| t.view())
            };
            match &node.op {
                Op::Quant(QuantOp::QConv(q)) => {
                    // An input known to be one position per image (a squeeze-excite's pooled
                    // channels) makes a 1×1 conv a row-major product.
                    let single = node.inputs[0].is_some_and(|x| one_position(graph, x, 8));
                    let p = QConvPrepared::new(q, w.view(), bias(), single)?;
                    return Ok(Some(Arc::new(Prepared::QConv(p))));
                }
                Op::Quant(QuantOp::QMatMul(q)) => {
                    let p = QMatMulPrepared::new(q, w.view(), bias())?;
                    return Ok(Some(Arc::new(Prepared::QMatMul(p))));
                }
                Op::Quant(QuantOp::MatMulInteger) => {
                    let zp = node
                        .inputs
                        .get(3)
                        .copied()
                        .flatten()
                        .map(|id| graph.constant(id));
                    let zero_points = match zp {
                        None => right_zero_points(&w.view(), None),
                        Some(Some(z)) => right_zero_points(&w.view(), Some(&z.view())),
                        Some(None) => None, // A zero point computed at run time.
                    };
                    let Some(zero_points) = zero_points.filter(|_| w.shape().len() == 2) else {
                        return Ok(None);
                    };
                    let p = pack_right_operand(w.view(), &zero_points)?;
                    return Ok(Some(Arc::new(Prepared::MatMulInteger(p))));
                }
                Op::Quant(QuantOp::DynamicQMatMul(q)) => {
                    let p = DynamicQMatMulPrepared::new(q, w.view(), bias())?;
                    return Ok(Some(Arc::new(Prepared::DynamicQMatMul(p))));
                }
                Op::Quant(QuantOp::QConvTranspose(q)) => {
                    let p = QConvTransposePrepared::new(q, w.view(), bias())?;
                    return Ok(Some(Arc::new(Prepared::QConvTranspose(p))));
                }
                _ => {}
            }
            if w.dtype() != DType::F32 {
                return Ok(None);
            }
            let conv = match &node.op {
                Op::Nn(NnOp::Conv(conv)) | Op::Nn(NnOp::FusedConv(FusedConv { conv, .. })) => conv,
                Op::Transformer(TransformerOp::MatMul) => {
                    return pack_matmul_weights(w.shape(), w.as_slice::<f32>()?, false);
                }
                Op::Transformer(TransformerOp::Gemm(g)) => {
                    return pack_matmul_weights(w.shape(), w.as_slice::<f32>()?, g.trans_b);
                }
                Op::Transformer(TransformerOp::FusedMatMul(f)) => {
                    return pack_matmul_weights(w.shape(), w.as_slice::<f32>()?, f.trans_b);
                }
                _ => return Ok(None),
            };
            let (shape, w) = (w.shape(), w.as_slice::<f32>()?);
            if let Some(kernel) = direct_conv_kernel(conv, shape) {
                return pack_direct_conv_weights(kernel, conv, shape, w)
                    .map(|p| p.map(|p| Arc::new(Prepared::DirectConvWeights(kernel, p))));
            }
            pack_conv_weights(conv, shape, w).map(|p| p.map(|p| Arc::new(Prepared::ConvWeights(p))))
        })
        .collect()
}

/// Whether `id` is known to hold one spatial position per image (a global pool's output, or
/// what element-wise ops and 1×1 convs without padding make of one), looking at most `depth`
/// producers back. Shapes of intermediate values are not recorded once the passes ran, so
/// this follows the producers.
fn one_position(graph: &Graph, id: crate::ir::ValueId, depth: usize) -> bool {
    if let Some(shape) = &graph.value(id).shape {
        return shape.len() > 2 && shape[2..].iter().all(|d| *d == crate::ir::Dim::Known(1));
    }
    let Some(node) = graph.nodes.iter().find(|n| n.outputs.contains(&Some(id))) else {
        return false;
    };
    let input = || node.inputs.first().copied().flatten();
    let from_input = || depth > 0 && input().is_some_and(|x| one_position(graph, x, depth - 1));
    match &node.op {
        Op::Quant(QuantOp::QGlobalAveragePool(_)) | Op::Nn(NnOp::GlobalPool(_)) => true,
        Op::Quant(QuantOp::Lut(_) | QuantOp::ChannelLut(_)) => from_input(),
        Op::Quant(QuantOp::QConv(q)) => {
            let one_by_one = node
                .inputs
                .get(1)
                .copied()
                .flatten()
                .and_then(|w| graph.constant(w))
                .is_some_and(|w| w.shape().len() > 2 && w.shape()[2..].iter().all(|&k| k == 1));
            one_by_one && no_explicit_padding(&q.conv.window.padding) && from_input()
        }
        _ => false,
    }
}

/// `pads` all zero (or absent) with `auto_pad = NOTSET`.
fn no_explicit_padding(p: &crate::ir::ops::nn::Padding) -> bool {
    match p {
        crate::ir::ops::nn::Padding::Explicit { begin, end } => {
            begin.iter().chain(end).all(|&x| x == 0)
        }
        crate::ir::ops::nn::Padding::Valid => true,
        _ => false,
    }
}

/// Wider convs take the im2col GEMM. Measured (`benches/benches/direct_conv.rs`, AVX-512):
/// the direct kernel runs 2–6× faster than the im2col GEMM up to 128 output channels (PP-OCR
/// det's 96 → 24 3×3 convs, 64 → 64 at 56×56, 128 → 128 at 28×28, the stride-2 first layers),
/// where the GEMM's few rows cannot amortise packing the `Π kernel`-times larger column
/// matrix; 256-channel layers sit deep in a network on maps 14 or fewer positions wide, which
/// fill under half of the direct tile's 32 lanes, and there the GEMM is 10–20 % faster.
const DIRECT_CONV_MAX_OUT_CHANNELS: usize = 128;

/// One packed block per group, or `None` for shapes the conv runs without a GEMM (depthwise).
pub(crate) fn pack_conv_weights(
    conv: &Conv,
    shape: &[usize],
    w: &[f32],
) -> Result<Option<Vec<PackedA>>> {
    if shape.len() < 3 || conv.group == 0 || shape[0] % conv.group != 0 {
        return Ok(None); // Malformed: the run reports it.
    }
    let depthwise = shape[1] == 1 && conv.group > 1;
    if depthwise {
        return Ok(None);
    }
    let rows = shape[0] / conv.group;
    let depth = numel(&shape[1..]);
    let tile = packing_tile();
    (0..conv.group)
        .map(|g| {
            let block = &w[g * rows * depth..(g + 1) * rows * depth];
            let a = Strided {
                data: block,
                row_stride: depth as isize,
                col_stride: 1,
            };
            PackedA::pack(tile, rows, depth, a)
                .map_err(|e| crate::Error::internal(format!("packing conv weights: {e}")))
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// The direct kernel, if this CPU has one and the conv is one it runs faster than the GEMM:
/// 2-D, not depthwise, dilation 1, and at most [`DIRECT_CONV_MAX_OUT_CHANNELS`] output
/// channels per group. Pointwise convs included: the GEMM needs no im2col for them but still
/// packs the image per call, where the direct tile reads it in place (PP-OCR cls 0.46 →
/// 0.43 ms, rec 9.1 → 8.6 ms at 1 thread, measured A/B).
fn direct_conv_kernel(conv: &Conv, shape: &[usize]) -> Option<DirectConvKernel> {
    let (_, kernel) = mote_kernels::cpu::table().direct_conv?;
    let w = &conv.window;
    let direct = shape.len() == 4
        && conv.group >= 1
        && shape[0] / conv.group <= DIRECT_CONV_MAX_OUT_CHANNELS
        && !(shape[1] == 1 && conv.group > 1)
        && w.dilations.iter().all(|&d| d == 1);
    direct.then_some(kernel)
}

/// One packed block per group for the direct kernel, or `None` for a malformed conv (the run
/// reports it).
pub(crate) fn pack_direct_conv_weights(
    kernel: DirectConvKernel,
    conv: &Conv,
    shape: &[usize],
    w: &[f32],
) -> Result<Option<Vec<PackedConvWeights>>> {
    if shape[0] % conv.group != 0 || w.len() != numel(shape) {
        return Ok(None);
    }
    let rows = shape[0] / conv.group;
    let per_group = rows * numel(&shape[1..]);
    (0..conv.group)
        .map(|g| {
            let block = &w[g * per_group..(g + 1) * per_group];
            PackedConvWeights::pack(kernel.block, rows, shape[1], shape[2], shape[3], block)
                .map_err(|e| crate::Error::internal(format!("packing conv weights: {e}")))
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// A 2-D `B` (`[K, N]`, or `[N, K]` when `transposed`) packed for the GEMM; `None` for other
/// ranks (a batched `B` is multiplied batch by batch, unpacked).
pub(crate) fn pack_matmul_weights(
    shape: &[usize],
    w: &[f32],
    transposed: bool,
) -> Result<Option<Arc<Prepared>>> {
    Ok(pack_rhs(shape, w, transposed)?.map(|b| Arc::new(Prepared::MatMulWeights(b))))
}

/// A 2-D `B` (`[K, N]`, or `[N, K]` when `transposed`) packed as the GEMM's right-hand side;
/// `None` for any other rank.
pub(crate) fn pack_rhs(shape: &[usize], w: &[f32], transposed: bool) -> Result<Option<PackedB>> {
    let &[rows, cols] = shape else {
        return Ok(None);
    };
    let (k, n) = if transposed {
        (cols, rows)
    } else {
        (rows, cols)
    };
    let (row_stride, col_stride) = if transposed { (1, k) } else { (n, 1) };
    let b = Strided {
        data: w,
        row_stride: row_stride as isize,
        col_stride: col_stride as isize,
    };
    PackedB::pack(packing_tile(), k, n, b)
        .map(Some)
        .map_err(|e| crate::Error::internal(format!("packing matmul weights: {e}")))
}
