//! Lowering of elementwise ONNX ops: unary math and activations, binary operators,
//! variadic `Sum`/`Mean`/`Max`/`Min`, `Where`, `Clip` and `Dropout`.

use super::NodeCx;
use crate::ir::ops::elementwise::{Binary, Clip, Dropout, ElementwiseOp, Unary, Variadic};
use crate::ir::Op;
use crate::Result;

/// `None` when the op type is not of this family.
pub(super) fn lower(cx: &NodeCx<'_>) -> Option<Result<Op>> {
    lower_op(cx).transpose().map(|op| op.map(Op::Elementwise))
}

fn lower_op(cx: &NodeCx<'_>) -> Result<Option<ElementwiseOp>> {
    if let Some(u) = unary(cx)? {
        expect_inputs(cx, 1, 1)?;
        return Ok(Some(ElementwiseOp::Unary(u)));
    }
    if let Some(b) = binary(cx)? {
        expect_inputs(cx, 2, 2)?;
        return with_legacy_broadcast(cx, b).map(Some);
    }
    if let Some(v) = variadic(cx) {
        expect_inputs(cx, 1, usize::MAX)?;
        return Ok(Some(ElementwiseOp::Variadic(v)));
    }
    Ok(Some(match cx.op_type() {
        "Where" => {
            expect_inputs(cx, 3, 3)?;
            ElementwiseOp::Where
        }
        "Clip" => clip(cx)?,
        "Dropout" => dropout(cx)?,
        _ => return Ok(None),
    }))
}

/// Unary ops, with their attributes parsed.
fn unary(cx: &NodeCx<'_>) -> Result<Option<Unary>> {
    Ok(Some(match cx.op_type() {
        "Abs" => Unary::Abs,
        "Neg" => Unary::Neg,
        "Exp" => Unary::Exp,
        "Log" => Unary::Log,
        "Sqrt" => Unary::Sqrt,
        "Reciprocal" => Unary::Reciprocal,
        "Floor" => Unary::Floor,
        "Ceil" => Unary::Ceil,
        "Round" => Unary::Round,
        "Sign" => Unary::Sign,
        "Sin" => Unary::Sin,
        "Cos" => Unary::Cos,
        "Tan" => Unary::Tan,
        "Asin" => Unary::Asin,
        "Acos" => Unary::Acos,
        "Atan" => Unary::Atan,
        "Sinh" => Unary::Sinh,
        "Cosh" => Unary::Cosh,
        "Asinh" => Unary::Asinh,
        "Acosh" => Unary::Acosh,
        "Atanh" => Unary::Atanh,
        "Erf" => Unary::Erf,
        "IsNaN" => Unary::IsNaN,
        "Not" => Unary::Not,
        "BitwiseNot" => Unary::BitwiseNot,
        "Relu" => Unary::Relu,
        "Sigmoid" => Unary::Sigmoid,
        "HardSwish" => Unary::HardSwish,
        "Softplus" => Unary::Softplus,
        "Softsign" => Unary::Softsign,
        "Tanh" => Unary::Tanh,
        "Mish" => Unary::Mish,
        "IsInf" => Unary::IsInf {
            detect_positive: cx.int_or("detect_positive", 1)? != 0,
            detect_negative: cx.int_or("detect_negative", 1)? != 0,
        },
        "LeakyRelu" => Unary::LeakyRelu {
            alpha: cx.float_or("alpha", 0.01)?,
        },
        "Elu" => Unary::Elu {
            alpha: cx.float_or("alpha", 1.0)?,
        },
        "Selu" => Unary::Selu {
            alpha: cx.float_or("alpha", 1.673_263_2)?,
            gamma: cx.float_or("gamma", 1.050_701)?,
        },
        "Celu" => Unary::Celu {
            alpha: cx.float_or("alpha", 1.0)?,
        },
        "HardSigmoid" => Unary::HardSigmoid {
            alpha: cx.float_or("alpha", 0.2)?,
            beta: cx.float_or("beta", 0.5)?,
        },
        "ThresholdedRelu" => Unary::ThresholdedRelu {
            alpha: cx.float_or("alpha", 1.0)?,
        },
        "Shrink" => Unary::Shrink {
            bias: cx.float_or("bias", 0.0)?,
            lambd: cx.float_or("lambd", 0.5)?,
        },
        "Swish" => Unary::Swish {
            alpha: cx.float_or("alpha", 1.0)?,
        },
        "Gelu" => match cx.string_or("approximate", "none")?.as_str() {
            "none" => Unary::Gelu {
                tanh_approximation: false,
            },
            "tanh" => Unary::Gelu {
                tanh_approximation: true,
            },
            other => return Err(cx.unsupported(format!("approximate=\"{other}\""))),
        },
        _ => return Ok(None),
    }))
}

/// Binary ops, with their attributes parsed.
fn binary(cx: &NodeCx<'_>) -> Result<Option<Binary>> {
    Ok(Some(match cx.op_type() {
        "Add" => Binary::Add,
        "Sub" => Binary::Sub,
        "Mul" => Binary::Mul,
        "Div" => Binary::Div,
        "Pow" => Binary::Pow,
        "Equal" => Binary::Equal,
        "Less" => Binary::Less,
        "Greater" => Binary::Greater,
        "LessOrEqual" => Binary::LessOrEqual,
        "GreaterOrEqual" => Binary::GreaterOrEqual,
        "And" => Binary::And,
        "Or" => Binary::Or,
        "Xor" => Binary::Xor,
        "BitwiseAnd" => Binary::BitwiseAnd,
        "BitwiseOr" => Binary::BitwiseOr,
        "BitwiseXor" => Binary::BitwiseXor,
        "PRelu" => Binary::PRelu,
        "Mod" => Binary::Mod {
            fmod: cx.int_or("fmod", 0)? != 0,
        },
        "BitShift" => match cx.string("direction")?.as_deref() {
            Some("LEFT") => Binary::BitShiftLeft,
            Some("RIGHT") => Binary::BitShiftRight,
            Some(other) => {
                return Err(cx.invalid(format!("direction \"{other}\" is neither LEFT nor RIGHT")))
            }
            None => return Err(cx.invalid("the direction attribute is required")),
        },
        _ => return Ok(None),
    }))
}

/// Opsets before 7 broadcast only with `broadcast=1`, right-aligned unless `axis` is given.
/// Numpy broadcasting accepts everything those rules accept (equal shapes, suffixes), so only
/// an explicit `axis` needs its own op.
fn with_legacy_broadcast(cx: &NodeCx<'_>, op: Binary) -> Result<ElementwiseOp> {
    if cx.int_or("broadcast", 0)? != 0 {
        if let Some(axis) = cx.int("axis")? {
            return Ok(ElementwiseOp::BinaryAtAxis { op, axis });
        }
    }
    Ok(ElementwiseOp::Binary(op))
}

fn variadic(cx: &NodeCx<'_>) -> Option<Variadic> {
    Some(match cx.op_type() {
        "Sum" => Variadic::Sum,
        "Mean" => Variadic::Mean,
        "Max" => Variadic::Max,
        "Min" => Variadic::Min,
        _ => return None,
    })
}

fn clip(cx: &NodeCx<'_>) -> Result<ElementwiseOp> {
    if cx.opset >= 11 {
        expect_inputs(cx, 1, 3)?;
        return Ok(ElementwiseOp::Clip(Clip::FromInputs));
    }
    expect_inputs(cx, 1, 1)?;
    // Absent bounds clip nothing, whatever the input's float type.
    let min = cx.float_or("min", f32::NEG_INFINITY)?;
    let max = cx.float_or("max", f32::INFINITY)?;
    Ok(ElementwiseOp::Clip(Clip::Attributes { min, max }))
}

fn dropout(cx: &NodeCx<'_>) -> Result<ElementwiseOp> {
    let ratio_and_mode_inputs = cx.opset >= 12;
    expect_inputs(cx, 1, if ratio_and_mode_inputs { 3 } else { 1 })?;
    if cx.output_count() > 2 {
        return Err(cx.invalid("Dropout has at most two outputs"));
    }
    Ok(ElementwiseOp::Dropout(Dropout {
        mask_like_input: cx.opset < 10,
        ratio_and_mode_inputs,
    }))
}

/// Checks the number of listed inputs (optional trailing ones may be omitted).
fn expect_inputs(cx: &NodeCx<'_>, min: usize, max: usize) -> Result<()> {
    let n = cx.input_count();
    if n < min || n > max {
        let expected = match (min, max) {
            (a, b) if a == b => format!("{a}"),
            (a, usize::MAX) => format!("at least {a}"),
            (a, b) => format!("{a} to {b}"),
        };
        return Err(cx.invalid(format!("{n} inputs where {expected} are expected")));
    }
    Ok(())
}
