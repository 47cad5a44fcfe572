//! ScatterElements (and the old Scatter) and ScatterND: a copy of `data` with updates written
//! or reduced in, in index order (with duplicates, the last write wins).

use super::copy::scatter_by_index;
use super::gather::element_positions;
use super::numeric::Numeric;
use super::wrap_index;
use crate::backend::cpu::ops::{Inputs, Outputs};
use crate::ir::ops::shape::{rules, ScatterReduction};
use crate::tensor::{numel, strides_of};
use crate::{bail, Error, Result};

/// `data[positions[i]] = f(data[positions[i]], updates[i])` in order.
fn reduce_into<T: Numeric>(
    data: &mut [T],
    updates: &[T],
    positions: &[usize],
    reduction: ScatterReduction,
) -> Result<()> {
    for (&u, &p) in updates.iter().zip(positions) {
        let d = data
            .get_mut(p)
            .ok_or_else(|| Error::internal("scatter position out of range"))?;
        *d = match reduction {
            ScatterReduction::None => u,
            ScatterReduction::Add => d.add(u),
            ScatterReduction::Mul => d.mul(u),
            ScatterReduction::Max => {
                if u > *d {
                    u
                } else {
                    *d
                }
            }
            ScatterReduction::Min => {
                if u < *d {
                    u
                } else {
                    *d
                }
            }
        };
    }
    Ok(())
}

/// Writes `updates` into output 0 (a copy of `data`) at element `positions`.
fn write_updates(
    ins: &Inputs<'_>,
    out: &mut Outputs,
    positions: &[usize],
    reduction: ScatterReduction,
) -> Result<()> {
    let (data, updates) = (ins.get(0)?, ins.get(2)?);
    if data.dtype != updates.dtype {
        bail!(
            dtype,
            "scatter of {} updates into {} data",
            updates.dtype,
            data.dtype
        );
    }
    let y = out.alloc_uninit(0, data.dtype, data.shape)?;
    y.bytes.copy_from_slice(data.bytes);
    if reduction == ScatterReduction::None {
        return scatter_by_index(data.dtype.size(), updates.bytes, y.bytes, positions);
    }
    let mut y = y;
    crate::with_numeric_type!(data.dtype, T => {
        reduce_into::<T>(y.as_mut_slice::<T>()?, updates.as_slice::<T>()?, positions, reduction)
    }, _ => Err(Error::unsupported("scatter", format!("reduction on {}", data.dtype))))
}

pub(super) fn scatter_elements(
    ins: &Inputs<'_>,
    out: &mut Outputs,
    axis: i64,
    reduction: ScatterReduction,
) -> Result<()> {
    let (data, indices, updates) = (ins.get(0)?, ins.get(1)?, ins.get(2)?);
    if indices.shape != updates.shape {
        bail!(
            shape,
            "scatter indices {:?} and updates {:?} differ",
            indices.shape,
            updates.shape
        );
    }
    let axis = rules::normalize_axis(axis, data.rank())?;
    let positions = element_positions(data.shape, indices.shape, &indices.to_i64_vec()?, axis)?;
    write_updates(ins, out, &positions, reduction)
}

pub(super) fn scatter_nd(
    ins: &Inputs<'_>,
    out: &mut Outputs,
    reduction: ScatterReduction,
) -> Result<()> {
    let (data, indices, updates) = (ins.get(0)?, ins.get(1)?, ins.get(2)?);
    rules::check_scatter_nd(data.shape, indices.shape, updates.shape)?;
    let k = indices.shape[indices.rank() - 1];
    let strides = strides_of(data.shape);
    let block = numel(&data.shape[k..]);
    let tuples = indices.to_i64_vec()?;
    let count = numel(&indices.shape[..indices.rank() - 1]);
    // Every updated element's position: each tuple selects a block of `block` elements.
    let mut positions = Vec::with_capacity(count * block);
    for t in 0..count {
        let tuple = tuples.get(t * k..(t + 1) * k).unwrap_or_default();
        let mut base = 0;
        for (j, &i) in tuple.iter().enumerate() {
            base += wrap_index(i, data.shape[j])? * strides[j];
        }
        positions.extend(base..base + block);
    }
    write_updates(ins, out, &positions, reduction)
}
