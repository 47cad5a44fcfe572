//! Lowering of the signal ops: `DFT` (axis an attribute before opset 20, an input from it),
//! `STFT`, the window generators and `MelWeightMatrix`.

use super::NodeCx;
use crate::ir::ops::signal::{Dft, MelWeightMatrix, SignalOp, Stft, Window, WindowKind};
use crate::ir::Op;
use crate::{DType, Result};

/// The opset from which `DFT` takes its axis as input 2 (default -2).
const DFT_AXIS_INPUT_SINCE: i64 = 20;

/// `None` when the op type is not of this family.
pub(super) fn lower(cx: &NodeCx<'_>) -> Option<Result<Op>> {
    let op = match cx.op_type() {
        "DFT" => dft(cx),
        "STFT" => stft(cx),
        "HannWindow" => window(cx, WindowKind::Hann),
        "HammingWindow" => window(cx, WindowKind::Hamming),
        "BlackmanWindow" => window(cx, WindowKind::Blackman),
        "MelWeightMatrix" => {
            output_datatype(cx).map(|dtype| SignalOp::MelWeightMatrix(MelWeightMatrix { dtype }))
        }
        _ => return None,
    };
    Some(op.map(Op::Signal))
}

fn dft(cx: &NodeCx<'_>) -> Result<SignalOp> {
    let axis = if cx.opset >= DFT_AXIS_INPUT_SINCE {
        if cx.has_attr("axis") {
            return Err(cx.invalid("axis is an input from opset 20 on, not an attribute"));
        }
        -2
    } else {
        if cx.input_count() > 2 {
            return Err(cx.invalid("DFT takes at most 2 inputs before opset 20"));
        }
        cx.int_or("axis", 1)?
    };
    Ok(SignalOp::Dft(Dft {
        axis,
        inverse: cx.int_or("inverse", 0)? != 0,
        onesided: cx.int_or("onesided", 0)? != 0,
    }))
}

fn stft(cx: &NodeCx<'_>) -> Result<SignalOp> {
    Ok(SignalOp::Stft(Stft {
        onesided: cx.int_or("onesided", 1)? != 0,
    }))
}

fn window(cx: &NodeCx<'_>, kind: WindowKind) -> Result<SignalOp> {
    Ok(SignalOp::Window(Window {
        kind,
        periodic: cx.int_or("periodic", 1)? != 0,
        dtype: output_datatype(cx)?,
    }))
}

/// The `output_datatype` attribute (default float), limited to types with arithmetic.
fn output_datatype(cx: &NodeCx<'_>) -> Result<DType> {
    let code = cx.int_or("output_datatype", 1)?;
    let dtype = i32::try_from(code)
        .ok()
        .and_then(DType::from_onnx_code)
        .ok_or_else(|| cx.unsupported(format!("output_datatype {code}")))?;
    if dtype.is_float() || (dtype.is_integer() && !is_sub_byte(dtype)) {
        Ok(dtype)
    } else {
        Err(cx.unsupported(format!("output_datatype {dtype}")))
    }
}

/// 4- and 2-bit integers are stored a byte each but have no arithmetic here.
fn is_sub_byte(dtype: DType) -> bool {
    matches!(dtype, DType::U4 | DType::I4 | DType::U2 | DType::I2)
}
