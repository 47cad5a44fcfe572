//! Data movement and shape manipulation: ops that reshape, reorder, select, scatter, pad,
//! resize or generate tensors.
//!
//! Most of these ops move bytes without looking at them, so they work for every dtype. The
//! shape rules live in [`rules`] (and [`resize`]) so that inference and the CPU evaluation
//! compute output shapes with the same code; [`infer`] applies them to facts.

pub(crate) mod infer;
pub mod resize;
pub mod rules;

use crate::ir::Fact;
use crate::{DType, Result, Tensor};

pub use resize::{CoordinateMode, KeepAspectRatio, NearestMode, ResizeAttrs, ResizeMode};

/// Data movement and shape manipulation.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum ShapeOp {
    /// Copy of the input.
    Identity,
    /// New shape from input 1 (or the `shape` attribute before opset 5): 0 copies the input
    /// dim unless `allowzero`, -1 is inferred.
    Reshape {
        /// A 0 in the target means an empty dim rather than "copy the input dim".
        allowzero: bool,
        /// Target from the attribute (opset < 5); `None`: input 1.
        shape: Option<Vec<i64>>,
    },
    /// 2-D view `[prod(dims[..axis]), prod(dims[axis..])]`.
    Flatten {
        /// Split point, in `[-rank, rank]`.
        axis: i64,
    },
    /// Removes size-1 dims.
    Squeeze {
        /// From the attribute (opset < 13); `None`: input 1, or every size-1 dim without it.
        axes: Option<Vec<i64>>,
    },
    /// Inserts size-1 dims.
    Unsqueeze {
        /// From the attribute (opset < 13); `None`: input 1.
        axes: Option<Vec<i64>>,
    },
    /// Permutes dims.
    Transpose {
        /// Output dim `i` is input dim `perm[i]`; `None` reverses the dims.
        perm: Option<Vec<i64>>,
    },
    /// Joins the inputs along an axis.
    Concat {
        /// The joined axis (may be negative).
        axis: i64,
    },
    /// Cuts the input along an axis into the outputs.
    Split(SplitAttrs),
    /// Strided sub-tensor.
    Slice {
        /// `(starts, ends, axes)` attributes before opset 10; `None`: inputs 1..=4.
        attrs: Option<SliceAttrs>,
    },
    /// `data` indexed along `axis` by an index tensor.
    Gather {
        /// The indexed axis.
        axis: i64,
    },
    /// Elementwise gather along an axis (`out[i][j] = data[idx[i][j]][j]` for axis 0).
    GatherElements {
        /// The indexed axis.
        axis: i64,
    },
    /// Gather of slices by index tuples.
    GatherNd {
        /// Leading dims shared by data and indices.
        batch_dims: usize,
    },
    /// Copy of `data` with elements replaced (or reduced) at indices along an axis; also the
    /// deprecated `Scatter`.
    ScatterElements {
        /// The indexed axis.
        axis: i64,
        /// How an update combines with the existing element.
        reduction: ScatterReduction,
    },
    /// Copy of `data` with slices replaced (or reduced) at index tuples.
    ScatterNd {
        /// How an update combines with the existing slice.
        reduction: ScatterReduction,
    },
    /// KV-cache update: a copy of `past_cache` with `update` written along the sequence axis
    /// from each batch entry's write index (input 2, zeros when omitted).
    TensorScatter {
        /// The sequence axis (may be negative; never the batch axis 0).
        axis: i64,
        /// Write indices wrap around the cache length (else they must fit: `linear`).
        circular: bool,
    },
    /// Bidirectional broadcast to the shape in input 1.
    Expand,
    /// Repeats the input `repeats[i]` times along each dim.
    Tile,
    /// Pads (or crops, with negative pads) each dim.
    Pad(PadAttrs),
    /// Image-style interpolation (also the deprecated `Upsample`).
    Resize(Box<ResizeAttrs>),
    /// The input's shape (dims `start..end`) as a 1-D i64 tensor.
    Shape {
        /// First dim (may be negative; clamped).
        start: i64,
        /// One past the last dim (may be negative; clamped); `None`: the rank.
        end: Option<i64>,
    },
    /// The input's element count as an i64 scalar.
    Size,
    /// A tensor of the shape in input 0 filled with one value.
    ConstantOfShape {
        /// One-element tensor giving the dtype and the fill value.
        value: Tensor,
    },
    /// `start, start + delta, ...` below `limit` (inputs 0, 1, 2).
    Range,
    /// Indices of the non-zero elements, `[rank, count]`.
    NonZero,
    /// The k largest (or smallest) elements along an axis, and their indices.
    TopK(TopKAttrs),
    /// Unique elements (or slices along an axis) with indices, inverse indices and counts.
    Unique {
        /// Slices along this axis are compared; `None`: the flattened input's elements.
        axis: Option<i64>,
        /// Sorted ascending (else in order of first occurrence).
        sorted: bool,
    },
    /// Moves channel blocks into spatial blocks.
    DepthToSpace {
        /// Spatial block edge.
        blocksize: usize,
        /// Channel layout of the blocks.
        mode: BlockMode,
    },
    /// Moves spatial blocks into channel blocks.
    SpaceToDepth {
        /// Spatial block edge.
        blocksize: usize,
        /// Channel layout of the blocks.
        mode: BlockMode,
    },
    /// Keeps the upper or lower triangle of the last two dims (diagonal offset in input 1).
    Trilu {
        /// Keep the upper triangle (else the lower).
        upper: bool,
    },
    /// One-hot encoding of indices, `values = [off, on]`.
    OneHot {
        /// Where the new depth axis goes in the output.
        axis: i64,
    },
    /// A 2-D tensor with ones on a diagonal, shaped like the input.
    EyeLike {
        /// Output dtype; `None`: the input's.
        dtype: Option<DType>,
        /// Diagonal offset (positive: above the main diagonal).
        k: i64,
    },
    /// Center crop or zero pad to the sizes in input 1.
    CenterCropPad {
        /// The dims the sizes apply to; `None`: all.
        axes: Option<Vec<i64>>,
    },
    /// Slices (or elements) selected by a boolean condition.
    Compress {
        /// Selected axis; `None`: the flattened input.
        axis: Option<i64>,
    },
    /// Reverses the first `sequence_lens[b]` steps of each batch entry.
    ReverseSequence {
        /// The batch dim.
        batch_axis: i64,
        /// The time dim.
        time_axis: i64,
    },
}

/// `Split` attributes.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SplitAttrs {
    /// The cut axis (may be negative).
    pub axis: i64,
    /// Part sizes from the attribute (opset < 13); `None`: input 1 when given.
    pub split: Option<Vec<i64>>,
    /// Equal parts with a smaller last one (opset 18), when no sizes are given.
    pub num_outputs: Option<usize>,
    /// Number of outputs of the node.
    pub outputs: usize,
}

/// `Slice` parameters given as attributes (before opset 10; steps are 1).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SliceAttrs {
    /// First index per axis.
    pub starts: Vec<i64>,
    /// One past the last index per axis.
    pub ends: Vec<i64>,
    /// Sliced axes; `None`: `0..starts.len()`.
    pub axes: Option<Vec<i64>>,
}

/// How scattered updates combine with existing elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ScatterReduction {
    /// Replace.
    None,
    /// Add.
    Add,
    /// Multiply.
    Mul,
    /// Keep the maximum.
    Max,
    /// Keep the minimum.
    Min,
}

/// `Pad` border modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PadMode {
    /// A constant value.
    Constant,
    /// Mirror without repeating the edge element.
    Reflect,
    /// Repeat the edge element.
    Edge,
    /// Wrap around (periodic).
    Wrap,
}

/// `Pad` attributes.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PadAttrs {
    /// Border mode.
    pub mode: PadMode,
    /// `[begin..., end...]` from the attribute (opset < 11); `None`: input 1.
    pub pads: Option<Vec<i64>>,
    /// Constant from the attribute (opset < 11); from opset 11, input 2 (default 0).
    pub value: f32,
}

/// `TopK` attributes.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TopKAttrs {
    /// The searched axis.
    pub axis: i64,
    /// Largest (else smallest) elements.
    pub largest: bool,
    /// `k` from the attribute (opset 1); `None`: input 1.
    pub k: Option<i64>,
}

/// Channel layout of `DepthToSpace`/`SpaceToDepth` blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BlockMode {
    /// Depth-column-row: the block offset is the outer part of the channel.
    Dcr,
    /// Column-row-depth: the block offset is the inner part of the channel.
    Crd,
}

impl ShapeOp {
    /// Short name (the ONNX op type).
    pub fn name(&self) -> &'static str {
        match self {
            ShapeOp::Identity => "Identity",
            ShapeOp::Reshape { .. } => "Reshape",
            ShapeOp::Flatten { .. } => "Flatten",
            ShapeOp::Squeeze { .. } => "Squeeze",
            ShapeOp::Unsqueeze { .. } => "Unsqueeze",
            ShapeOp::Transpose { .. } => "Transpose",
            ShapeOp::Concat { .. } => "Concat",
            ShapeOp::Split(_) => "Split",
            ShapeOp::Slice { .. } => "Slice",
            ShapeOp::Gather { .. } => "Gather",
            ShapeOp::GatherElements { .. } => "GatherElements",
            ShapeOp::GatherNd { .. } => "GatherND",
            ShapeOp::ScatterElements { .. } => "ScatterElements",
            ShapeOp::ScatterNd { .. } => "ScatterND",
            ShapeOp::TensorScatter { .. } => "TensorScatter",
            ShapeOp::Expand => "Expand",
            ShapeOp::Tile => "Tile",
            ShapeOp::Pad(_) => "Pad",
            ShapeOp::Resize(_) => "Resize",
            ShapeOp::Shape { .. } => "Shape",
            ShapeOp::Size => "Size",
            ShapeOp::ConstantOfShape { .. } => "ConstantOfShape",
            ShapeOp::Range => "Range",
            ShapeOp::NonZero => "NonZero",
            ShapeOp::TopK(_) => "TopK",
            ShapeOp::Unique { .. } => "Unique",
            ShapeOp::DepthToSpace { .. } => "DepthToSpace",
            ShapeOp::SpaceToDepth { .. } => "SpaceToDepth",
            ShapeOp::Trilu { .. } => "Trilu",
            ShapeOp::OneHot { .. } => "OneHot",
            ShapeOp::EyeLike { .. } => "EyeLike",
            ShapeOp::CenterCropPad { .. } => "CenterCropPad",
            ShapeOp::Compress { .. } => "Compress",
            ShapeOp::ReverseSequence { .. } => "ReverseSequence",
        }
    }

    /// Output facts from input facts; see [`super::Op::infer`].
    pub fn infer(&self, inputs: &[Option<&Fact>]) -> Result<Vec<Fact>> {
        infer::infer(self, inputs)
    }
}
