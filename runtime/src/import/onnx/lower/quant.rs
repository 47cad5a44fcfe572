//! Lowering of type conversion and quantization ops.

use super::NodeCx;
use crate::ir::ops::quant::{
    AutoPad, CastAttrs, ConvAttrs, DequantizeAttrs, QuantOp, QuantizeAttrs,
};
use crate::ir::Op;
use crate::tensor::minifloat::E8M0Rounding;
use crate::{DType, Result};

/// `None` when the op type is not of this family.
pub(super) fn lower(cx: &NodeCx<'_>) -> Option<Result<Op>> {
    let op = match cx.op_type() {
        "Cast" => cast_attrs(cx, true).map(QuantOp::Cast),
        "CastLike" => cast_attrs(cx, false).map(QuantOp::CastLike),
        "BitCast" => bitcast(cx),
        "QuantizeLinear" => quantize(cx),
        "DequantizeLinear" => dequantize(cx),
        "DynamicQuantizeLinear" => Ok(QuantOp::DynamicQuantizeLinear),
        "MatMulInteger" => Ok(QuantOp::MatMulInteger),
        "QLinearMatMul" => Ok(QuantOp::QLinearMatMul),
        "ConvInteger" => conv_attrs(cx).map(QuantOp::ConvInteger),
        "QLinearConv" => conv_attrs(cx).map(QuantOp::QLinearConv),
        _ => return None,
    };
    Some(op.map(Op::Quant))
}

/// A dtype attribute (an ONNX `TensorProto.DataType` code); `None` when absent or 0.
fn dtype_attr(cx: &NodeCx<'_>, name: &str) -> Result<Option<DType>> {
    match cx.int(name)? {
        None | Some(0) => Ok(None),
        Some(8) => Err(cx.unsupported(format!("{name}: string tensors are not supported"))),
        Some(code) => i32::try_from(code)
            .ok()
            .and_then(DType::from_onnx_code)
            .map(Some)
            .ok_or_else(|| cx.unsupported(format!("{name}: data type {code} is not supported"))),
    }
}

fn cast_attrs(cx: &NodeCx<'_>, needs_to: bool) -> Result<CastAttrs> {
    let to = if needs_to {
        dtype_attr(cx, "to")?.ok_or_else(|| cx.invalid("attribute 'to' is required"))?
    } else {
        DType::F32 // unused: CastLike takes the type of its second input
    };
    let mode = cx.string_or("round_mode", "up")?;
    let round_mode = E8M0Rounding::parse(&mode)
        .ok_or_else(|| cx.invalid(format!("round_mode '{mode}' is not up, down or nearest")))?;
    Ok(CastAttrs {
        to,
        saturate: cx.int_or("saturate", 1)? != 0,
        round_mode,
    })
}

fn bitcast(cx: &NodeCx<'_>) -> Result<QuantOp> {
    let to = dtype_attr(cx, "to")?.ok_or_else(|| cx.invalid("attribute 'to' is required"))?;
    Ok(QuantOp::BitCast { to })
}

fn block_size(cx: &NodeCx<'_>) -> Result<usize> {
    usize::try_from(cx.int_or("block_size", 0)?)
        .map_err(|_| cx.invalid("block_size must not be negative"))
}

fn quantize(cx: &NodeCx<'_>) -> Result<QuantOp> {
    Ok(QuantOp::QuantizeLinear(QuantizeAttrs {
        axis: cx.int_or("axis", 1)?,
        block_size: block_size(cx)?,
        saturate: cx.int_or("saturate", 1)? != 0,
        output_dtype: dtype_attr(cx, "output_dtype")?,
        precision: dtype_attr(cx, "precision")?,
    }))
}

fn dequantize(cx: &NodeCx<'_>) -> Result<QuantOp> {
    Ok(QuantOp::DequantizeLinear(DequantizeAttrs {
        axis: cx.int_or("axis", 1)?,
        block_size: block_size(cx)?,
        output_dtype: dtype_attr(cx, "output_dtype")?,
    }))
}

fn conv_attrs(cx: &NodeCx<'_>) -> Result<ConvAttrs> {
    let auto_pad = match cx.string_or("auto_pad", "NOTSET")?.as_str() {
        "NOTSET" => AutoPad::NotSet,
        "SAME_UPPER" => AutoPad::SameUpper,
        "SAME_LOWER" => AutoPad::SameLower,
        "VALID" => AutoPad::Valid,
        other => return Err(cx.invalid(format!("auto_pad '{other}' is not a known mode"))),
    };
    let sizes = |name: &str| -> Result<Option<Vec<usize>>> {
        cx.ints(name)?
            .map(|v| {
                v.into_iter()
                    .map(|x| {
                        usize::try_from(x)
                            .map_err(|_| cx.invalid(format!("{name} has a negative entry")))
                    })
                    .collect()
            })
            .transpose()
    };
    let group = usize::try_from(cx.int_or("group", 1)?)
        .ok()
        .filter(|&g| g >= 1)
        .ok_or_else(|| cx.invalid("group must be at least 1"))?;
    Ok(ConvAttrs {
        auto_pad,
        kernel_shape: sizes("kernel_shape")?,
        strides: sizes("strides")?,
        dilations: sizes("dilations")?,
        pads: sizes("pads")?,
        group,
    })
}
