//! Load-time work per node: constant weights packed once into the GEMM kernel's panel layout,
//! so no run repacks them. Built once per session and shared by all its plans.

use crate::ir::ops::nn::{Conv, FusedConv};
use crate::ir::ops::NnOp;
use crate::ir::{Graph, Op};
use crate::tensor::numel;
use crate::{DType, Result};
use mote_kernels::cpu::matmul::{packing_tile, PackedA, Strided};
use std::sync::Arc;

/// What a node keeps from load time.
#[derive(Debug)]
pub(crate) enum Prepared {
    /// A convolution's weights, one packed `A` per group (`[C_out/group, C_in/group · Π k]`).
    ConvWeights(Vec<PackedA>),
}

/// The prepared state of every node of `graph` (by node index), `None` where there is none.
pub(crate) fn prepare(graph: &Graph) -> Result<Vec<Option<Arc<Prepared>>>> {
    graph
        .nodes
        .iter()
        .map(|node| {
            let conv = match &node.op {
                Op::Nn(NnOp::Conv(conv)) | Op::Nn(NnOp::FusedConv(FusedConv { conv, .. })) => conv,
                _ => return Ok(None),
            };
            let Some(w) = node
                .inputs
                .get(1)
                .copied()
                .flatten()
                .and_then(|id| graph.constant(id))
            else {
                return Ok(None);
            };
            if w.dtype() != DType::F32 {
                return Ok(None);
            }
            pack_conv_weights(conv, w.shape(), w.as_slice::<f32>()?)
                .map(|p| p.map(|p| Arc::new(Prepared::ConvWeights(p))))
        })
        .collect()
}

/// One packed block per group, or `None` for shapes the conv runs without a GEMM (depthwise).
fn pack_conv_weights(conv: &Conv, shape: &[usize], w: &[f32]) -> Result<Option<Vec<PackedA>>> {
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
