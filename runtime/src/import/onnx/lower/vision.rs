//! Lowering of the detection and geometric vision ONNX ops.

use super::NodeCx;
use crate::ir::ops::vision::{
    GridPadding, GridSample, Interpolation, MaxRoiPool, MaxUnpool, RoiAlign, RoiReduce, VisionOp,
};
use crate::ir::Op;
use crate::Result;

/// `None` when the op type is not of this family.
pub(super) fn lower(cx: &NodeCx<'_>) -> Option<Result<Op>> {
    let op = match cx.op_type() {
        "NonMaxSuppression" => non_max_suppression(cx),
        "RoiAlign" => roi_align(cx),
        "MaxRoiPool" => max_roi_pool(cx),
        "GridSample" => grid_sample(cx),
        "MaxUnpool" => max_unpool(cx),
        "AffineGrid" => bool_attr(cx, "align_corners")
            .map(|align_corners| VisionOp::AffineGrid { align_corners }),
        _ => return None,
    };
    Some(op.map(Op::Vision))
}

fn non_max_suppression(cx: &NodeCx<'_>) -> Result<VisionOp> {
    let center_point_box = bool_attr(cx, "center_point_box")?;
    Ok(VisionOp::NonMaxSuppression { center_point_box })
}

fn roi_align(cx: &NodeCx<'_>) -> Result<VisionOp> {
    let mode = match cx.string_or("mode", "avg")?.as_str() {
        "avg" => RoiReduce::Avg,
        "max" => RoiReduce::Max,
        other => return Err(cx.unsupported(format!("mode '{other}'"))),
    };
    // Opset 16 added the attribute and made the corrected half-pixel shift the default; the
    // opset 10 behaviour is what is now called `output_half_pixel`.
    let default_transform = if cx.opset >= 16 {
        "half_pixel"
    } else {
        "output_half_pixel"
    };
    let half_pixel = match cx
        .string_or("coordinate_transformation_mode", default_transform)?
        .as_str()
    {
        "half_pixel" => true,
        "output_half_pixel" => false,
        other => return Err(cx.unsupported(format!("coordinate_transformation_mode '{other}'"))),
    };
    let sampling_ratio = cx.int_or("sampling_ratio", 0)?;
    Ok(VisionOp::RoiAlign(RoiAlign {
        mode,
        half_pixel,
        output_height: positive(cx, "output_height", cx.int_or("output_height", 1)?)?,
        output_width: positive(cx, "output_width", cx.int_or("output_width", 1)?)?,
        // The reference treats any value <= 0 as "adaptive".
        sampling_ratio: usize::try_from(sampling_ratio.max(0)).unwrap_or(usize::MAX),
        spatial_scale: cx.float_or("spatial_scale", 1.0)?,
    }))
}

fn max_roi_pool(cx: &NodeCx<'_>) -> Result<VisionOp> {
    let pooled_shape = cx
        .ints("pooled_shape")?
        .ok_or_else(|| cx.invalid("pooled_shape is required"))?;
    let &[height, width] = pooled_shape.as_slice() else {
        return Err(cx.invalid(format!(
            "pooled_shape must have two values, got {pooled_shape:?}"
        )));
    };
    Ok(VisionOp::MaxRoiPool(MaxRoiPool {
        pooled_height: positive(cx, "pooled_shape", height)?,
        pooled_width: positive(cx, "pooled_shape", width)?,
        spatial_scale: cx.float_or("spatial_scale", 1.0)?,
    }))
}

fn grid_sample(cx: &NodeCx<'_>) -> Result<VisionOp> {
    // Opset 20 renamed bilinear/bicubic to linear/cubic (and allowed N-D inputs); both
    // spellings mean the same interpolation, so either is accepted.
    let default_mode = if cx.opset >= 20 { "linear" } else { "bilinear" };
    let mode = match cx.string_or("mode", default_mode)?.as_str() {
        "nearest" => Interpolation::Nearest,
        "linear" | "bilinear" => Interpolation::Linear,
        "cubic" | "bicubic" => Interpolation::Cubic,
        other => return Err(cx.unsupported(format!("mode '{other}'"))),
    };
    let padding = match cx.string_or("padding_mode", "zeros")?.as_str() {
        "zeros" => GridPadding::Zeros,
        "border" => GridPadding::Border,
        "reflection" => GridPadding::Reflection,
        other => return Err(cx.unsupported(format!("padding_mode '{other}'"))),
    };
    Ok(VisionOp::GridSample(GridSample {
        mode,
        padding,
        align_corners: bool_attr(cx, "align_corners")?,
    }))
}

fn max_unpool(cx: &NodeCx<'_>) -> Result<VisionOp> {
    let kernel_shape = cx
        .ints("kernel_shape")?
        .ok_or_else(|| cx.invalid("kernel_shape is required"))?;
    let axes = kernel_shape.len();
    let kernel_shape = kernel_shape
        .into_iter()
        .map(|k| positive(cx, "kernel_shape", k))
        .collect::<Result<Vec<_>>>()?;
    let strides = match cx.ints("strides")? {
        Some(s) if s.len() == axes => s
            .into_iter()
            .map(|v| positive(cx, "strides", v))
            .collect::<Result<Vec<_>>>()?,
        Some(s) => return Err(cx.invalid(format!("{} strides for {axes} axes", s.len()))),
        None => vec![1; axes],
    };
    let pads = match cx.ints("pads")? {
        Some(p) if p.len() == 2 * axes => p
            .into_iter()
            .map(|v| usize::try_from(v).map_err(|_| cx.invalid(format!("negative pad {v}"))))
            .collect::<Result<Vec<_>>>()?,
        Some(p) => return Err(cx.invalid(format!("{} pads for {axes} axes", p.len()))),
        None => vec![0; 2 * axes],
    };
    Ok(VisionOp::MaxUnpool(MaxUnpool {
        kernel_shape,
        strides,
        pads,
    }))
}

/// A 0/1 int attribute (default 0).
fn bool_attr(cx: &NodeCx<'_>, name: &str) -> Result<bool> {
    match cx.int_or(name, 0)? {
        0 => Ok(false),
        1 => Ok(true),
        v => Err(cx.invalid(format!("{name} must be 0 or 1, got {v}"))),
    }
}

/// A size attribute that must be at least 1.
fn positive(cx: &NodeCx<'_>, name: &str, value: i64) -> Result<usize> {
    usize::try_from(value)
        .ok()
        .filter(|&v| v > 0)
        .ok_or_else(|| cx.invalid(format!("{name} must be positive, got {value}")))
}
