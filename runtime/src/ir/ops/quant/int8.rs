//! The 8-bit integer ops Mote runs quantized models with. Import never produces them: the QDQ
//! folding pass (`passes::quant`) rewrites `DequantizeLinear → float op → QuantizeLinear`
//! patterns into them, so tensors stay 8-bit between ops and products accumulate in `i32`.
//!
//! Every op's result is defined as the QDQ pattern it replaces defines it (dequantize, compute in
//! `f32`, quantize with round-half-to-even and saturation); the integer formulations in the
//! backend differ from that only where the pattern's own `f32` arithmetic rounds (products are
//! exact in `i32` here, and the requantization rounds once), as onnxruntime's do.

use crate::ir::ops::elementwise::Binary;
use crate::ir::ops::nn::Conv;
use crate::ir::ops::shape::ResizeAttrs;
use crate::DType;
use std::sync::Arc;

/// Per-tensor quantization of an 8-bit value: `real = (q − zero_point) · scale`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Quant8 {
    /// Step between consecutive integers.
    pub scale: f32,
    /// The integer that stands for real zero.
    pub zero_point: i32,
    /// `i8` when true, `u8` otherwise.
    pub signed: bool,
}

impl Quant8 {
    /// The stored element type.
    pub fn dtype(&self) -> DType {
        if self.signed {
            DType::I8
        } else {
            DType::U8
        }
    }

    /// The integer range of the stored type.
    pub fn range(&self) -> (i32, i32) {
        if self.signed {
            (-128, 127)
        } else {
            (0, 255)
        }
    }

    /// `(q − zero_point) · scale` for the raw byte `bits`.
    pub fn dequantize(&self, bits: u8) -> f32 {
        let q = if self.signed {
            bits as i8 as i32
        } else {
            bits as i32
        };
        (q - self.zero_point) as f32 * self.scale
    }
}

/// A convolution over 8-bit input and weights with `i32` accumulation, requantized to an 8-bit
/// output. Inputs: `x` (8-bit, `[N, C, spatial...]`), `w` (constant 8-bit, the `Conv` weight
/// layout), `bias` (optional constant `i32` `[C_out]` in units of `x.scale · w_scale[c]`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QConv {
    /// Geometry and groups.
    pub conv: Conv,
    /// The input's quantization.
    pub x: Quant8,
    /// Weight scales: one, or one per output channel.
    pub w_scale: Vec<f32>,
    /// Weight zero points, aligned with `w_scale`.
    pub w_zero_point: Vec<i32>,
    /// The output's quantization.
    pub y: Quant8,
    /// A 256-entry function applied to each requantized output byte (element-wise ops folded
    /// in after the conv, e.g. an activation and its requantization).
    #[serde(with = "super::tables_serde::opt_table")]
    pub lut: Option<Arc<[u8; 256]>>,
}

/// `Y = A · W (+ bias)` with constant 8-bit 2-D weights (`MatMul` `[K, N]`, or `Gemm` with
/// `transB` `[N, K]`), `i32` accumulation, requantized. Inputs: `a` (8-bit, `[..., M, K]`),
/// `w` (constant 8-bit), `bias` (optional constant `i32` `[N]` in units of `a.scale ·
/// w_scale[n]`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QMatMul {
    /// `w` is stored `[N, K]`.
    pub trans_b: bool,
    /// The activation's quantization.
    pub a: Quant8,
    /// Weight scales: one, or one per output column.
    pub w_scale: Vec<f32>,
    /// Weight zero points, aligned with `w_scale`.
    pub w_zero_point: Vec<i32>,
    /// The output's quantization.
    pub y: Quant8,
    /// Applied to each requantized output byte, as in [`QConv::lut`].
    #[serde(with = "super::tables_serde::opt_table")]
    pub lut: Option<Arc<[u8; 256]>>,
}

/// `Y = DynamicQuantizeLinear(X) · W` dequantized, `+ bias`: the dynamic-quantization product
/// (onnxruntime's `quantize_dynamic`), made by folding `DynamicQuantizeLinear → MatMulInteger
/// → Cast(f32) → Mul(x_scale · w_scale) (→ Add bias)`. Inputs: `x` (`f32`, `[..., M, K]`), `w`
/// (constant 8-bit `[K, N]`), `bias` (optional constant `f32` `[N]`).
///
/// Defined as the chain computes it: `x` is quantized to `u8` with the scale and zero point
/// ONNX `DynamicQuantizeLinear` derives from its range, `acc = Σ_k (xq − x_zp)·(w − w_zp[n])`
/// exactly in `i32`, then `y = (acc as f32) · (x_scale · w_scale[n])` (one `f32` product of
/// the two scales, one of the result) and `y + bias[n]`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DynamicQMatMul {
    /// Weight scales: one, or one per output column.
    pub w_scale: Vec<f32>,
    /// Weight zero points (in the weights' type), one or one per output column.
    pub w_zero_point: Vec<i32>,
}

/// An element-wise function of one 8-bit input as a table of its 256 results: any unary float
/// op (or binary op with a constant scalar) between a dequantize and a quantize, evaluated once
/// per possible input when the model loads.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Lut {
    /// Output type (`u8` or `i8`).
    pub output: DType,
    /// `table[input byte]` is the output byte.
    #[serde(with = "super::tables_serde::table")]
    pub table: Arc<[u8; 256]>,
}

/// `Y = Q(op(DQ(A), DQ(B)))` with numpy broadcasting.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QBinary {
    /// `Add`, `Sub`, `Mul` or `Div`.
    pub op: Binary,
    /// `A`'s quantization.
    pub a: Quant8,
    /// `B`'s quantization.
    pub b: Quant8,
    /// The output's quantization.
    pub y: Quant8,
}

/// `GlobalAveragePool` of an 8-bit tensor: `i32` sums, one rounding.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QGlobalAveragePool {
    /// The input's quantization.
    pub x: Quant8,
    /// The output's quantization.
    pub y: Quant8,
}

/// `Softmax` over the last axis of an 8-bit tensor into an 8-bit tensor: `Y = Q_y(softmax(DQ_x(X)))`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QSoftmax {
    /// The input's quantization.
    pub x: Quant8,
    /// The output's quantization.
    pub y: Quant8,
}

/// A linear or cubic `Resize` of an 8-bit tensor into an 8-bit tensor: `Y = Q_y(resize(DQ_x(X)))`.
/// The interpolation is a weighted sum of input elements, so it runs on `x − x.zero_point` and
/// is scaled once by `x.scale / y.scale`; positions outside a `tf_crop_and_resize` region take
/// `Q_y(extrapolation_value)`. Inputs as the `Resize` it replaces (`resize`'s input positions
/// for the region of interest, scales and sizes).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QResize {
    /// The `Resize` attributes (mode, coordinate transform, weights' options).
    pub resize: ResizeAttrs,
    /// The input's quantization.
    pub x: Quant8,
    /// The output's quantization.
    pub y: Quant8,
}

/// A transposed convolution whose stride equals its kernel, without padding or dilation
/// (2-D, one group): every input pixel writes its own `kh × kw` output patch, so it is one 8-bit
/// GEMM (`[C_out · kh · kw, C_in] · [C_in, H · W]`) and a scatter, no overlap to sum. Inputs:
/// `x` (8-bit `[N, C_in, H, W]`), `w` (constant 8-bit `[C_in, C_out, kh, kw]`), `bias`
/// (optional constant `i32` `[C_out]`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QConvTranspose {
    /// The input's quantization.
    pub x: Quant8,
    /// Weight scales: one, or one per output channel.
    pub w_scale: Vec<f32>,
    /// Weight zero points, aligned with `w_scale`.
    pub w_zero_point: Vec<i32>,
    /// The output's quantization.
    pub y: Quant8,
    /// Applied to each requantized output byte, as in [`QConv::lut`].
    #[serde(with = "super::tables_serde::opt_table")]
    pub lut: Option<Arc<[u8; 256]>>,
}

/// One 256-entry table per channel (axis 1): an element-wise op whose constants vary along the
/// channel axis only (`BatchNormalization`, a per-channel `Add`/`Mul`, `PRelu`), between a
/// dequantize and a quantize.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChannelLut {
    /// Output type (`u8` or `i8`).
    pub output: DType,
    /// `tables[c][input byte]` is the output byte of channel `c`.
    #[serde(with = "super::tables_serde::table_vec")]
    pub tables: Arc<Vec<[u8; 256]>>,
}
