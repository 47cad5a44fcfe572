//! Lowering of convolution, pooling and channel-normalization ONNX ops.

use super::NodeCx;
use crate::ir::ops::nn::{
    BatchNorm, Col2Im, Conv, ConvTranspose, DeformConv, GlobalPoolKind, GroupNorm, Lrn, NnOp,
    Padding, Pool, PoolKind, Window,
};
use crate::ir::Op;
use crate::Result;

/// `None` when the op type is not of this family.
pub(super) fn lower(cx: &NodeCx<'_>) -> Option<Result<Op>> {
    let op = match cx.op_type() {
        "Conv" => conv(cx),
        "ConvTranspose" => conv_transpose(cx),
        "MaxPool" => pool(cx, max_pool_kind(cx)),
        "AveragePool" => pool(cx, average_pool_kind(cx)),
        "LpPool" => pool(cx, lp_p(cx).map(|p| PoolKind::Lp { p })),
        "GlobalMaxPool" => Ok(NnOp::GlobalPool(GlobalPoolKind::Max)),
        "GlobalAveragePool" => Ok(NnOp::GlobalPool(GlobalPoolKind::Average)),
        "GlobalLpPool" => lp_p(cx).map(|p| NnOp::GlobalPool(GlobalPoolKind::Lp { p })),
        "BatchNormalization" => batch_norm(cx),
        "InstanceNormalization" => cx
            .float_or("epsilon", 1e-5)
            .map(|epsilon| NnOp::InstanceNorm { epsilon }),
        "GroupNormalization" => group_norm(cx),
        "LRN" => lrn(cx),
        "MeanVarianceNormalization" => cx.ints("axes").map(|axes| NnOp::MeanVarianceNorm {
            axes: axes.unwrap_or_else(|| vec![0, 2, 3]),
        }),
        "Col2Im" => col2im(cx),
        "CausalConvWithState" => causal_conv(cx),
        "DeformConv" => deform_conv(cx),
        _ => return None,
    };
    Some(op.map(Op::Nn))
}

fn conv(cx: &NodeCx<'_>) -> Result<NnOp> {
    Ok(NnOp::Conv(Conv {
        window: window(cx)?,
        group: group(cx)?,
    }))
}

fn conv_transpose(cx: &NodeCx<'_>) -> Result<NnOp> {
    Ok(NnOp::ConvTranspose(ConvTranspose {
        window: window(cx)?,
        group: group(cx)?,
        output_padding: non_negative(cx, "output_padding")?,
        output_shape: non_negative(cx, "output_shape")?,
    }))
}

fn pool(cx: &NodeCx<'_>, kind: Result<PoolKind>) -> Result<NnOp> {
    let window = window(cx)?;
    if window.kernel_shape.is_empty() {
        return Err(cx.invalid("kernel_shape is required"));
    }
    if !matches!(kind, Ok(PoolKind::Max { .. })) && cx.output_count() > 1 {
        return Err(cx.invalid("only MaxPool has a second output"));
    }
    Ok(NnOp::Pool(Pool {
        kind: kind?,
        window,
        ceil_mode: cx.int_or("ceil_mode", 0)? != 0,
    }))
}

fn max_pool_kind(cx: &NodeCx<'_>) -> Result<PoolKind> {
    match cx.int_or("storage_order", 0)? {
        0 => Ok(PoolKind::Max {
            column_major_indices: false,
        }),
        1 => Ok(PoolKind::Max {
            column_major_indices: true,
        }),
        s => Err(cx.invalid(format!("storage_order must be 0 or 1, got {s}"))),
    }
}

fn average_pool_kind(cx: &NodeCx<'_>) -> Result<PoolKind> {
    Ok(PoolKind::Average {
        count_include_pad: cx.int_or("count_include_pad", 0)? != 0,
    })
}

/// LpPool's `p`: a float before opset 2, an int since.
fn lp_p(cx: &NodeCx<'_>) -> Result<f32> {
    let p = if cx.opset < 2 {
        cx.float_or("p", 2.0)?
    } else {
        cx.int_or("p", 2)? as f32
    };
    if !(p > 0.0 && p.is_finite()) {
        return Err(cx.invalid(format!("p must be positive, got {p}")));
    }
    Ok(p)
}

fn batch_norm(cx: &NodeCx<'_>) -> Result<NnOp> {
    if cx.int_or("spatial", 1)? == 0 {
        return Err(cx.unsupported("spatial = 0 (per-activation statistics) is not supported"));
    }
    let training = if cx.opset >= 14 {
        cx.int_or("training_mode", 0)? != 0
    } else {
        // Before opset 14, training was signalled by asking for the statistics outputs.
        if cx.output_count() > 1 {
            return Err(cx.unsupported("training-mode outputs before opset 14 are not supported"));
        }
        false
    };
    if !training && cx.output_count() > 1 {
        return Err(cx.invalid("running mean and variance outputs need training_mode = 1"));
    }
    Ok(NnOp::BatchNorm(BatchNorm {
        epsilon: cx.float_or("epsilon", 1e-5)?,
        momentum: cx.float_or("momentum", 0.9)?,
        training,
    }))
}

fn group_norm(cx: &NodeCx<'_>) -> Result<NnOp> {
    let num_groups = cx
        .int("num_groups")?
        .ok_or_else(|| cx.invalid("num_groups is required"))?;
    let num_groups = usize::try_from(num_groups)
        .ok()
        .filter(|&g| g > 0)
        .ok_or_else(|| cx.invalid(format!("num_groups must be positive, got {num_groups}")))?;
    Ok(NnOp::GroupNorm(GroupNorm {
        epsilon: cx.float_or("epsilon", 1e-5)?,
        num_groups,
        per_channel_affine: cx.opset >= 21,
    }))
}

fn lrn(cx: &NodeCx<'_>) -> Result<NnOp> {
    let size = cx
        .int("size")?
        .ok_or_else(|| cx.invalid("size is required"))?;
    let size = usize::try_from(size)
        .ok()
        .filter(|&s| s > 0)
        .ok_or_else(|| cx.invalid(format!("size must be positive, got {size}")))?;
    Ok(NnOp::Lrn(Lrn {
        alpha: cx.float_or("alpha", 1e-4)?,
        beta: cx.float_or("beta", 0.75)?,
        bias: cx.float_or("bias", 1.0)?,
        size,
    }))
}

fn col2im(cx: &NodeCx<'_>) -> Result<NnOp> {
    Ok(NnOp::Col2Im(Col2Im {
        dilations: positive(cx, "dilations")?,
        pads: non_negative(cx, "pads")?,
        strides: positive(cx, "strides")?,
    }))
}

fn deform_conv(cx: &NodeCx<'_>) -> Result<NnOp> {
    let offset_group = cx.int_or("offset_group", 1)?;
    let offset_group = usize::try_from(offset_group)
        .ok()
        .filter(|&g| g > 0)
        .ok_or_else(|| cx.invalid(format!("offset_group must be positive, got {offset_group}")))?;
    let conv = Conv {
        window: window(cx)?,
        group: group(cx)?,
    };
    if !matches!(conv.window.padding, Padding::Explicit { .. }) {
        return Err(cx.invalid("DeformConv has no auto_pad"));
    }
    Ok(NnOp::DeformConv(DeformConv { conv, offset_group }))
}

fn causal_conv(cx: &NodeCx<'_>) -> Result<NnOp> {
    match cx.string_or("activation", "none")?.as_str() {
        "none" => Ok(NnOp::CausalConv { silu: false }),
        "silu" | "swish" => Ok(NnOp::CausalConv { silu: true }),
        other => Err(cx.unsupported(format!("activation '{other}'"))),
    }
}

/// `kernel_shape`, `strides`, `dilations`, `auto_pad` and `pads`.
fn window(cx: &NodeCx<'_>) -> Result<Window> {
    let pads = non_negative(cx, "pads")?;
    if pads.len() % 2 != 0 {
        return Err(cx.invalid(format!(
            "pads has an odd number of entries ({})",
            pads.len()
        )));
    }
    let auto_pad = cx.string_or("auto_pad", "NOTSET")?;
    let padding = match auto_pad.as_str() {
        "NOTSET" | "" => {
            let (begin, end) = pads.split_at(pads.len() / 2);
            Padding::Explicit {
                begin: begin.to_vec(),
                end: end.to_vec(),
            }
        }
        "SAME_UPPER" => Padding::SameUpper,
        "SAME_LOWER" => Padding::SameLower,
        "VALID" => Padding::Valid,
        other => return Err(cx.invalid(format!("unknown auto_pad '{other}'"))),
    };
    Ok(Window {
        kernel_shape: positive(cx, "kernel_shape")?,
        strides: positive(cx, "strides")?,
        dilations: positive(cx, "dilations")?,
        padding,
    })
}

fn group(cx: &NodeCx<'_>) -> Result<usize> {
    let group = cx.int_or("group", 1)?;
    usize::try_from(group)
        .ok()
        .filter(|&g| g > 0)
        .ok_or_else(|| cx.invalid(format!("group must be positive, got {group}")))
}

/// An ints attribute whose entries must all be `>= 0` (empty when absent).
fn non_negative(cx: &NodeCx<'_>, name: &str) -> Result<Vec<usize>> {
    let values = cx.ints(name)?.unwrap_or_default();
    values
        .iter()
        .map(|&v| {
            usize::try_from(v).map_err(|_| cx.unsupported(format!("negative {name} {values:?}")))
        })
        .collect()
}

/// An ints attribute whose entries must all be `>= 1` (empty when absent).
fn positive(cx: &NodeCx<'_>, name: &str) -> Result<Vec<usize>> {
    let values = non_negative(cx, name)?;
    if values.contains(&0) {
        return Err(cx.invalid(format!("{name} {values:?} must all be at least 1")));
    }
    Ok(values)
}
