//! Fusion passes: fewer, bigger nodes, so activations stay in cache and nothing is written
//! to memory only to be read back by the next element-wise op.
//!
//! * [`FoldIntoConv`]: a per-channel affine op right after a convolution
//!   (`BatchNormalization` in inference mode, or `Mul`/`Add`/`Sub`/`Div` by a constant that
//!   varies at most along the channel axis) is folded into the conv's weights and bias.
//! * [`RecognizeHardSwish`]: `x · clip(x + 3, 0, 6) / 6` (how exporters spell `HardSwish`)
//!   becomes one `HardSwish`.
//! * [`FuseConvEpilogue`]: an activation, or a residual `Add` of a value computed earlier,
//!   right after a convolution joins its epilogue (`FusedConv`), which the backend applies
//!   while each output tile is still in L1.
//! * [`FuseMatMulEpilogue`]: the same for products with constant 2-D weights (`MatMul`,
//!   `Gemm`): a row bias `Add`, activations and scalar affine maps join the GEMM's store
//!   (`FusedMatMul`).
//! * [`FuseElementwiseChain`]: runs of such element-wise ops elsewhere become one
//!   `ElementwiseChain` node.
//!
//! Every rewrite needs the intermediate value to have exactly one reader (control-flow
//! captures are node inputs, so they count) and not to be a graph output, so no other node
//! sees a changed value.

mod chain;
mod conv_affine;
mod epilogue;
mod hardswish;
mod matmul_epilogue;
mod steps;

pub(super) use chain::FuseElementwiseChain;
pub(super) use conv_affine::FoldIntoConv;
pub(super) use epilogue::FuseConvEpilogue;
pub(super) use hardswish::RecognizeHardSwish;
pub(super) use matmul_epilogue::FuseMatMulEpilogue;

use crate::ir::{Graph, ValueId};
use crate::DType;

/// Who reads each value, and which node produces it.
pub(super) struct Readers {
    nodes: Vec<Vec<usize>>,
    is_output: Vec<bool>,
    producer: Vec<Option<usize>>,
}

impl Readers {
    pub(super) fn of(graph: &Graph) -> Self {
        let n = graph.values.len();
        let mut nodes = vec![Vec::new(); n];
        let mut producer = vec![None; n];
        for (index, node) in graph.nodes.iter().enumerate() {
            for id in node.inputs.iter().flatten() {
                nodes[id.0].push(index);
            }
            for id in node.outputs.iter().flatten() {
                producer[id.0] = Some(index);
            }
        }
        let mut is_output = vec![false; n];
        for id in &graph.outputs {
            is_output[id.0] = true;
        }
        Readers {
            nodes,
            is_output,
            producer,
        }
    }

    /// The one node reading `id`, if exactly one does (once) and `id` is not a graph output.
    pub(super) fn sole_reader(&self, id: ValueId) -> Option<usize> {
        match self.nodes[id.0].as_slice() {
            [only] if !self.is_output[id.0] => Some(*only),
            _ => None,
        }
    }

    /// The node producing `id` (`None` for inputs and constants).
    pub(super) fn producer(&self, id: ValueId) -> Option<usize> {
        self.producer[id.0]
    }
}

/// The values of an `f32` constant and its shape.
pub(super) fn f32_constant(graph: &Graph, id: ValueId) -> Option<(Vec<f32>, Vec<usize>)> {
    let t = graph.constant(id)?;
    if t.dtype() != DType::F32 {
        return None;
    }
    Some((t.as_slice::<f32>().ok()?.to_vec(), t.shape().to_vec()))
}

/// A scalar `f32` constant (any shape with one element).
pub(super) fn scalar_constant(graph: &Graph, id: ValueId) -> Option<f32> {
    match f32_constant(graph, id)? {
        (v, _) if v.len() == 1 => Some(v[0]),
        _ => None,
    }
}

/// Removes the nodes at `indices` (the rewrites have already rewired their outputs).
pub(super) fn remove_nodes(graph: &mut Graph, indices: &[usize]) {
    let mut index = 0;
    graph.nodes.retain(|_| {
        index += 1;
        !indices.contains(&(index - 1))
    });
}
