//! Lowering of the data-movement and shape ONNX ops. Parameters that moved from attributes
//! to inputs across opsets are read from the attribute for old opsets and left to the input
//! (by position) for new ones.

use super::NodeCx;
use crate::ir::ops::shape::{
    rules, BlockMode, CoordinateMode, KeepAspectRatio, NearestMode, PadAttrs, PadMode, ResizeAttrs,
    ResizeMode, ScatterReduction, ShapeOp, SliceAttrs, SplitAttrs, TopKAttrs,
};
use crate::ir::Op;
use crate::{DType, Result, Tensor};

/// `None` when the op type is not of this family.
pub(super) fn lower(cx: &NodeCx<'_>) -> Option<Result<Op>> {
    let op = match cx.op_type() {
        "Identity" => Ok(ShapeOp::Identity),
        "Reshape" => reshape(cx),
        "Flatten" => cx.int_or("axis", 1).map(|axis| ShapeOp::Flatten { axis }),
        "Squeeze" => axes_attr(cx).map(|axes| ShapeOp::Squeeze { axes }),
        "Unsqueeze" => unsqueeze(cx),
        "Transpose" => cx.ints("perm").map(|perm| ShapeOp::Transpose { perm }),
        "Concat" => concat(cx),
        "Split" => split(cx),
        "Slice" => slice(cx),
        "Gather" => cx.int_or("axis", 0).map(|axis| ShapeOp::Gather { axis }),
        "GatherElements" => cx
            .int_or("axis", 0)
            .map(|axis| ShapeOp::GatherElements { axis }),
        "GatherND" => gather_nd(cx),
        "Scatter" | "ScatterElements" => scatter_elements(cx),
        "ScatterND" => reduction(cx).map(|reduction| ShapeOp::ScatterNd { reduction }),
        "TensorScatter" => tensor_scatter(cx),
        "Expand" => Ok(ShapeOp::Expand),
        "Tile" if cx.opset < 6 => {
            Err(cx.unsupported("Tile before opset 6 (tiles/axis inputs) is not supported"))
        }
        "Tile" => Ok(ShapeOp::Tile),
        "Pad" => pad(cx),
        "Resize" | "Upsample" => resize(cx),
        "Shape" => shape(cx),
        "Size" => Ok(ShapeOp::Size),
        "ConstantOfShape" => constant_of_shape(cx),
        "Range" => Ok(ShapeOp::Range),
        "NonZero" => Ok(ShapeOp::NonZero),
        "TopK" => top_k(cx),
        "Unique" => unique(cx),
        "DepthToSpace" => block_op(cx, true),
        "SpaceToDepth" => block_op(cx, false),
        "Trilu" => cx
            .int_or("upper", 1)
            .map(|u| ShapeOp::Trilu { upper: u != 0 }),
        "OneHot" => cx.int_or("axis", -1).map(|axis| ShapeOp::OneHot { axis }),
        "EyeLike" => eye_like(cx),
        "CenterCropPad" => cx.ints("axes").map(|axes| ShapeOp::CenterCropPad { axes }),
        "Compress" => cx.int("axis").map(|axis| ShapeOp::Compress { axis }),
        "ReverseSequence" => reverse_sequence(cx),
        _ => return None,
    };
    Some(op.map(Op::Shape))
}

fn reshape(cx: &NodeCx<'_>) -> Result<ShapeOp> {
    let allowzero = cx.int_or("allowzero", 0)? != 0;
    if cx.opset < 5 {
        let shape = cx
            .ints("shape")?
            .ok_or_else(|| cx.invalid("Reshape needs a 'shape' attribute before opset 5"))?;
        return Ok(ShapeOp::Reshape {
            allowzero,
            shape: Some(shape),
        });
    }
    Ok(ShapeOp::Reshape {
        allowzero,
        shape: None,
    })
}

/// `axes` of Squeeze: an attribute before opset 13, then an optional input.
fn axes_attr(cx: &NodeCx<'_>) -> Result<Option<Vec<i64>>> {
    if cx.opset >= 13 {
        return Ok(None);
    }
    cx.ints("axes")
}

fn unsqueeze(cx: &NodeCx<'_>) -> Result<ShapeOp> {
    let axes = axes_attr(cx)?;
    if cx.opset < 13 && axes.is_none() {
        return Err(cx.invalid("Unsqueeze needs an 'axes' attribute before opset 13"));
    }
    if cx.opset >= 13 && !cx.has_input(1) {
        return Err(cx.invalid("Unsqueeze needs an 'axes' input from opset 13"));
    }
    Ok(ShapeOp::Unsqueeze { axes })
}

fn concat(cx: &NodeCx<'_>) -> Result<ShapeOp> {
    // Before opset 4 the axis was optional with default 1.
    let axis = match cx.int("axis")? {
        Some(a) => a,
        None if cx.opset < 4 => 1,
        None => return Err(cx.invalid("Concat needs an 'axis' attribute")),
    };
    Ok(ShapeOp::Concat { axis })
}

fn split(cx: &NodeCx<'_>) -> Result<ShapeOp> {
    let split = if cx.opset < 13 {
        cx.ints("split")?
    } else {
        None
    };
    let num_outputs = match cx.int("num_outputs")? {
        Some(n) if n <= 0 => return Err(cx.invalid(format!("num_outputs = {n}"))),
        Some(n) => Some(n as usize),
        None => None,
    };
    Ok(ShapeOp::Split(SplitAttrs {
        axis: cx.int_or("axis", 0)?,
        split,
        num_outputs,
        outputs: cx.output_count(),
    }))
}

fn slice(cx: &NodeCx<'_>) -> Result<ShapeOp> {
    if cx.opset >= 10 {
        return Ok(ShapeOp::Slice { attrs: None });
    }
    let starts = cx
        .ints("starts")?
        .ok_or_else(|| cx.invalid("Slice needs 'starts' before opset 10"))?;
    let ends = cx
        .ints("ends")?
        .ok_or_else(|| cx.invalid("Slice needs 'ends' before opset 10"))?;
    Ok(ShapeOp::Slice {
        attrs: Some(SliceAttrs {
            starts,
            ends,
            axes: cx.ints("axes")?,
        }),
    })
}

fn gather_nd(cx: &NodeCx<'_>) -> Result<ShapeOp> {
    let batch_dims = cx.int_or("batch_dims", 0)?;
    let batch_dims = usize::try_from(batch_dims)
        .map_err(|_| cx.invalid(format!("batch_dims = {batch_dims}")))?;
    Ok(ShapeOp::GatherNd { batch_dims })
}

fn reduction(cx: &NodeCx<'_>) -> Result<ScatterReduction> {
    let name = cx.string_or("reduction", "none")?;
    rules::scatter_reduction(&name).ok_or_else(|| cx.unsupported(format!("reduction '{name}'")))
}

fn scatter_elements(cx: &NodeCx<'_>) -> Result<ShapeOp> {
    Ok(ShapeOp::ScatterElements {
        axis: cx.int_or("axis", 0)?,
        reduction: reduction(cx)?,
    })
}

fn pad(cx: &NodeCx<'_>) -> Result<ShapeOp> {
    let mode = match cx.string_or("mode", "constant")?.as_str() {
        "constant" => PadMode::Constant,
        "reflect" => PadMode::Reflect,
        "edge" => PadMode::Edge,
        "wrap" => PadMode::Wrap,
        m => return Err(cx.unsupported(format!("mode '{m}'"))),
    };
    if cx.opset >= 11 {
        return Ok(ShapeOp::Pad(PadAttrs {
            mode,
            pads: None,
            value: 0.0,
        }));
    }
    let name = if cx.opset < 2 { "paddings" } else { "pads" };
    let pads = cx
        .ints(name)?
        .ok_or_else(|| cx.invalid(format!("Pad needs a '{name}' attribute")))?;
    Ok(ShapeOp::Pad(PadAttrs {
        mode,
        pads: Some(pads),
        value: cx.float_or("value", 0.0)?,
    }))
}

fn resize(cx: &NodeCx<'_>) -> Result<ShapeOp> {
    let is_upsample = cx.op_type() == "Upsample";
    let mode = match cx.string_or("mode", "nearest")?.as_str() {
        "nearest" => ResizeMode::Nearest,
        "linear" | "bilinear" => ResizeMode::Linear,
        "cubic" if !is_upsample => ResizeMode::Cubic,
        m => return Err(cx.unsupported(format!("mode '{m}'"))),
    };
    let mut attrs = ResizeAttrs {
        mode,
        // Upsample and Resize-10 sample at `x / scale`, rounding nearest down.
        coordinate_mode: CoordinateMode::Asymmetric,
        nearest_mode: NearestMode::Floor,
        cubic_coeff_a: -0.75,
        exclude_outside: false,
        extrapolation_value: 0.0,
        antialias: false,
        axes: None,
        keep_aspect_ratio: KeepAspectRatio::Stretch,
        roi_input: None,
        scales_input: Some(1),
        sizes_input: None,
        scales_attr: None,
    };
    if is_upsample && cx.opset < 9 {
        if cx.opset < 7 {
            return Err(cx.unsupported("Upsample before opset 7 is not supported"));
        }
        attrs.scales_input = None;
        attrs.scales_attr = Some(
            cx.floats("scales")?
                .ok_or_else(|| cx.invalid("Upsample needs 'scales'"))?,
        );
    }
    if is_upsample || cx.opset < 11 {
        return Ok(ShapeOp::Resize(Box::new(attrs)));
    }
    attrs.coordinate_mode = match cx
        .string_or("coordinate_transformation_mode", "half_pixel")?
        .as_str()
    {
        "half_pixel" => CoordinateMode::HalfPixel,
        "pytorch_half_pixel" => CoordinateMode::PytorchHalfPixel,
        "align_corners" => CoordinateMode::AlignCorners,
        "asymmetric" => CoordinateMode::Asymmetric,
        "tf_crop_and_resize" => CoordinateMode::TfCropAndResize,
        "half_pixel_symmetric" => CoordinateMode::HalfPixelSymmetric,
        m => return Err(cx.unsupported(format!("coordinate_transformation_mode '{m}'"))),
    };
    attrs.nearest_mode = match cx.string_or("nearest_mode", "round_prefer_floor")?.as_str() {
        "round_prefer_floor" => NearestMode::RoundPreferFloor,
        "round_prefer_ceil" => NearestMode::RoundPreferCeil,
        "floor" => NearestMode::Floor,
        "ceil" => NearestMode::Ceil,
        m => return Err(cx.unsupported(format!("nearest_mode '{m}'"))),
    };
    attrs.keep_aspect_ratio = match cx
        .string_or("keep_aspect_ratio_policy", "stretch")?
        .as_str()
    {
        "stretch" => KeepAspectRatio::Stretch,
        "not_larger" => KeepAspectRatio::NotLarger,
        "not_smaller" => KeepAspectRatio::NotSmaller,
        m => return Err(cx.unsupported(format!("keep_aspect_ratio_policy '{m}'"))),
    };
    attrs.cubic_coeff_a = cx.float_or("cubic_coeff_a", -0.75)?;
    attrs.exclude_outside = cx.int_or("exclude_outside", 0)? != 0;
    attrs.extrapolation_value = cx.float_or("extrapolation_value", 0.0)?;
    attrs.antialias = cx.int_or("antialias", 0)? != 0;
    if attrs.antialias && mode == ResizeMode::Nearest {
        return Err(cx.invalid("antialias is not defined for mode 'nearest'"));
    }
    attrs.axes = cx.ints("axes")?;
    attrs.roi_input = Some(1);
    attrs.scales_input = Some(2);
    attrs.sizes_input = Some(3);
    Ok(ShapeOp::Resize(Box::new(attrs)))
}

fn shape(cx: &NodeCx<'_>) -> Result<ShapeOp> {
    Ok(ShapeOp::Shape {
        start: cx.int_or("start", 0)?,
        end: cx.int("end")?,
    })
}

fn constant_of_shape(cx: &NodeCx<'_>) -> Result<ShapeOp> {
    let value = match cx.tensor("value")? {
        Some(t) if t.len() == 1 => t,
        Some(t) => return Err(cx.invalid(format!("value has {} elements instead of one", t.len()))),
        None => Tensor::scalar(0.0f32),
    };
    Ok(ShapeOp::ConstantOfShape { value })
}

fn top_k(cx: &NodeCx<'_>) -> Result<ShapeOp> {
    let k = if cx.opset < 10 {
        Some(
            cx.int("k")?
                .ok_or_else(|| cx.invalid("TopK needs a 'k' attribute before opset 10"))?,
        )
    } else {
        None
    };
    Ok(ShapeOp::TopK(TopKAttrs {
        axis: cx.int_or("axis", -1)?,
        largest: cx.int_or("largest", 1)? != 0,
        k,
    }))
}

fn unique(cx: &NodeCx<'_>) -> Result<ShapeOp> {
    Ok(ShapeOp::Unique {
        axis: cx.int("axis")?,
        sorted: cx.int_or("sorted", 1)? != 0,
    })
}

fn block_op(cx: &NodeCx<'_>, depth_to_space: bool) -> Result<ShapeOp> {
    let blocksize = cx
        .int("blocksize")?
        .ok_or_else(|| cx.invalid("missing 'blocksize'"))?;
    let blocksize = match usize::try_from(blocksize) {
        Ok(b) if b > 0 => b,
        _ => return Err(cx.invalid(format!("blocksize = {blocksize}"))),
    };
    let mode = match cx.string_or("mode", "DCR")?.as_str() {
        "DCR" => BlockMode::Dcr,
        "CRD" => BlockMode::Crd,
        m => return Err(cx.unsupported(format!("mode '{m}'"))),
    };
    Ok(if depth_to_space {
        ShapeOp::DepthToSpace { blocksize, mode }
    } else {
        ShapeOp::SpaceToDepth { blocksize, mode }
    })
}

fn eye_like(cx: &NodeCx<'_>) -> Result<ShapeOp> {
    let dtype = match cx.int("dtype")? {
        None => None,
        Some(code) => Some(
            i32::try_from(code)
                .ok()
                .and_then(DType::from_onnx_code)
                .ok_or_else(|| cx.unsupported(format!("dtype code {code}")))?,
        ),
    };
    Ok(ShapeOp::EyeLike {
        dtype,
        k: cx.int_or("k", 0)?,
    })
}

fn reverse_sequence(cx: &NodeCx<'_>) -> Result<ShapeOp> {
    Ok(ShapeOp::ReverseSequence {
        batch_axis: cx.int_or("batch_axis", 1)?,
        time_axis: cx.int_or("time_axis", 0)?,
    })
}

fn tensor_scatter(cx: &NodeCx<'_>) -> Result<ShapeOp> {
    let circular = match cx.string_or("mode", "linear")?.as_str() {
        "linear" => false,
        "circular" => true,
        m => return Err(cx.invalid(format!("unknown TensorScatter mode '{m}'"))),
    };
    Ok(ShapeOp::TensorScatter {
        axis: cx.int_or("axis", -2)?,
        circular,
    })
}
