//! Ops that only rearrange elements: reshapes (a plain copy under a new shape), transpose,
//! concat/split, slice, expand, tile and the depth/space shuffles (strided copies).

use super::copy::{copy_strided, signed_strides, Strided};
use super::transpose_2d::Transpose2d;
use super::{ints, opt_ints};
use crate::backend::cpu::ops::{Inputs, Outputs};
use crate::ir::ops::shape::{rules, BlockMode, SliceAttrs, SplitAttrs};
use crate::tensor::{numel, TensorView};
use crate::{bail, Result};

/// Output `i` is `x`'s bytes under `shape` (same element count, checked by the caller's rule).
fn copy_as(out: &mut Outputs, i: usize, x: &TensorView<'_>, shape: &[usize]) -> Result<()> {
    let y = out.alloc_uninit(i, x.dtype, shape)?;
    if y.bytes.len() != x.bytes.len() {
        bail!(internal, "{:?} and {shape:?} differ in size", x.shape);
    }
    y.bytes.copy_from_slice(x.bytes);
    Ok(())
}

/// Output 0 reads `x` through `pattern`.
fn copy_pattern(
    out: &mut Outputs,
    x: &TensorView<'_>,
    shape: &[usize],
    pattern: &Strided,
) -> Result<()> {
    let y = out.alloc_uninit(0, x.dtype, shape)?;
    copy_strided(x.dtype.size(), x.bytes, y.bytes, pattern)
}

/// The read pattern of `x` viewed as `view` (same element count) with dims permuted.
fn permuted(view: &[usize], perm: &[usize]) -> Strided {
    let strides = signed_strides(view);
    Strided {
        shape: perm.iter().map(|&p| view[p]).collect(),
        strides: perm.iter().map(|&p| strides[p]).collect(),
        offset: 0,
    }
}

pub(super) fn identity(ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let x = ins.get(0)?;
    copy_as(out, 0, &x, x.shape)
}

pub(super) fn reshape(
    ins: &Inputs<'_>,
    out: &mut Outputs,
    allowzero: bool,
    attr: Option<&[i64]>,
) -> Result<()> {
    let x = ins.get(0)?;
    let target = match attr {
        Some(t) => t.to_vec(),
        None => ints(ins, 1)?,
    };
    copy_as(
        out,
        0,
        &x,
        &rules::reshape_shape(x.shape, &target, allowzero)?,
    )
}

pub(super) fn flatten(ins: &Inputs<'_>, out: &mut Outputs, axis: i64) -> Result<()> {
    let x = ins.get(0)?;
    copy_as(out, 0, &x, &rules::flatten_shape(x.shape, axis)?)
}

pub(super) fn squeeze(ins: &Inputs<'_>, out: &mut Outputs, attr: Option<&[i64]>) -> Result<()> {
    let x = ins.get(0)?;
    let axes = match attr {
        Some(a) => Some(a.to_vec()),
        None => opt_ints(ins, 1)?,
    };
    copy_as(out, 0, &x, &rules::squeeze_shape(x.shape, axes.as_deref())?)
}

pub(super) fn unsqueeze(ins: &Inputs<'_>, out: &mut Outputs, attr: Option<&[i64]>) -> Result<()> {
    let x = ins.get(0)?;
    let axes = match attr {
        Some(a) => a.to_vec(),
        None => ints(ins, 1)?,
    };
    copy_as(out, 0, &x, &rules::unsqueeze_shape(x.shape, &axes)?)
}

pub(super) fn transpose(ins: &Inputs<'_>, out: &mut Outputs, perm: Option<&[i64]>) -> Result<()> {
    let x = ins.get(0)?;
    let perm = rules::transpose_perm(x.rank(), perm)?;
    let pattern = permuted(x.shape, &perm);
    let shape = pattern.shape.clone();
    // 4-byte elements whose pattern is a batch of 2-D transposes take the blocked kernel
    // (storage is 64-byte aligned, so the casts to f32 only fail on a broken buffer).
    let fast = Transpose2d::of(&pattern.simplified()).filter(|_| x.dtype.size() == 4);
    if let (Some(plan), Ok(src)) = (fast, bytemuck::try_cast_slice::<u8, f32>(x.bytes)) {
        let y = out.alloc_uninit(0, x.dtype, &shape)?;
        if let Ok(dst) = bytemuck::try_cast_slice_mut::<u8, f32>(y.bytes) {
            return plan.run(src, dst);
        }
        return copy_strided(4, x.bytes, y.bytes, &pattern);
    }
    copy_pattern(out, &x, &shape, &pattern)
}

pub(super) fn concat(ins: &Inputs<'_>, out: &mut Outputs, axis: i64) -> Result<()> {
    let parts = (0..ins.len())
        .map(|i| ins.get(i))
        .collect::<Result<Vec<_>>>()?;
    let first = parts
        .first()
        .copied()
        .ok_or_else(|| crate::Error::invalid_model("Concat without inputs"))?;
    if let Some(p) = parts.iter().find(|p| p.dtype != first.dtype) {
        bail!(dtype, "Concat of {} and {}", first.dtype, p.dtype);
    }
    let shapes: Vec<&[usize]> = parts.iter().map(|p| p.shape).collect();
    let (axis, shape) = rules::concat_shape(&shapes, axis)?;
    let (outer, inner) = (
        numel(&shape[..axis]),
        numel(&shape[axis + 1..]) * first.dtype.size(),
    );
    let y = out.alloc_uninit(0, first.dtype, &shape)?;
    let row = shape[axis] * inner;
    let mut at = 0;
    for p in &parts {
        let block = p.shape[axis] * inner;
        for o in 0..outer {
            y.bytes[o * row + at..o * row + at + block]
                .copy_from_slice(&p.bytes[o * block..(o + 1) * block]);
        }
        at += block;
    }
    Ok(())
}

pub(super) fn split(ins: &Inputs<'_>, out: &mut Outputs, attrs: &SplitAttrs) -> Result<()> {
    let x = ins.get(0)?;
    let axis = rules::normalize_axis(attrs.axis, x.rank())?;
    let sizes = rules::split_sizes(x.shape[axis], attrs, opt_ints(ins, 1)?.as_deref())?;
    let (outer, inner) = (
        numel(&x.shape[..axis]),
        numel(&x.shape[axis + 1..]) * x.dtype.size(),
    );
    let row = x.shape[axis] * inner;
    let mut at = 0;
    for (i, &n) in sizes.iter().enumerate() {
        let block = n * inner;
        if out.is_used(i) {
            let mut shape = x.shape.to_vec();
            shape[axis] = n;
            let y = out.alloc_uninit(i, x.dtype, &shape)?;
            for o in 0..outer {
                y.bytes[o * block..(o + 1) * block]
                    .copy_from_slice(&x.bytes[o * row + at..o * row + at + block]);
            }
        }
        at += block;
    }
    Ok(())
}

pub(super) fn slice(ins: &Inputs<'_>, out: &mut Outputs, attrs: Option<&SliceAttrs>) -> Result<()> {
    let x = ins.get(0)?;
    let dims = match attrs {
        Some(a) => rules::slice_dims(x.shape, &a.starts, &a.ends, a.axes.as_deref(), None)?,
        None => {
            let (axes, steps) = (opt_ints(ins, 3)?, opt_ints(ins, 4)?);
            rules::slice_dims(
                x.shape,
                &ints(ins, 1)?,
                &ints(ins, 2)?,
                axes.as_deref(),
                steps.as_deref(),
            )?
        }
    };
    let strides = signed_strides(x.shape);
    let shape: Vec<usize> = dims.iter().map(|d| d.len).collect();
    let pattern = Strided {
        shape: shape.clone(),
        strides: dims
            .iter()
            .zip(&strides)
            .map(|(d, &s)| d.step as isize * s)
            .collect(),
        offset: dims
            .iter()
            .zip(&strides)
            .map(|(d, &s)| if d.len == 0 { 0 } else { d.start * s as usize })
            .sum(),
    };
    copy_pattern(out, &x, &shape, &pattern)
}

pub(super) fn expand(ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let x = ins.get(0)?;
    let shape = rules::expand_shape(x.shape, &ints(ins, 1)?)?;
    let lead = shape.len() - x.rank();
    let in_strides = signed_strides(x.shape);
    let strides = (0..shape.len())
        .map(|d| {
            if d < lead || x.shape[d - lead] == 1 {
                0
            } else {
                in_strides[d - lead]
            }
        })
        .collect();
    copy_pattern(
        out,
        &x,
        &shape.clone(),
        &Strided {
            shape,
            strides,
            offset: 0,
        },
    )
}

pub(super) fn tile(ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let x = ins.get(0)?;
    let repeats = ints(ins, 1)?;
    let shape = rules::tile_shape(x.shape, &repeats)?;
    // Output dim d of size r*n, read row-major as [r, n], is (repeat, index): stride (0, s).
    let in_strides = signed_strides(x.shape);
    let mut pattern = Strided {
        shape: Vec::new(),
        strides: Vec::new(),
        offset: 0,
    };
    for (d, &n) in x.shape.iter().enumerate() {
        pattern.shape.extend([shape[d] / n.max(1), n]);
        pattern.strides.extend([0, in_strides[d]]);
    }
    copy_pattern(out, &x, &shape, &pattern)
}

pub(super) fn depth_to_space(
    ins: &Inputs<'_>,
    out: &mut Outputs,
    b: usize,
    mode: BlockMode,
) -> Result<()> {
    let x = ins.get(0)?;
    let shape = rules::depth_to_space_shape(x.shape, b)?;
    let (n, c, h, w) = (x.shape[0], shape[1], x.shape[2], x.shape[3]);
    let pattern = match mode {
        BlockMode::Dcr => permuted(&[n, b, b, c, h, w], &[0, 3, 4, 1, 5, 2]),
        BlockMode::Crd => permuted(&[n, c, b, b, h, w], &[0, 1, 4, 2, 5, 3]),
    };
    copy_pattern(out, &x, &shape, &pattern)
}

pub(super) fn space_to_depth(
    ins: &Inputs<'_>,
    out: &mut Outputs,
    b: usize,
    mode: BlockMode,
) -> Result<()> {
    let x = ins.get(0)?;
    let shape = rules::space_to_depth_shape(x.shape, b)?;
    let (n, c, h, w) = (x.shape[0], x.shape[1], shape[2], shape[3]);
    let view = [n, c, h, b, w, b];
    let pattern = match mode {
        BlockMode::Dcr => permuted(&view, &[0, 3, 5, 1, 2, 4]),
        BlockMode::Crd => permuted(&view, &[0, 1, 3, 5, 2, 4]),
    };
    copy_pattern(out, &x, &shape, &pattern)
}
