//! Type conversion and quantization: `Cast`, `CastLike`, `BitCast`, `QuantizeLinear`,
//! `DequantizeLinear`, `DynamicQuantizeLinear` and the integer matmul/conv ops.

mod conv;
mod int8;
mod tables_serde;

pub use conv::{AutoPad, ConvAttrs, ConvGeometry};
pub use int8::{
    ChannelLut, DynamicQMatMul, Lut, QBinary, QConv, QConvTranspose, QGlobalAveragePool, QMatMul,
    QResize, QSoftmax, Quant8,
};

use super::infer_util::{dtype, shape};
use crate::ir::Fact;
use crate::tensor::minifloat::E8M0Rounding;
use crate::{bail, DType, Result};

/// Type conversion and quantization.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum QuantOp {
    /// Converts input 0 to `to`.
    Cast(CastAttrs),
    /// Converts input 0 to the dtype of input 1 (`attrs.to` is unused).
    CastLike(CastAttrs),
    /// Reinterprets the bits of input 0 as `to`, a type of the same bit width.
    BitCast {
        /// Target type.
        to: DType,
    },
    /// `y = saturate(round(x / scale) + zero_point)`.
    QuantizeLinear(QuantizeAttrs),
    /// `y = (x - zero_point) * scale`.
    DequantizeLinear(DequantizeAttrs),
    /// u8 quantization with scale and zero point computed from the input's range.
    DynamicQuantizeLinear,
    /// Integer matmul of 8-bit inputs minus their zero points, into i32.
    MatMulInteger,
    /// Quantized matmul: integer product requantized to the output's scale and zero point.
    QLinearMatMul,
    /// Integer convolution of 8-bit inputs minus their zero points, into i32.
    ConvInteger(ConvAttrs),
    /// Quantized convolution, requantized to the output's scale and zero point.
    QLinearConv(ConvAttrs),
    /// 8-bit convolution made by QDQ folding (see [`int8`]).
    QConv(Box<QConv>),
    /// 8-bit product with constant weights made by QDQ folding.
    QMatMul(Box<QMatMul>),
    /// 8-bit element-wise function as a lookup table, made by QDQ folding.
    Lut(Lut),
    /// 8-bit element-wise binary op, made by QDQ folding.
    QBinary(QBinary),
    /// 8-bit global average pooling, made by QDQ folding.
    QGlobalAveragePool(QGlobalAveragePool),
    /// 8-bit non-overlapping transposed convolution, made by QDQ folding.
    QConvTranspose(Box<QConvTranspose>),
    /// 8-bit per-channel element-wise function as tables, made by QDQ folding.
    ChannelLut(ChannelLut),
    /// `f32` product through dynamically quantized 8-bit activations and constant 8-bit
    /// weights, made by folding the `DynamicQuantizeLinear → MatMulInteger` chain.
    DynamicQMatMul(Box<DynamicQMatMul>),
    /// 8-bit softmax over the last axis, made by QDQ folding.
    QSoftmax(QSoftmax),
    /// 8-bit linear or cubic resize, made by QDQ folding.
    QResize(Box<QResize>),
}

/// Attributes of `Cast` / `CastLike`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CastAttrs {
    /// Target type (`Cast` only).
    pub to: DType,
    /// Out-of-range values saturate when converting to float8 (ONNX `saturate`).
    pub saturate: bool,
    /// Rounding to float8 e8m0.
    pub round_mode: E8M0Rounding,
}

/// Attributes of `QuantizeLinear`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QuantizeAttrs {
    /// Quantization axis for per-axis and blocked scales (may be negative).
    pub axis: i64,
    /// Block size along `axis` for blocked quantization; 0 for per-tensor/per-axis.
    pub block_size: usize,
    /// Saturation of float8 results.
    pub saturate: bool,
    /// Output type when there is no zero point (default u8).
    pub output_dtype: Option<DType>,
    /// Type in which `x / scale` is computed (default: numpy promotion of x and scale).
    pub precision: Option<DType>,
}

/// Attributes of `DequantizeLinear`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DequantizeAttrs {
    /// Quantization axis for per-axis and blocked scales (may be negative).
    pub axis: i64,
    /// Block size along `axis` for blocked quantization; 0 for per-tensor/per-axis.
    pub block_size: usize,
    /// Output type (default: the scale's type).
    pub output_dtype: Option<DType>,
}

impl QuantizeAttrs {
    /// The output type given the zero point's type (`None`: no zero point input), or an
    /// error when the two disagree.
    pub fn output_type(&self, zero_point: Option<DType>) -> Result<DType> {
        match (zero_point, self.output_dtype) {
            (Some(z), Some(o)) if z != o => {
                bail!(
                    dtype,
                    "QuantizeLinear output_dtype {o} differs from the zero point's {z}"
                )
            }
            (Some(z), _) => Ok(z),
            (None, o) => Ok(o.unwrap_or(DType::U8)),
        }
    }
}

impl QuantOp {
    /// Short name (the ONNX op type).
    pub fn name(&self) -> &'static str {
        match self {
            QuantOp::Cast(_) => "Cast",
            QuantOp::CastLike(_) => "CastLike",
            QuantOp::BitCast { .. } => "BitCast",
            QuantOp::QuantizeLinear(_) => "QuantizeLinear",
            QuantOp::DequantizeLinear(_) => "DequantizeLinear",
            QuantOp::DynamicQuantizeLinear => "DynamicQuantizeLinear",
            QuantOp::MatMulInteger => "MatMulInteger",
            QuantOp::QLinearMatMul => "QLinearMatMul",
            QuantOp::ConvInteger(_) => "ConvInteger",
            QuantOp::QLinearConv(_) => "QLinearConv",
            QuantOp::QConv(_) => "QConv",
            QuantOp::QMatMul(_) => "QMatMul",
            QuantOp::Lut(_) => "Lut",
            QuantOp::QBinary(_) => "QBinary",
            QuantOp::QGlobalAveragePool(_) => "QGlobalAveragePool",
            QuantOp::QConvTranspose(_) => "QConvTranspose",
            QuantOp::ChannelLut(_) => "ChannelLut",
            QuantOp::DynamicQMatMul(_) => "DynamicQMatMul",
            QuantOp::QSoftmax(_) => "QSoftmax",
            QuantOp::QResize(_) => "QResize",
        }
    }

    /// Output facts from input facts; see [`super::Op::infer`].
    pub fn infer(&self, inputs: &[Option<&Fact>]) -> Result<Vec<Fact>> {
        let same_shape = |dt: Option<DType>| Fact {
            dtype: dt,
            shape: shape(inputs, 0).map(<[usize]>::to_vec),
            value: None,
        };
        Ok(match self {
            QuantOp::Cast(a) => vec![same_shape(Some(a.to))],
            QuantOp::CastLike(_) => vec![same_shape(dtype(inputs, 1))],
            QuantOp::BitCast { to } => {
                if let Some(from) = dtype(inputs, 0) {
                    check_bitcast(from, *to)?;
                }
                vec![same_shape(Some(*to))]
            }
            QuantOp::QuantizeLinear(a) => {
                let out = match inputs.get(2).copied().flatten() {
                    None => Some(a.output_type(None)?),
                    Some(zp) => zp.dtype.map(|z| a.output_type(Some(z))).transpose()?,
                };
                vec![same_shape(out)]
            }
            QuantOp::DequantizeLinear(a) => vec![same_shape(a.output_dtype.or(dtype(inputs, 1)))],
            QuantOp::DynamicQuantizeLinear => vec![
                same_shape(Some(DType::U8)),
                Fact::typed(DType::F32, vec![]),
                Fact::typed(DType::U8, vec![]),
            ],
            QuantOp::MatMulInteger => vec![Fact {
                dtype: Some(DType::I32),
                shape: matmul_shape(shape(inputs, 0), shape(inputs, 1))?,
                value: None,
            }],
            QuantOp::QLinearMatMul => vec![Fact {
                dtype: dtype(inputs, 7),
                shape: matmul_shape(shape(inputs, 0), shape(inputs, 3))?,
                value: None,
            }],
            QuantOp::ConvInteger(a) => vec![Fact {
                dtype: Some(DType::I32),
                shape: conv_shape(a, shape(inputs, 0), shape(inputs, 1))?,
                value: None,
            }],
            QuantOp::QLinearConv(a) => {
                // Without a zero point the output takes the input's type.
                let out = match inputs.get(7).copied().flatten() {
                    Some(zp) => zp.dtype,
                    None => dtype(inputs, 0),
                };
                vec![Fact {
                    dtype: out,
                    shape: conv_shape(a, shape(inputs, 0), shape(inputs, 3))?,
                    value: None,
                }]
            }
            QuantOp::QConv(q) => vec![Fact {
                dtype: Some(q.y.dtype()),
                shape: crate::ir::ops::nn::conv_shape(&q.conv, shape(inputs, 0), shape(inputs, 1))?,
                value: None,
            }],
            QuantOp::QMatMul(q) => {
                let w = match (shape(inputs, 1), q.trans_b) {
                    (Some(&[n, k]), true) => Some(vec![k, n]),
                    (w, _) => w.map(<[usize]>::to_vec),
                };
                vec![Fact {
                    dtype: Some(q.y.dtype()),
                    shape: matmul_shape(shape(inputs, 0), w.as_deref())?,
                    value: None,
                }]
            }
            QuantOp::DynamicQMatMul(_) => vec![Fact {
                dtype: Some(DType::F32),
                shape: matmul_shape(shape(inputs, 0), shape(inputs, 1))?,
                value: None,
            }],
            QuantOp::Lut(l) => vec![same_shape(Some(l.output))],
            QuantOp::ChannelLut(l) => vec![same_shape(Some(l.output))],
            QuantOp::QConvTranspose(q) => {
                let s = match (shape(inputs, 0), shape(inputs, 1)) {
                    (Some(&[n, _, h, w]), Some(&[_, c, kh, kw])) => {
                        Some(vec![n, c, h * kh, w * kw])
                    }
                    _ => None,
                };
                vec![Fact {
                    dtype: Some(q.y.dtype()),
                    shape: s,
                    value: None,
                }]
            }
            QuantOp::QBinary(q) => {
                let s = match (shape(inputs, 0), shape(inputs, 1)) {
                    (Some(a), Some(b)) => Some(crate::tensor::broadcast_shapes(&[a, b])?),
                    _ => None,
                };
                vec![Fact {
                    dtype: Some(q.y.dtype()),
                    shape: s,
                    value: None,
                }]
            }
            QuantOp::QSoftmax(q) => vec![Fact {
                dtype: Some(q.y.dtype()),
                shape: shape(inputs, 0).map(|s| s.to_vec()),
                value: None,
            }],
            QuantOp::QResize(q) => vec![Fact {
                dtype: Some(q.y.dtype()),
                shape: crate::ir::ops::shape::infer::resize_shape(&q.resize, inputs).transpose()?,
                value: None,
            }],
            QuantOp::QGlobalAveragePool(q) => {
                let s = shape(inputs, 0).map(|x| {
                    x.iter()
                        .enumerate()
                        .map(|(i, &d)| if i < 2 { d } else { 1 })
                        .collect()
                });
                vec![Fact {
                    dtype: Some(q.y.dtype()),
                    shape: s,
                    value: None,
                }]
            }
        })
    }
}

/// Bits per element of `dtype` in ONNX terms (sub-byte types count their own width, not the
/// byte Mote stores them in).
pub fn bit_width(dtype: DType) -> usize {
    match dtype {
        DType::U4 | DType::I4 | DType::F4E2M1 => 4,
        DType::U2 | DType::I2 => 2,
        other => other.size() * 8,
    }
}

/// `BitCast` needs source and target of one bit width.
pub fn check_bitcast(from: DType, to: DType) -> Result<()> {
    let (a, b) = (bit_width(from), bit_width(to));
    if a != b {
        bail!(
            dtype,
            "BitCast from {from} ({a} bits) to {to} ({b} bits): the widths must be equal"
        );
    }
    Ok(())
}

fn conv_shape(
    a: &ConvAttrs,
    x: Option<&[usize]>,
    w: Option<&[usize]>,
) -> Result<Option<Vec<usize>>> {
    match (x, w) {
        (Some(x), Some(w)) => Ok(Some(a.resolve(x, w)?.1)),
        _ => Ok(None),
    }
}

/// The output shape of numpy `matmul` (1-D operands promoted and their axis dropped, batch
/// dimensions broadcast).
pub fn matmul_output_shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    if a.is_empty() || b.is_empty() {
        bail!(shape, "matmul of a scalar: {a:?} x {b:?}");
    }
    let (ka, kb) = (
        a[a.len() - 1],
        if b.len() == 1 { b[0] } else { b[b.len() - 2] },
    );
    if ka != kb {
        bail!(shape, "matmul inner dimensions differ: {a:?} x {b:?}");
    }
    let batch_a = if a.len() > 2 {
        &a[..a.len() - 2]
    } else {
        &[][..]
    };
    let batch_b = if b.len() > 2 {
        &b[..b.len() - 2]
    } else {
        &[][..]
    };
    let mut out = crate::tensor::broadcast_shapes(&[batch_a, batch_b])?;
    if a.len() > 1 {
        out.push(a[a.len() - 2]);
    }
    if b.len() > 1 {
        out.push(b[b.len() - 1]);
    }
    Ok(out)
}

fn matmul_shape(a: Option<&[usize]>, b: Option<&[usize]>) -> Result<Option<Vec<usize>>> {
    match (a, b) {
        (Some(a), Some(b)) => Ok(Some(matmul_output_shape(a, b)?)),
        _ => Ok(None),
    }
}
