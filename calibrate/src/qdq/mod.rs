//! The QDQ writer: a float ONNX model plus a calibration table in, a standard ai.onnx QDQ
//! model out, laid out the way onnxruntime's `quantize_static(quant_format=QDQ)` lays it out:
//!
//! - weights become int8 initializers followed by `DequantizeLinear` (per output channel with
//!   an `axis` attribute, or per tensor), symmetric over [-127, 127];
//! - biases of Conv/Gemm become int32 initializers with scale `input_scale * weight_scale`
//!   and zero point 0, followed by `DequantizeLinear`;
//! - activations get a `QuantizeLinear -> DequantizeLinear` pair (int8 or uint8, from the
//!   table's range; symmetric or not), read by every consumer of the float tensor;
//! - data-movement ops (Reshape, Transpose, pooling, Resize...) reuse their input's
//!   parameters for their output, Relu/Clip after a quantized tensor are folded into the
//!   range of the tensor before them (asymmetric activations only), and Softmax outputs use
//!   [0, 1], all as onnxruntime does.
//!
//! The graph inputs and outputs keep their names, dtypes and shapes (a quantized graph output
//! is produced by the last DequantizeLinear under its original name), the IR version is kept,
//! and the default opset is raised only as far as needed (13 for per-channel weights, else
//! 10).

pub mod bias;
pub mod dynamic;
pub mod params;
mod plan;
mod write;

pub use bias::{BiasCorrection, BiasReport};
pub use params::{QParams, QType};
pub use write::fake_quantize;

use crate::onnx::{self, pb};
use crate::table::CalibrationTable;
use crate::Result;

/// The op types onnxruntime's `quantize_static` quantizes by default in QDQ format (the
/// union of its QLinear and QDQ registries), minus those this writer leaves in float:
/// Pad, Gather/GatherElements, Where, TopK, CumSum, ArgMax and the normalizations (see
/// [`plan`]).
pub const DEFAULT_OP_TYPES: &[&str] = &[
    "Conv",
    "ConvTranspose",
    "Gemm",
    "MatMul",
    "Add",
    "Mul",
    "Relu",
    "Clip",
    "LeakyRelu",
    "Sigmoid",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "Concat",
    "Softmax",
    "Reshape",
    "Transpose",
    "Squeeze",
    "Unsqueeze",
    "Flatten",
    "Slice",
    "Split",
    "Resize",
];

/// How to quantize.
#[derive(Clone, Debug)]
pub struct QdqOptions {
    /// Weights per output channel (true) or per tensor.
    pub per_channel: bool,
    /// Activation integer type.
    pub activations: QType,
    /// Symmetric activation ranges (zero point at the middle of the type's range).
    pub symmetric_activations: bool,
    /// The op types whose nodes are quantized.
    pub op_types: Vec<String>,
    /// Keep Relu/Clip nodes after quantized tensors instead of folding them into the range.
    pub keep_removable_activations: bool,
    /// Fold BatchNormalization and constant Mul/Add into the preceding Conv first (as
    /// `quant_pre_process`).
    pub fold_into_conv: bool,
}

impl Default for QdqOptions {
    fn default() -> Self {
        QdqOptions {
            per_channel: true,
            // int8 activations: equal to uint8 under Mote (the two grids differ only by a
            // shift of 128), and more accurate under onnxruntime on x86 (PP-OCRv4 rec cosine
            // 0.9509 vs 0.9482 against FP32), whose u8s8 kernels can saturate.
            activations: QType::S8,
            symmetric_activations: false,
            op_types: DEFAULT_OP_TYPES.iter().map(|s| s.to_string()).collect(),
            keep_removable_activations: false,
            fold_into_conv: true,
        }
    }
}

/// What the writer did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QdqReport {
    /// Nodes whose tensors were quantized.
    pub quantized_nodes: usize,
    /// Activation tensors given a QuantizeLinear/DequantizeLinear pair.
    pub activations: usize,
    /// Weight initializers stored as int8.
    pub weights: usize,
    /// Biases stored as int32.
    pub biases: usize,
    /// Relu/Clip nodes folded into the range before them.
    pub removed_activations: usize,
    /// BatchNormalization and constant Mul/Add nodes folded into the Conv before them.
    pub folded_into_conv: usize,
    /// Tensors a quantized node needed but the table has no range for (left in float).
    pub missing_ranges: Vec<String>,
}

/// The float model [`quantize_static`] starts from: constants hoisted, BatchNormalization and
/// constant Mul/Add folded into Conv (when `opts.fold_into_conv`), nodes sorted, and, when
/// `equalize` is set, Conv pairs equalized ([`onnx::equalize`]). Calibrating this model
/// instead of the original is what `--equalize` and `--bias-correction` need: their weights
/// and biases are the ones that get quantized. Returns the model, how many nodes were folded,
/// and the equalization report.
pub fn prepare_float(
    model: &pb::ModelProto,
    opts: &QdqOptions,
    equalize: bool,
) -> Result<(
    pb::ModelProto,
    usize,
    Option<onnx::equalize::EqualizeReport>,
)> {
    let mut model = model.clone();
    let g = onnx::graph_mut(&mut model)?;
    onnx::graph::hoist_constants(g);
    let folded = if opts.fold_into_conv {
        onnx::fold::fold_into_conv(g)?
    } else {
        0
    };
    onnx::graph::topo_sort(g)?;
    let report = if equalize {
        Some(onnx::equalize::equalize(g)?)
    } else {
        None
    };
    Ok((model, folded, report))
}

/// Rewrites `model` (cloned) as a QDQ model with the ranges of `table`.
pub fn quantize_static(
    model: &pb::ModelProto,
    table: &CalibrationTable,
    opts: &QdqOptions,
) -> Result<(pb::ModelProto, QdqReport)> {
    let mut model = model.clone();
    let mut report = QdqReport::default();
    {
        let g = onnx::graph_mut(&mut model)?;
        onnx::graph::hoist_constants(g);
        if opts.fold_into_conv {
            report.folded_into_conv = onnx::fold::fold_into_conv(g)?;
        }
        onnx::graph::topo_sort(g)?;
    }
    let needed = if opts.per_channel { 13 } else { 10 };
    onnx::upgrade::upgrade(&mut model, needed)?;
    let opset = onnx::opset(&model);
    let g = onnx::graph_mut(&mut model)?;
    let plan = plan::plan(g, table, opts, opset, &mut report)?;
    write::apply(g, &plan, opts, &mut report)?;
    onnx::fold::remove_unused_initializers(g);
    onnx::graph::topo_sort(g)?;
    Ok((model, report))
}
