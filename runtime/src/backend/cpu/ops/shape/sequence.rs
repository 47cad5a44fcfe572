//! Values built from parameters, not from an input's data (feature `ops-index`): Range,
//! EyeLike, OneHot, and Trilu (a masked copy).

use super::numeric::{scalar_bytes, Numeric};
use crate::backend::cpu::ops::{Inputs, Outputs};
use crate::ir::ops::shape::rules;
use crate::tensor::numel;
use crate::{bail, DType, Error, Result};

fn range_typed<T: Numeric>(ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let scalar = |i: usize| -> Result<T> {
        let v = ins.get(i)?;
        match v.as_slice::<T>()? {
            [x] => Ok(*x),
            _ => bail!(
                shape,
                "Range input {i} must be a scalar, got shape {:?}",
                v.shape
            ),
        }
    };
    let (start, limit, delta) = (scalar(0)?, scalar(1)?, scalar(2)?);
    let (s, l, d) = (start.to_f64(), limit.to_f64(), delta.to_f64());
    if d == 0.0 {
        bail!(argument, "Range delta is 0");
    }
    let n = ((l - s) / d).ceil().max(0.0);
    if !n.is_finite() || n > (isize::MAX as f64) {
        bail!(argument, "Range of {s}..{l} by {d} is too long");
    }
    let y = out.alloc_typed::<T>(0, &[n as usize])?;
    if T::DTYPE.is_float() {
        for (i, v) in y.iter_mut().enumerate() {
            *v = T::from_f64(s + i as f64 * d);
        }
    } else {
        // Integers accumulate exactly (wrapping like the element type would).
        let mut v = start;
        for slot in y.iter_mut() {
            *slot = v;
            v = v.add(delta);
        }
    }
    Ok(())
}

pub(super) fn range(ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let dtype = ins.get(0)?.dtype;
    crate::with_numeric_type!(dtype, T => range_typed::<T>(ins, out),
        _ => Err(Error::unsupported("Range", format!("dtype {dtype}"))))
}

pub(super) fn eye_like(
    ins: &Inputs<'_>,
    out: &mut Outputs,
    dtype: Option<DType>,
    k: i64,
) -> Result<()> {
    let x = ins.get(0)?;
    let &[rows, cols] = x.shape else {
        bail!(shape, "EyeLike needs a 2-D input, got {:?}", x.shape)
    };
    let dtype = dtype.unwrap_or(x.dtype);
    let one = scalar_bytes(dtype, 1.0)?;
    let y = out.alloc(0, dtype, x.shape)?;
    let w = one.len();
    for r in 0..rows {
        let c = r as i64 + k;
        if (0..cols as i64).contains(&c) {
            let at = (r * cols + c as usize) * w;
            y.bytes[at..at + w].copy_from_slice(&one);
        }
    }
    Ok(())
}

pub(super) fn trilu(ins: &Inputs<'_>, out: &mut Outputs, upper: bool) -> Result<()> {
    let x = ins.get(0)?;
    let k = match ins.opt(1) {
        Some(v) => v.scalar_i64()?,
        None => 0,
    };
    let rank = x.rank();
    if rank < 2 {
        bail!(shape, "Trilu needs rank >= 2, got {:?}", x.shape);
    }
    let (rows, cols) = (x.shape[rank - 2] as i64, x.shape[rank - 1]);
    let w = x.dtype.size();
    let y = out.alloc_uninit(0, x.dtype, x.shape)?;
    y.bytes.copy_from_slice(x.bytes);
    if y.bytes.is_empty() {
        return Ok(());
    }
    // Row i keeps columns j with j - i >= k (upper) or j - i <= k (lower); zero the rest.
    for (r, row) in y.bytes.chunks_exact_mut(cols * w).enumerate() {
        let i = r as i64 % rows.max(1);
        let clamp = |j: i64| j.clamp(0, cols as i64) as usize;
        let (from, to) = if upper {
            (0, clamp(i + k))
        } else {
            (clamp(i + k + 1), cols)
        };
        row[from * w..to.max(from) * w].fill(0);
    }
    Ok(())
}

pub(super) fn one_hot(ins: &Inputs<'_>, out: &mut Outputs, axis: i64) -> Result<()> {
    let (indices, depth, values) = (ins.get(0)?, ins.get(1)?, ins.get(2)?);
    let depth = match depth.to_f64_vec()?.as_slice() {
        [d] => *d as i64,
        _ => bail!(
            shape,
            "OneHot depth must have one element, got shape {:?}",
            depth.shape
        ),
    };
    let depth = rules::to_dim(depth, "OneHot depth")?;
    if values.len() != 2 {
        bail!(
            shape,
            "OneHot values must have two elements, got shape {:?}",
            values.shape
        );
    }
    let (axis, shape) = rules::one_hot_shape(indices.shape, depth, axis)?;
    let w = values.dtype.size();
    let (off, on) = values.bytes.split_at(w);
    let y = out.alloc_uninit(0, values.dtype, &shape)?;
    for chunk in y.bytes.chunks_exact_mut(w) {
        chunk.copy_from_slice(off);
    }
    // Output index = (outer, class, inner) where the indices are (outer, inner).
    let inner = numel(&indices.shape[axis..]);
    for (n, idx) in indices.to_f64_vec()?.into_iter().enumerate() {
        let mut class = idx as i64;
        if class < 0 {
            class += depth as i64;
        }
        if !(0..depth as i64).contains(&class) {
            continue;
        }
        let (o, i) = (n / inner.max(1), n % inner.max(1));
        let at = ((o * depth + class as usize) * inner + i) * w;
        y.bytes[at..at + w].copy_from_slice(on);
    }
    Ok(())
}
