//! Lowering of matrix products, softmax, normalizations, attention (softmax and linear),
//! rotary embeddings, SwiGLU and Det.

use super::NodeCx;
use crate::ir::ops::transformer::linear_attention::UpdateRule;
use crate::ir::ops::transformer::{
    Attention, Einsum, Gemm, LinearAttention, LpNorm, Normalization, QkOutput, RotaryEmbedding,
    Softmax, SoftmaxKind, TransformerOp,
};
use crate::ir::Op;
use crate::{DType, Result};

/// `None` when the op type is not of this family.
pub(super) fn lower(cx: &NodeCx<'_>) -> Option<Result<Op>> {
    let op = match cx.op_type() {
        "MatMul" => Ok(TransformerOp::MatMul),
        "Gemm" => gemm(cx),
        "Einsum" => einsum(cx),
        "Softmax" => softmax(cx, SoftmaxKind::Softmax),
        "LogSoftmax" => softmax(cx, SoftmaxKind::LogSoftmax),
        "Hardmax" => softmax(cx, SoftmaxKind::Hardmax),
        "LayerNormalization" => normalization(cx).map(TransformerOp::LayerNorm),
        "RMSNormalization" => normalization(cx).map(TransformerOp::RmsNorm),
        "LpNormalization" => lp_normalization(cx),
        "Attention" => attention(cx),
        "RotaryEmbedding" => rotary(cx),
        "LinearAttention" => linear_attention(cx),
        "SwiGLU" => cx
            .float_or("alpha", 1.0)
            .map(|alpha| TransformerOp::SwiGlu { alpha }),
        "Det" => Ok(TransformerOp::Det),
        _ => return None,
    };
    Some(op.map(Op::Transformer))
}

fn flag(cx: &NodeCx<'_>, name: &str) -> Result<bool> {
    Ok(cx.int_or(name, 0)? != 0)
}

/// A non-negative int attribute as a count (`default` when absent).
fn count(cx: &NodeCx<'_>, name: &str, default: usize) -> Result<usize> {
    match cx.int(name)? {
        None => Ok(default),
        Some(v) => usize::try_from(v)
            .map_err(|_| cx.invalid(format!("attribute '{name}' is negative ({v})"))),
    }
}

fn gemm(cx: &NodeCx<'_>) -> Result<TransformerOp> {
    // Before opset 7, C broadcasts only with `broadcast=1`.
    let broadcast_c = cx.opset >= 7 || flag(cx, "broadcast")?;
    Ok(TransformerOp::Gemm(Gemm {
        alpha: cx.float_or("alpha", 1.0)?,
        beta: cx.float_or("beta", 1.0)?,
        trans_a: flag(cx, "transA")?,
        trans_b: flag(cx, "transB")?,
        broadcast_c,
    }))
}

fn einsum(cx: &NodeCx<'_>) -> Result<TransformerOp> {
    let equation = cx
        .string("equation")?
        .ok_or_else(|| cx.invalid("missing 'equation'"))?;
    let parsed = Einsum::parse(&equation).map_err(|e| e.context_with(cx.name()))?;
    if parsed.inputs.len() != cx.input_count() {
        return Err(cx.invalid(format!(
            "equation '{equation}' has {} terms for {} inputs",
            parsed.inputs.len(),
            cx.input_count()
        )));
    }
    Ok(TransformerOp::Einsum(parsed))
}

fn softmax(cx: &NodeCx<'_>, kind: SoftmaxKind) -> Result<TransformerOp> {
    let flatten = cx.opset < 13;
    let axis = cx.int_or("axis", if flatten { 1 } else { -1 })?;
    Ok(TransformerOp::Softmax(Softmax {
        kind,
        axis,
        flatten,
    }))
}

fn float_dtype(cx: &NodeCx<'_>, name: &str, code: i64) -> Result<DType> {
    i32::try_from(code)
        .ok()
        .and_then(DType::from_onnx_code)
        .filter(|d| d.is_float())
        .ok_or_else(|| {
            cx.unsupported(format!(
                "{name} {code} is not a float type Mote computes in"
            ))
        })
}

fn normalization(cx: &NodeCx<'_>) -> Result<Normalization> {
    Ok(Normalization {
        axis: cx.int_or("axis", -1)?,
        epsilon: cx.float_or("epsilon", 1e-5)?,
        stash: float_dtype(cx, "stash_type", cx.int_or("stash_type", 1)?)?,
    })
}

fn lp_normalization(cx: &NodeCx<'_>) -> Result<TransformerOp> {
    let l1 = match cx.int_or("p", 2)? {
        1 => true,
        2 => false,
        p => return Err(cx.unsupported(format!("p = {p} (only 1 and 2 are defined)"))),
    };
    Ok(TransformerOp::LpNorm(LpNorm {
        axis: cx.int_or("axis", -1)?,
        l1,
    }))
}

fn attention(cx: &NodeCx<'_>) -> Result<TransformerOp> {
    let qk_output = match cx.int_or("qk_matmul_output_mode", 0)? {
        0 | 1 => QkOutput::Scores,
        2 => QkOutput::WithBias,
        3 => QkOutput::Probabilities,
        m => return Err(cx.invalid(format!("qk_matmul_output_mode {m} is not 0-3"))),
    };
    let window = |name: &str| -> Result<i64> {
        match cx.int_or(name, -1)? {
            w if w >= -1 => Ok(w),
            w => Err(cx.invalid(format!("{name} {w} is below -1"))),
        }
    };
    let heads = |name: &str| -> Result<Option<usize>> {
        match cx.int(name)? {
            None => Ok(None),
            Some(h) if h > 0 => Ok(Some(h as usize)),
            Some(h) => Err(cx.invalid(format!("{name} {h} is not positive"))),
        }
    };
    Ok(TransformerOp::Attention(Attention {
        is_causal: flag(cx, "is_causal")?,
        q_num_heads: heads("q_num_heads")?,
        kv_num_heads: heads("kv_num_heads")?,
        scale: cx.float("scale")?,
        softcap: cx.float_or("softcap", 0.0)?,
        qk_output,
        softmax_precision: cx
            .int("softmax_precision")?
            .map(|c| float_dtype(cx, "softmax_precision", c))
            .transpose()?,
        left_window: window("left_window_size")?,
        right_window: window("right_window_size")?,
    }))
}

fn rotary(cx: &NodeCx<'_>) -> Result<TransformerOp> {
    Ok(TransformerOp::RotaryEmbedding(RotaryEmbedding {
        interleaved: flag(cx, "interleaved")?,
        rotary_dim: count(cx, "rotary_embedding_dim", 0)?,
        num_heads: count(cx, "num_heads", 0)?,
    }))
}

fn linear_attention(cx: &NodeCx<'_>) -> Result<TransformerOp> {
    let heads = |name: &str| -> Result<usize> {
        match cx.int(name)? {
            Some(h) if h > 0 => Ok(h as usize),
            Some(h) => Err(cx.invalid(format!("{name} {h} is not positive"))),
            None => Err(cx.invalid(format!("missing '{name}'"))),
        }
    };
    let rule_name = cx.string_or("update_rule", "gated_delta")?;
    let rule = UpdateRule::parse(&rule_name)
        .ok_or_else(|| cx.invalid(format!("unknown update_rule '{rule_name}'")))?;
    let scale = cx.float_or("scale", 0.0)?;
    let op = LinearAttention {
        q_num_heads: heads("q_num_heads")?,
        kv_num_heads: heads("kv_num_heads")?,
        scale: (scale != 0.0).then_some(scale),
        rule,
    };
    op.check_inputs(cx.has_input(4), cx.has_input(5))
        .map_err(|e| e.context_with(cx.name()))?;
    Ok(TransformerOp::LinearAttention(op))
}
