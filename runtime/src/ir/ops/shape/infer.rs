//! Shape inference of the shape ops: dtype always when it follows from the inputs, shape
//! when the input shapes and the parameter values it depends on are known (parameters such
//! as reshape targets are usually constants, or folded `Shape -> Gather -> Concat` chains).

use super::rules;
use super::{ResizeAttrs, ShapeOp, SplitAttrs};
use crate::ir::ops::infer_util::{dtype, input, shape};
use crate::ir::Fact;
use crate::{DType, Result, Tensor};
use std::sync::Arc;

/// The integer values of input `i`, when known.
fn ints(inputs: &[Option<&Fact>], i: usize) -> Option<Vec<i64>> {
    input(inputs, i)?.value.as_ref()?.view().to_i64_vec().ok()
}

/// An optional integer input: `Some(None)` when omitted, `Some(Some(v))` when known, `None`
/// when given but unknown.
fn opt_ints(inputs: &[Option<&Fact>], i: usize) -> Option<Option<Vec<i64>>> {
    match input(inputs, i) {
        None => Some(None),
        Some(_) => ints(inputs, i).map(Some),
    }
}

/// The float values of input `i`, when known.
fn floats(inputs: &[Option<&Fact>], i: usize) -> Option<Vec<f64>> {
    input(inputs, i)?.value.as_ref()?.view().to_f64_vec().ok()
}

fn fact(dtype: Option<DType>, shape: Option<Vec<usize>>) -> Fact {
    Fact {
        dtype,
        shape,
        value: None,
    }
}

/// Same dtype as input 0, shape from `rule` when it can be computed.
fn like_input0(inputs: &[Option<&Fact>], shape: Option<Result<Vec<usize>>>) -> Result<Vec<Fact>> {
    Ok(vec![fact(dtype(inputs, 0), shape.transpose()?)])
}

/// The output shape of a `Resize` with `attrs` (also `QResize`'s), when the input's shape and
/// the scales or sizes are known.
pub(crate) fn resize_shape(
    attrs: &ResizeAttrs,
    inputs: &[Option<&Fact>],
) -> Option<Result<Vec<usize>>> {
    let param = |i: Option<usize>| -> Option<Option<Vec<f64>>> {
        match i {
            None => Some(None),
            Some(i) if input(inputs, i).is_none() => Some(None),
            Some(i) => floats(inputs, i).map(Some),
        }
    };
    let known = param(attrs.scales_input).zip(param(attrs.sizes_input));
    shape(inputs, 0).zip(known).map(|(s, (scales, sizes))| {
        let scales: Option<Vec<f32>> = scales.map(|v| v.iter().map(|&x| x as f32).collect());
        let sizes: Option<Vec<i64>> = sizes.map(|v| v.iter().map(|&x| x as i64).collect());
        attrs
            .plan(s, None, scales.as_deref(), sizes.as_deref())
            .map(|p| p.out_shape)
    })
}

pub(super) fn infer(op: &ShapeOp, inputs: &[Option<&Fact>]) -> Result<Vec<Fact>> {
    let s0 = shape(inputs, 0);
    match op {
        ShapeOp::Identity => Ok(vec![input(inputs, 0).cloned().unwrap_or_default()]),
        ShapeOp::Reshape {
            allowzero,
            shape: attr,
        } => {
            let target = attr.clone().or_else(|| ints(inputs, 1));
            like_input0(
                inputs,
                s0.zip(target)
                    .map(|(s, t)| rules::reshape_shape(s, &t, *allowzero)),
            )
        }
        ShapeOp::Flatten { axis } => {
            like_input0(inputs, s0.map(|s| rules::flatten_shape(s, *axis)))
        }
        ShapeOp::Squeeze { axes } => {
            let axes = match axes {
                Some(a) => Some(Some(a.clone())),
                None => opt_ints(inputs, 1),
            };
            like_input0(
                inputs,
                s0.zip(axes)
                    .map(|(s, a)| rules::squeeze_shape(s, a.as_deref())),
            )
        }
        ShapeOp::Unsqueeze { axes } => {
            let axes = axes.clone().or_else(|| ints(inputs, 1));
            like_input0(
                inputs,
                s0.zip(axes).map(|(s, a)| rules::unsqueeze_shape(s, &a)),
            )
        }
        ShapeOp::Transpose { perm } => like_input0(
            inputs,
            s0.map(|s| {
                let perm = rules::transpose_perm(s.len(), perm.as_deref())?;
                Ok(perm.iter().map(|&p| s[p]).collect())
            }),
        ),
        ShapeOp::Concat { axis } => {
            let shapes: Option<Vec<&[usize]>> =
                (0..inputs.len()).map(|i| shape(inputs, i)).collect();
            like_input0(
                inputs,
                shapes.map(|s| rules::concat_shape(&s, *axis).map(|(_, out)| out)),
            )
        }
        ShapeOp::Split(attrs) => infer_split(attrs, inputs),
        ShapeOp::Slice { attrs } => {
            let params = match attrs {
                Some(a) => Some((a.starts.clone(), a.ends.clone(), a.axes.clone(), None)),
                None => (|| {
                    Some((
                        ints(inputs, 1)?,
                        ints(inputs, 2)?,
                        opt_ints(inputs, 3)?,
                        opt_ints(inputs, 4)?,
                    ))
                })(),
            };
            like_input0(
                inputs,
                s0.zip(params).map(|(s, (starts, ends, axes, steps))| {
                    let dims =
                        rules::slice_dims(s, &starts, &ends, axes.as_deref(), steps.as_deref())?;
                    Ok(dims.iter().map(|d| d.len).collect())
                }),
            )
        }
        ShapeOp::Gather { axis } => like_input0(
            inputs,
            s0.zip(shape(inputs, 1))
                .map(|(d, i)| rules::gather_shape(d, i, *axis).map(|(_, out)| out)),
        ),
        ShapeOp::GatherElements { .. } => {
            like_input0(inputs, shape(inputs, 1).map(|s| Ok(s.to_vec())))
        }
        ShapeOp::GatherNd { batch_dims } => like_input0(
            inputs,
            s0.zip(shape(inputs, 1))
                .map(|(d, i)| rules::gather_nd_shape(d, i, *batch_dims)),
        ),
        ShapeOp::ScatterElements { .. } | ShapeOp::ScatterNd { .. } | ShapeOp::Trilu { .. } => {
            like_input0(inputs, s0.map(|s| Ok(s.to_vec())))
        }
        ShapeOp::ReverseSequence { .. } => like_input0(inputs, s0.map(|s| Ok(s.to_vec()))),
        ShapeOp::TensorScatter { axis, .. } => like_input0(
            inputs,
            s0.map(|past| {
                if let Some(update) = shape(inputs, 1) {
                    rules::tensor_scatter_axis(past, update, *axis)?;
                }
                Ok(past.to_vec())
            }),
        ),
        ShapeOp::Expand => like_input0(
            inputs,
            s0.zip(ints(inputs, 1))
                .map(|(s, t)| rules::expand_shape(s, &t)),
        ),
        ShapeOp::Tile => like_input0(
            inputs,
            s0.zip(ints(inputs, 1))
                .map(|(s, r)| rules::tile_shape(s, &r)),
        ),
        ShapeOp::Pad(attrs) => {
            let pads = match &attrs.pads {
                Some(p) => Some((p.clone(), None)),
                None => ints(inputs, 1).zip(opt_ints(inputs, 3)),
            };
            like_input0(
                inputs,
                s0.zip(pads).map(|(s, (pads, axes))| {
                    let amounts = rules::pad_amounts(s.len(), &pads, axes.as_deref())?;
                    rules::pad_shape(s, &amounts)
                }),
            )
        }
        ShapeOp::Resize(attrs) => like_input0(inputs, resize_shape(attrs, inputs)),
        ShapeOp::Shape { start, end } => Ok(vec![match s0 {
            Some(s) => {
                let (b, e) = rules::shape_range(s.len(), *start, *end);
                let dims: Vec<i64> = s[b..e].iter().map(|&d| d as i64).collect();
                Fact::constant(Arc::new(Tensor::from_vec(&[dims.len()], dims)?))
            }
            None => Fact::of_dtype(DType::I64),
        }]),
        ShapeOp::Size => Ok(vec![match s0 {
            Some(s) => Fact::constant(Arc::new(Tensor::scalar(s.iter().product::<usize>() as i64))),
            None => Fact::of_dtype(DType::I64),
        }]),
        ShapeOp::ConstantOfShape { value } => {
            let dims = ints(inputs, 0).map(|v| {
                v.iter()
                    .map(|&d| rules::to_dim(d, "a ConstantOfShape dim"))
                    .collect::<Result<Vec<_>>>()
            });
            Ok(vec![fact(Some(value.dtype()), dims.transpose()?)])
        }
        ShapeOp::Range => Ok(vec![fact(dtype(inputs, 0), None)]),
        ShapeOp::NonZero => Ok(vec![Fact::of_dtype(DType::I64)]),
        ShapeOp::TopK(attrs) => {
            let k = attrs
                .k
                .or_else(|| ints(inputs, 1).and_then(|v| v.first().copied()));
            let out = s0
                .zip(k)
                .map(|(s, k)| rules::topk_shape(s, attrs.axis, k).map(|(_, o)| o))
                .transpose()?;
            Ok(vec![
                fact(dtype(inputs, 0), out.clone()),
                fact(Some(DType::I64), out),
            ])
        }
        ShapeOp::Unique { .. } => {
            let i64s = Fact::of_dtype(DType::I64);
            Ok(vec![
                fact(dtype(inputs, 0), None),
                i64s.clone(),
                i64s.clone(),
                i64s,
            ])
        }
        ShapeOp::DepthToSpace { blocksize, .. } => like_input0(
            inputs,
            s0.map(|s| rules::depth_to_space_shape(s, *blocksize)),
        ),
        ShapeOp::SpaceToDepth { blocksize, .. } => like_input0(
            inputs,
            s0.map(|s| rules::space_to_depth_shape(s, *blocksize)),
        ),
        ShapeOp::OneHot { axis } => {
            let depth = floats(inputs, 1).and_then(|v| v.first().copied());
            let out = shape(inputs, 0)
                .zip(depth)
                .map(|(s, d)| {
                    rules::one_hot_shape(s, rules::to_dim(d as i64, "OneHot depth")?, *axis)
                        .map(|(_, o)| o)
                })
                .transpose()?;
            Ok(vec![fact(dtype(inputs, 2), out)])
        }
        ShapeOp::EyeLike { dtype: d, .. } => {
            Ok(vec![fact(d.or(dtype(inputs, 0)), s0.map(|s| s.to_vec()))])
        }
        ShapeOp::CenterCropPad { axes } => like_input0(
            inputs,
            s0.zip(ints(inputs, 1))
                .map(|(s, sizes)| rules::center_crop_pad_shape(s, &sizes, axes.as_deref())),
        ),
        ShapeOp::Compress { axis } => {
            let cond = input(inputs, 1)
                .and_then(|f| f.value.clone())
                .filter(|c| c.dtype() == DType::Bool);
            let out = s0
                .zip(cond)
                .map(|(s, c)| rules::compress_shape(s, c.bytes(), *axis))
                .transpose()?;
            Ok(vec![fact(dtype(inputs, 0), out)])
        }
    }
}

fn infer_split(attrs: &SplitAttrs, inputs: &[Option<&Fact>]) -> Result<Vec<Fact>> {
    let dt = dtype(inputs, 0);
    let split = match &attrs.split {
        Some(_) => Some(None),
        None => opt_ints(inputs, 1),
    };
    let Some((s, split)) = shape(inputs, 0).zip(split) else {
        return Ok(vec![
            Fact {
                dtype: dt,
                shape: None,
                value: None
            };
            attrs.outputs
        ]);
    };
    let axis = rules::normalize_axis(attrs.axis, s.len())?;
    let sizes = rules::split_sizes(s[axis], attrs, split.as_deref())?;
    Ok(sizes
        .into_iter()
        .map(|n| {
            let mut out = s.to_vec();
            out[axis] = n;
            fact(dt, Some(out))
        })
        .collect())
}
