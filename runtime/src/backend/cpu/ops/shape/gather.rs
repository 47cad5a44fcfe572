//! Index-driven selection: Gather, GatherElements, GatherND and Compress. Indices are
//! validated (negative ones count from the end; out of range is an error) before any copy.

use super::copy::gather_by_index;
use super::wrap_index;
use crate::backend::cpu::ops::{Inputs, Outputs};
use crate::ir::ops::shape::rules;
use crate::tensor::{numel, strides_of, TensorView};
use crate::{bail, DType, Result};

pub(super) fn gather(ins: &Inputs<'_>, out: &mut Outputs, axis: i64) -> Result<()> {
    let (data, indices) = (ins.get(0)?, ins.get(1)?);
    let (axis, shape) = rules::gather_shape(data.shape, indices.shape, axis)?;
    let dim = data.shape[axis];
    let picks = indices
        .to_i64_vec()?
        .into_iter()
        .map(|i| wrap_index(i, dim))
        .collect::<Result<Vec<_>>>()?;
    let y = out.alloc_uninit(0, data.dtype, &shape)?;
    take(&data, axis, &picks, y.bytes);
    Ok(())
}

/// Writes `data` with its `axis` dim replaced by the (in range) `picks` into `dst`.
pub(super) fn take(data: &TensorView<'_>, axis: usize, picks: &[usize], dst: &mut [u8]) {
    let dim = data.shape[axis];
    let outer = numel(&data.shape[..axis]);
    let block = numel(&data.shape[axis + 1..]) * data.dtype.size();
    let mut at = 0;
    for o in 0..outer {
        for &p in picks {
            let src = (o * dim + p) * block;
            dst[at..at + block].copy_from_slice(&data.bytes[src..src + block]);
            at += block;
        }
    }
}

/// Flat element positions in a tensor of `shape` (strides `strides`) for every position of
/// `index_shape`, with the `axis` coordinate replaced by the (wrapped) index value.
pub(super) fn element_positions(
    shape: &[usize],
    index_shape: &[usize],
    indices: &[i64],
    axis: usize,
) -> Result<Vec<usize>> {
    if index_shape.len() != shape.len()
        || index_shape
            .iter()
            .zip(shape)
            .enumerate()
            .any(|(d, (&i, &s))| d != axis && i > s)
    {
        bail!(
            shape,
            "indices of shape {index_shape:?} do not fit data of shape {shape:?} on axis {axis}"
        );
    }
    let strides = strides_of(shape);
    let mut coord = vec![0usize; shape.len()];
    let mut positions = Vec::with_capacity(indices.len());
    for &i in indices {
        let base: usize = coord
            .iter()
            .zip(&strides)
            .enumerate()
            .filter(|&(d, _)| d != axis)
            .map(|(_, (c, s))| c * s)
            .sum();
        positions.push(base + wrap_index(i, shape[axis])? * strides[axis]);
        for d in (0..coord.len()).rev() {
            coord[d] += 1;
            if coord[d] < index_shape[d] {
                break;
            }
            coord[d] = 0;
        }
    }
    Ok(positions)
}

pub(super) fn gather_elements(ins: &Inputs<'_>, out: &mut Outputs, axis: i64) -> Result<()> {
    let (data, indices) = (ins.get(0)?, ins.get(1)?);
    let axis = rules::normalize_axis(axis, data.rank())?;
    let positions = element_positions(data.shape, indices.shape, &indices.to_i64_vec()?, axis)?;
    let y = out.alloc_uninit(0, data.dtype, indices.shape)?;
    gather_by_index(data.dtype.size(), data.bytes, y.bytes, &positions)
}

pub(super) fn gather_nd(ins: &Inputs<'_>, out: &mut Outputs, batch_dims: usize) -> Result<()> {
    let (data, indices) = (ins.get(0)?, ins.get(1)?);
    let shape = rules::gather_nd_shape(data.shape, indices.shape, batch_dims)?;
    let k = indices.shape[indices.rank() - 1];
    let strides = strides_of(data.shape);
    let batch_size = numel(&data.shape[batch_dims..]) * data.dtype.size();
    let block = numel(&data.shape[batch_dims + k..]) * data.dtype.size();
    let tuples = indices.to_i64_vec()?;
    let per_batch = numel(&indices.shape[batch_dims..indices.rank() - 1]);
    let y = out.alloc_uninit(0, data.dtype, &shape)?;
    if k == 0 {
        // Each (empty) tuple selects the whole batch entry.
        for (t, chunk) in y.bytes.chunks_exact_mut(block.max(1)).enumerate() {
            let b = t / per_batch.max(1);
            chunk.copy_from_slice(&data.bytes[b * batch_size..b * batch_size + block]);
        }
        return Ok(());
    }
    for (t, tuple) in tuples.chunks_exact(k).enumerate() {
        let b = t / per_batch.max(1);
        let mut src = b * batch_size;
        for (j, &i) in tuple.iter().enumerate() {
            src += wrap_index(i, data.shape[batch_dims + j])?
                * strides[batch_dims + j]
                * data.dtype.size();
        }
        y.bytes[t * block..(t + 1) * block].copy_from_slice(&data.bytes[src..src + block]);
    }
    Ok(())
}

pub(super) fn compress(ins: &Inputs<'_>, out: &mut Outputs, axis: Option<i64>) -> Result<()> {
    let (data, condition) = (ins.get(0)?, ins.get(1)?);
    if condition.dtype != DType::Bool {
        bail!(
            dtype,
            "Compress condition must be bool, got {}",
            condition.dtype
        );
    }
    let shape = rules::compress_shape(data.shape, condition.bytes, axis)?;
    let (outer, dim, inner) = match axis {
        None => (1, data.len(), 1),
        Some(a) => {
            let a = rules::normalize_axis(a, data.rank())?;
            (
                numel(&data.shape[..a]),
                data.shape[a],
                numel(&data.shape[a + 1..]),
            )
        }
    };
    let block = inner * data.dtype.size();
    let y = out.alloc_uninit(0, data.dtype, &shape)?;
    let mut dst = 0;
    for o in 0..outer {
        for (i, _) in condition
            .bytes
            .iter()
            .take(dim)
            .enumerate()
            .filter(|(_, &c)| c != 0)
        {
            let src = (o * dim + i) * block;
            y.bytes[dst..dst + block].copy_from_slice(&data.bytes[src..src + block]);
            dst += block;
        }
    }
    Ok(())
}
