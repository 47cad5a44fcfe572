//! Output-shape rules of the shape ops, shared by inference (on known facts) and the CPU
//! evaluation (on actual inputs), so both always agree. Every rule validates its arguments
//! and returns an error rather than panicking on a malformed model or input.

use super::{ScatterReduction, SplitAttrs};
use crate::ir::ops::infer_util;
use crate::tensor::numel;
use crate::{bail, Error, Result};

/// Normalises a possibly negative axis of a tensor of rank >= 1.
pub fn normalize_axis(axis: i64, rank: usize) -> Result<usize> {
    if rank == 0 {
        bail!(shape, "axis {axis} given for a scalar");
    }
    infer_util::axis(axis, rank)
}

/// A size from a model value: negative values are errors.
pub fn to_dim(v: i64, what: &str) -> Result<usize> {
    usize::try_from(v).map_err(|_| Error::shape(format!("{what} must be non-negative, got {v}")))
}

/// Normalises a list of possibly negative axes for `rank`, rejecting repeats.
pub fn normalize_axes(axes: &[i64], rank: usize) -> Result<Vec<usize>> {
    let mut out = Vec::with_capacity(axes.len());
    for &a in axes {
        let a = normalize_axis(a, rank)?;
        if out.contains(&a) {
            bail!(shape, "axis {a} is repeated in {axes:?}");
        }
        out.push(a);
    }
    Ok(out)
}

/// `Reshape` target: 0 copies the input dim (unless `allowzero`), one -1 is inferred.
pub fn reshape_shape(input: &[usize], target: &[i64], allowzero: bool) -> Result<Vec<usize>> {
    let mut out = Vec::with_capacity(target.len());
    let mut inferred = None;
    for (i, &t) in target.iter().enumerate() {
        out.push(match t {
            -1 if inferred.is_some() => bail!(shape, "reshape target {target:?} has several -1"),
            -1 => {
                inferred = Some(i);
                1
            }
            0 if !allowzero => *input.get(i).ok_or_else(|| {
                Error::shape(format!(
                    "reshape target {target:?} copies dim {i} of {input:?}"
                ))
            })?,
            t => to_dim(t, "a reshape dim")?,
        });
    }
    let total = numel(input);
    if let Some(i) = inferred {
        let known: usize = out.iter().product();
        if known == 0 || total % known != 0 {
            bail!(shape, "cannot reshape {input:?} to {target:?}");
        }
        out[i] = total / known;
    }
    if numel(&out) != total {
        bail!(
            shape,
            "cannot reshape {input:?} ({total} elements) to {target:?}"
        );
    }
    Ok(out)
}

/// `Flatten` output `[prod(dims[..axis]), prod(dims[axis..])]`.
pub fn flatten_shape(input: &[usize], axis: i64) -> Result<Vec<usize>> {
    let rank = input.len() as i64;
    if axis < -rank || axis > rank {
        bail!(shape, "flatten axis {axis} out of range for rank {rank}");
    }
    let axis = if axis < 0 { axis + rank } else { axis } as usize;
    Ok(vec![numel(&input[..axis]), numel(&input[axis..])])
}

/// `Squeeze`: removes the listed size-1 dims, or all size-1 dims without a list.
pub fn squeeze_shape(input: &[usize], axes: Option<&[i64]>) -> Result<Vec<usize>> {
    let Some(axes) = axes else {
        return Ok(input.iter().copied().filter(|&d| d != 1).collect());
    };
    let axes = normalize_axes(axes, input.len())?;
    for &a in &axes {
        if input[a] != 1 {
            bail!(
                shape,
                "cannot squeeze dim {a} of size {} in {input:?}",
                input[a]
            );
        }
    }
    Ok(input
        .iter()
        .enumerate()
        .filter(|(i, _)| !axes.contains(i))
        .map(|(_, &d)| d)
        .collect())
}

/// `Unsqueeze`: inserts size-1 dims at the listed positions of the output.
pub fn unsqueeze_shape(input: &[usize], axes: &[i64]) -> Result<Vec<usize>> {
    let rank = input.len() + axes.len();
    let axes = normalize_axes(axes, rank)?;
    let mut rest = input.iter();
    Ok((0..rank)
        .map(|i| {
            if axes.contains(&i) {
                1
            } else {
                rest.next().copied().unwrap_or(1)
            }
        })
        .collect())
}

/// `Transpose` permutation, validated (default: reversed dims).
pub fn transpose_perm(rank: usize, perm: Option<&[i64]>) -> Result<Vec<usize>> {
    let Some(perm) = perm else {
        return Ok((0..rank).rev().collect());
    };
    if perm.len() != rank {
        bail!(shape, "transpose perm {perm:?} does not fit rank {rank}");
    }
    normalize_axes(perm, rank)
}

/// `Concat` output shape and normalised axis.
pub fn concat_shape(inputs: &[&[usize]], axis: i64) -> Result<(usize, Vec<usize>)> {
    let first = inputs
        .first()
        .ok_or_else(|| Error::invalid_model("Concat without inputs"))?;
    let axis = normalize_axis(axis, first.len())?;
    let mut out = first.to_vec();
    out[axis] = 0;
    for s in inputs {
        let same_rest = s.len() == first.len()
            && s.iter()
                .zip(first.iter())
                .enumerate()
                .all(|(i, (a, b))| i == axis || a == b);
        if !same_rest {
            bail!(
                shape,
                "cannot concatenate shapes {inputs:?} along axis {axis}"
            );
        }
        out[axis] += s[axis];
    }
    Ok((axis, out))
}

/// `Split` part sizes along the (normalised) axis of size `dim`.
pub fn split_sizes(
    dim: usize,
    attrs: &SplitAttrs,
    split_input: Option<&[i64]>,
) -> Result<Vec<usize>> {
    if let Some(split) = attrs.split.as_deref().or(split_input) {
        let sizes = split
            .iter()
            .map(|&s| to_dim(s, "a split size"))
            .collect::<Result<Vec<_>>>()?;
        if sizes.len() != attrs.outputs || sizes.iter().sum::<usize>() != dim {
            bail!(
                shape,
                "split sizes {split:?} do not cut a dim of {dim} into {} outputs",
                attrs.outputs
            );
        }
        return Ok(sizes);
    }
    let parts = attrs.num_outputs.unwrap_or(attrs.outputs);
    if parts == 0 || parts != attrs.outputs {
        bail!(
            shape,
            "split into {parts} parts with {} outputs",
            attrs.outputs
        );
    }
    // Equal parts; when uneven the last one is smaller (opset 18 rule, also used before).
    let chunk = dim.div_ceil(parts);
    let mut left = dim;
    Ok((0..parts)
        .map(|_| {
            let n = chunk.min(left);
            left -= n;
            n
        })
        .collect())
}

/// One dim of a slice: the first index, the step and the element count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SliceDim {
    /// First element taken (valid when `len > 0`).
    pub start: usize,
    /// Distance between taken elements (never 0).
    pub step: i64,
    /// Number of elements taken.
    pub len: usize,
}

/// Effective slice of every dim of `input` (ONNX clamping rules, any step sign).
pub fn slice_dims(
    input: &[usize],
    starts: &[i64],
    ends: &[i64],
    axes: Option<&[i64]>,
    steps: Option<&[i64]>,
) -> Result<Vec<SliceDim>> {
    let n = starts.len();
    if ends.len() != n || axes.is_some_and(|a| a.len() != n) || steps.is_some_and(|s| s.len() != n)
    {
        bail!(shape, "slice starts/ends/axes/steps lengths differ");
    }
    let mut dims: Vec<SliceDim> = input
        .iter()
        .map(|&d| SliceDim {
            start: 0,
            step: 1,
            len: d,
        })
        .collect();
    let default_axes: Vec<i64> = (0..n as i64).collect();
    let axes = normalize_axes(axes.unwrap_or(&default_axes), input.len())?;
    for (i, &axis) in axes.iter().enumerate() {
        let step = steps.map_or(1, |s| s[i]);
        if step == 0 {
            bail!(shape, "slice step is 0");
        }
        let dim = input[axis] as i128;
        let adjust = |v: i64| if v < 0 { v as i128 + dim } else { v as i128 };
        let (start, end) = if step > 0 {
            (
                adjust(starts[i]).clamp(0, dim),
                adjust(ends[i]).clamp(0, dim),
            )
        } else {
            (
                adjust(starts[i]).clamp(0, (dim - 1).max(0)),
                adjust(ends[i]).clamp(-1, dim - 1),
            )
        };
        let step_wide = step as i128;
        let span = if step > 0 { end - start } else { start - end };
        let len = if span <= 0 {
            0
        } else {
            (span + step_wide.abs() - 1) / step_wide.abs()
        };
        dims[axis] = SliceDim {
            start: start as usize,
            step,
            len: len as usize,
        };
    }
    Ok(dims)
}

/// `Gather` output: `data[..axis] ++ indices ++ data[axis + 1..]`.
pub fn gather_shape(data: &[usize], indices: &[usize], axis: i64) -> Result<(usize, Vec<usize>)> {
    let axis = normalize_axis(axis, data.len())?;
    let mut out = data[..axis].to_vec();
    out.extend_from_slice(indices);
    out.extend_from_slice(&data[axis + 1..]);
    Ok((axis, out))
}

/// `GatherND` output: `indices[..-1] ++ data[batch_dims + k..]`.
pub fn gather_nd_shape(data: &[usize], indices: &[usize], batch_dims: usize) -> Result<Vec<usize>> {
    let (&k, lead) = indices
        .split_last()
        .ok_or_else(|| Error::shape("GatherND indices must have rank >= 1"))?;
    if batch_dims >= data.len() || batch_dims >= indices.len() || batch_dims + k > data.len() {
        bail!(
            shape,
            "GatherND: data {data:?}, indices {indices:?} and batch_dims {batch_dims} do not fit"
        );
    }
    if data[..batch_dims] != indices[..batch_dims] {
        bail!(
            shape,
            "GatherND batch dims differ: data {data:?}, indices {indices:?}"
        );
    }
    let mut out = lead.to_vec();
    out.extend_from_slice(&data[batch_dims + k..]);
    Ok(out)
}

/// Checks `ScatterND` shapes: `updates == indices[..-1] ++ data[k..]`.
pub fn check_scatter_nd(data: &[usize], indices: &[usize], updates: &[usize]) -> Result<()> {
    let (&k, lead) = indices
        .split_last()
        .ok_or_else(|| Error::shape("ScatterND indices must have rank >= 1"))?;
    let fits = k <= data.len()
        && updates.len() == lead.len() + data.len() - k
        && updates[..lead.len()] == *lead
        && updates[lead.len()..] == data[k..];
    if !fits {
        bail!(
            shape,
            "ScatterND: data {data:?}, indices {indices:?}, updates {updates:?} do not fit"
        );
    }
    Ok(())
}

/// `Expand`: bidirectional broadcast of the input to the target shape.
pub fn expand_shape(input: &[usize], target: &[i64]) -> Result<Vec<usize>> {
    let target = target
        .iter()
        .map(|&d| to_dim(d, "an expand dim"))
        .collect::<Result<Vec<_>>>()?;
    crate::tensor::broadcast_shapes(&[input, &target])
}

/// `Tile`: each dim times its repeat count.
pub fn tile_shape(input: &[usize], repeats: &[i64]) -> Result<Vec<usize>> {
    if repeats.len() != input.len() {
        bail!(
            shape,
            "tile repeats {repeats:?} do not fit rank {}",
            input.len()
        );
    }
    input
        .iter()
        .zip(repeats)
        .map(|(&d, &r)| {
            d.checked_mul(to_dim(r, "a tile repeat")?)
                .ok_or_else(|| Error::shape("tile output too large"))
        })
        .collect()
}

/// `Pad` amounts `(begin, end)` per dim from `[begins..., ends...]` over `axes` (default all).
pub fn pad_amounts(rank: usize, pads: &[i64], axes: Option<&[i64]>) -> Result<Vec<(i64, i64)>> {
    let default_axes: Vec<i64> = (0..rank as i64).collect();
    let axes = normalize_axes(axes.unwrap_or(&default_axes), rank)?;
    if pads.len() != 2 * axes.len() {
        bail!(shape, "{} pads given for {} axes", pads.len(), axes.len());
    }
    let mut out = vec![(0, 0); rank];
    for (i, &a) in axes.iter().enumerate() {
        out[a] = (pads[i], pads[axes.len() + i]);
    }
    Ok(out)
}

/// `Pad` output shape.
pub fn pad_shape(input: &[usize], amounts: &[(i64, i64)]) -> Result<Vec<usize>> {
    input
        .iter()
        .zip(amounts)
        .map(|(&d, &(b, e))| {
            let n = d as i128 + b as i128 + e as i128;
            usize::try_from(n)
                .map_err(|_| Error::shape(format!("pads ({b}, {e}) crop a dim of {d} below zero")))
        })
        .collect()
}

/// `Shape` dims range `start..end` after clamping (empty when start >= end).
pub fn shape_range(rank: usize, start: i64, end: Option<i64>) -> (usize, usize) {
    let r = rank as i64;
    let clamp = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
    let (s, e) = (clamp(start), clamp(end.unwrap_or(r)));
    (s, e.max(s))
}

/// `TopK` output shape (the searched dim becomes `k`) and normalised axis.
pub fn topk_shape(input: &[usize], axis: i64, k: i64) -> Result<(usize, Vec<usize>)> {
    let axis = normalize_axis(axis, input.len())?;
    let k = to_dim(k, "TopK k")?;
    if k > input[axis] {
        bail!(shape, "TopK k = {k} exceeds dim {axis} of {input:?}");
    }
    let mut out = input.to_vec();
    out[axis] = k;
    Ok((axis, out))
}

/// `DepthToSpace` output `[n, c / b², h * b, w * b]`.
pub fn depth_to_space_shape(input: &[usize], blocksize: usize) -> Result<Vec<usize>> {
    let &[n, c, h, w] = input else {
        bail!(shape, "DepthToSpace needs a rank-4 input, got {input:?}")
    };
    let bb = blocksize * blocksize;
    if bb == 0 || c % bb != 0 {
        bail!(
            shape,
            "DepthToSpace: {c} channels are not a multiple of blocksize² ({bb})"
        );
    }
    Ok(vec![n, c / bb, h * blocksize, w * blocksize])
}

/// `SpaceToDepth` output `[n, c * b², h / b, w / b]`.
pub fn space_to_depth_shape(input: &[usize], blocksize: usize) -> Result<Vec<usize>> {
    let &[n, c, h, w] = input else {
        bail!(shape, "SpaceToDepth needs a rank-4 input, got {input:?}")
    };
    if blocksize == 0 || h % blocksize != 0 || w % blocksize != 0 {
        bail!(
            shape,
            "SpaceToDepth: {h}x{w} is not a multiple of blocksize {blocksize}"
        );
    }
    Ok(vec![
        n,
        c * blocksize * blocksize,
        h / blocksize,
        w / blocksize,
    ])
}

/// `OneHot` output: the indices' shape with `depth` inserted at `axis` (in `[-r-1, r]`).
pub fn one_hot_shape(indices: &[usize], depth: usize, axis: i64) -> Result<(usize, Vec<usize>)> {
    let axis = normalize_axis(axis, indices.len() + 1)?;
    let mut out = indices.to_vec();
    out.insert(axis, depth);
    Ok((axis, out))
}

/// `CenterCropPad` output: the listed dims take the requested sizes.
pub fn center_crop_pad_shape(
    input: &[usize],
    sizes: &[i64],
    axes: Option<&[i64]>,
) -> Result<Vec<usize>> {
    let default_axes: Vec<i64> = (0..input.len() as i64).collect();
    let axes = normalize_axes(axes.unwrap_or(&default_axes), input.len())?;
    if sizes.len() != axes.len() {
        bail!(
            shape,
            "CenterCropPad: {} sizes for {} axes",
            sizes.len(),
            axes.len()
        );
    }
    let mut out = input.to_vec();
    for (&a, &s) in axes.iter().zip(sizes) {
        out[a] = to_dim(s, "a CenterCropPad size")?;
    }
    Ok(out)
}

/// `Compress` output for a known condition (bytes 0/1): trues among the first
/// `min(len, dim)` entries.
pub fn compress_shape(input: &[usize], condition: &[u8], axis: Option<i64>) -> Result<Vec<usize>> {
    match axis {
        None => {
            let n = input.iter().product::<usize>().min(condition.len());
            Ok(vec![condition[..n].iter().filter(|&&c| c != 0).count()])
        }
        Some(axis) => {
            let axis = normalize_axis(axis, input.len())?;
            let n = input[axis].min(condition.len());
            let mut out = input.to_vec();
            out[axis] = condition[..n].iter().filter(|&&c| c != 0).count();
            Ok(out)
        }
    }
}

/// The reductions each opset allows, by name.
pub fn scatter_reduction(name: &str) -> Option<ScatterReduction> {
    Some(match name {
        "none" => ScatterReduction::None,
        "add" => ScatterReduction::Add,
        "mul" => ScatterReduction::Mul,
        "max" => ScatterReduction::Max,
        "min" => ScatterReduction::Min,
        _ => return None,
    })
}

/// `TensorScatter`: the normalised sequence axis, after checking that `update` is `past`
/// with a sequence axis no longer, and that the axis is not the batch axis 0.
pub fn tensor_scatter_axis(past: &[usize], update: &[usize], axis: i64) -> Result<usize> {
    let axis = normalize_axis(axis, past.len())?;
    if axis == 0 {
        bail!(shape, "TensorScatter axis cannot be the batch axis 0");
    }
    let fits = update.len() == past.len()
        && past
            .iter()
            .zip(update)
            .enumerate()
            .all(|(i, (&p, &u))| if i == axis { u <= p } else { u == p });
    if !fits {
        bail!(
            shape,
            "TensorScatter update {update:?} does not fit cache {past:?} along axis {axis}"
        );
    }
    Ok(axis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensor_scatter_updates_fit_the_cache() {
        assert_eq!(
            tensor_scatter_axis(&[2, 3, 8, 4], &[2, 3, 1, 4], -2).unwrap(),
            2
        );
        assert!(tensor_scatter_axis(&[2, 3, 8, 4], &[2, 3, 9, 4], -2).is_err());
        assert!(tensor_scatter_axis(&[2, 3, 8, 4], &[2, 2, 1, 4], -2).is_err());
        assert!(tensor_scatter_axis(&[2, 8], &[1, 8], 0).is_err());
        assert!(tensor_scatter_axis(&[2, 8], &[2, 8, 1], 1).is_err());
    }

    #[test]
    fn reshape_copies_zero_and_infers_minus_one() {
        assert_eq!(
            reshape_shape(&[2, 3, 4], &[0, -1], false).unwrap(),
            vec![2, 12]
        );
        assert_eq!(reshape_shape(&[0, 3], &[3, 0], true).unwrap(), vec![3, 0]);
        assert!(reshape_shape(&[2, 3], &[-1, -1], false).is_err());
        assert!(reshape_shape(&[2, 3], &[4, -1], false).is_err());
        assert!(reshape_shape(&[2, 3], &[0, 0, 0], false).is_err());
    }

    #[test]
    fn slice_clamps_and_handles_negative_steps() {
        let d = slice_dims(&[10], &[-1], &[i64::MIN], None, Some(&[-3])).unwrap();
        assert_eq!(
            d[0],
            SliceDim {
                start: 9,
                step: -3,
                len: 4
            }
        );
        let d = slice_dims(&[10], &[20], &[1000], None, None).unwrap();
        assert_eq!(d[0].len, 0);
        let d = slice_dims(&[4], &[0], &[i64::MAX], None, Some(&[2])).unwrap();
        assert_eq!(
            d[0],
            SliceDim {
                start: 0,
                step: 2,
                len: 2
            }
        );
        assert!(slice_dims(&[4], &[0], &[1], None, Some(&[0])).is_err());
    }

    #[test]
    fn split_uneven_last_part_is_smaller() {
        let attrs = SplitAttrs {
            axis: 0,
            split: None,
            num_outputs: Some(3),
            outputs: 3,
        };
        assert_eq!(split_sizes(7, &attrs, None).unwrap(), vec![3, 3, 1]);
        assert!(split_sizes(7, &attrs, Some(&[3, 3])).is_err());
    }

    #[test]
    fn shape_range_clamps() {
        assert_eq!(shape_range(3, -10, Some(10)), (0, 3));
        assert_eq!(shape_range(3, 2, Some(1)), (2, 2));
        assert_eq!(shape_range(3, 1, Some(-1)), (1, 2));
    }
}
