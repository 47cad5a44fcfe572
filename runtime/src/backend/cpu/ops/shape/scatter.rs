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

/// TensorScatter: a copy of the cache with each batch entry's update written along `axis`
/// from its write index (input 2; zeros when omitted). `circular` wraps positions around the
/// cache length; otherwise the update must fit between the write index and the cache end.
pub(super) fn tensor_scatter(
    ins: &Inputs<'_>,
    out: &mut Outputs,
    axis: i64,
    circular: bool,
) -> Result<()> {
    let (past, update) = (ins.get(0)?, ins.get(1)?);
    if past.dtype != update.dtype {
        bail!(
            dtype,
            "TensorScatter of a {} update into a {} cache",
            update.dtype,
            past.dtype
        );
    }
    let axis = rules::tensor_scatter_axis(past.shape, update.shape, axis)?;
    let batch = past.shape[0];
    let starts = match ins.opt(2) {
        Some(w) => w.to_i64_vec()?,
        None => vec![0; batch],
    };
    if starts.len() != batch {
        bail!(
            shape,
            "TensorScatter has {} write indices for a batch of {batch}",
            starts.len()
        );
    }
    let (cache_len, seq) = (past.shape[axis], update.shape[axis]);
    // Bytes of one sequence position, and sequence runs (prefixes) per batch entry.
    let row = numel(&past.shape[axis + 1..]) * past.dtype.size();
    let prefixes = numel(&past.shape[1..axis]);
    let y = out.alloc_uninit(0, past.dtype, past.shape)?;
    y.bytes.copy_from_slice(past.bytes);
    if seq == 0 || row == 0 {
        return Ok(());
    }
    let mut positions = Vec::with_capacity(seq);
    for (b, &start) in starts.iter().enumerate() {
        positions.clear();
        for s in 0..seq {
            let pos = start as i128 + s as i128;
            let pos = if circular {
                pos.rem_euclid(cache_len as i128)
            } else {
                pos
            };
            if pos < 0 || pos >= cache_len as i128 {
                bail!(
                    argument,
                    "TensorScatter write index {start} with {seq} updates does not fit a cache of {cache_len}"
                );
            }
            positions.push(pos as usize);
        }
        for prefix in b * prefixes..(b + 1) * prefixes {
            for (s, &pos) in positions.iter().enumerate() {
                let (dst, src) = ((prefix * cache_len + pos) * row, (prefix * seq + s) * row);
                y.bytes[dst..dst + row].copy_from_slice(&update.bytes[src..src + row]);
            }
        }
    }
    Ok(())
}
