//! Data-dependent selection and ordering: NonZero, TopK, Unique, ReverseSequence.

use super::gather::take;
use super::ints;
use super::numeric::Numeric;
use crate::backend::cpu::ops::{Inputs, Outputs};
use crate::ir::ops::shape::{rules, TopKAttrs};
use crate::tensor::{numel, strides_of, TensorView};
use crate::{bail, DType, Error, Result};
use std::cmp::Ordering;

/// Total order for sorting: NaN above every number (as numpy sorts), equal NaNs tie.
fn compare<T: PartialOrd>(a: &T, b: &T) -> Ordering {
    a.partial_cmp(b).unwrap_or_else(|| {
        #[allow(clippy::eq_op)] // x != x detects NaN without a float bound
        let (a_nan, b_nan) = (a != a, b != b);
        a_nan.cmp(&b_nan)
    })
}

fn non_zero_positions<T: Numeric>(x: &TensorView<'_>) -> Result<Vec<usize>> {
    Ok(x.as_slice::<T>()?
        .iter()
        .enumerate()
        .filter(|(_, v)| v.to_f64() != 0.0)
        .map(|(i, _)| i)
        .collect())
}

pub(super) fn non_zero(ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let x = ins.get(0)?;
    let positions = match x.dtype {
        DType::Bool => x
            .bytes
            .iter()
            .enumerate()
            .filter(|(_, &b)| b != 0)
            .map(|(i, _)| i)
            .collect(),
        d => crate::with_numeric_type!(d, T => non_zero_positions::<T>(&x)?,
            _ => return Err(Error::unsupported("NonZero", format!("dtype {d}")))),
    };
    let (rank, n) = (x.rank(), positions.len());
    let strides = strides_of(x.shape);
    let y = out.alloc_typed::<i64>(0, &[rank, n])?;
    for (k, &p) in positions.iter().enumerate() {
        for d in 0..rank {
            y[d * n + k] = ((p / strides[d]) % x.shape[d]) as i64;
        }
    }
    Ok(())
}

fn top_k_typed<T: Numeric>(
    x: &TensorView<'_>,
    out: &mut Outputs,
    axis: usize,
    shape: &[usize],
    largest: bool,
) -> Result<()> {
    let data = x.as_slice::<T>()?;
    let (dim, k) = (x.shape[axis], shape[axis]);
    let (outer, inner) = (numel(&x.shape[..axis]), numel(&x.shape[axis + 1..]));
    let mut values = vec![T::default(); numel(shape)];
    let mut indices = vec![0i64; numel(shape)];
    let mut lane: Vec<usize> = Vec::with_capacity(dim);
    for o in 0..outer {
        for i in 0..inner {
            let at = |j: usize| &data[(o * dim + j) * inner + i];
            // Best first; equal values keep the lower index first.
            let order = |a: &usize, b: &usize| {
                let by_value = compare(at(*a), at(*b));
                (if largest {
                    by_value.reverse()
                } else {
                    by_value
                })
                .then(a.cmp(b))
            };
            best_k(&mut lane, dim, k, &order);
            for (r, &j) in lane.iter().enumerate() {
                let dst = (o * k + r) * inner + i;
                values[dst] = *at(j);
                indices[dst] = j as i64;
            }
        }
    }
    out.alloc_typed::<T>(0, shape)?.copy_from_slice(&values);
    if out.is_used(1) {
        out.alloc_typed::<i64>(1, shape)?.copy_from_slice(&indices);
    }
    Ok(())
}

/// `lane` set to the `k` first of `0..dim` in `order`, in that order. Not generic: the
/// selection and sort are compiled once, not once per element type.
fn best_k(lane: &mut Vec<usize>, dim: usize, k: usize, order: &dyn Fn(&usize, &usize) -> Ordering) {
    lane.clear();
    lane.extend(0..dim);
    if k > 0 && k < dim {
        lane.select_nth_unstable_by(k - 1, order);
    }
    lane.truncate(k);
    lane.sort_unstable_by(order);
}

pub(super) fn top_k(ins: &Inputs<'_>, out: &mut Outputs, attrs: &TopKAttrs) -> Result<()> {
    let x = ins.get(0)?;
    let k = match attrs.k {
        Some(k) => k,
        None => match ints(ins, 1)?.as_slice() {
            [k] => *k,
            _ => bail!(shape, "TopK k must have one element"),
        },
    };
    let (axis, shape) = rules::topk_shape(x.shape, attrs.axis, k)?;
    crate::with_numeric_type!(x.dtype, T => top_k_typed::<T>(&x, out, axis, &shape, attrs.largest),
        _ => Err(Error::unsupported("TopK", format!("dtype {}", x.dtype))))
}

/// Groups of equal rows: the row index of each group's first occurrence, each row's group,
/// each group's size; groups in ascending row order when `sorted`, else by first occurrence.
///
/// Not generic: the rows are compared through `cmp_rows`, so the sort is compiled once rather
/// than once per element type and row layout (the stable sort is ~10 KB of code a copy).
fn unique_rows(
    rows: usize,
    cmp_rows: &dyn Fn(usize, usize) -> Ordering,
    sorted: bool,
) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let mut order: Vec<usize> = (0..rows).collect();
    order.sort_by(|&a, &b| cmp_rows(a, b)); // stable: the first row of a group is its first occurrence
    let (mut first, mut counts, mut group_of) = (Vec::new(), Vec::new(), vec![0usize; rows]);
    for (n, &r) in order.iter().enumerate() {
        if n == 0 || cmp_rows(order[n - 1], r).is_ne() {
            first.push(r);
            counts.push(0);
        }
        group_of[r] = first.len() - 1;
        *counts.last_mut().unwrap_or(&mut 0) += 1;
    }
    if !sorted {
        let mut by_occurrence: Vec<usize> = (0..first.len()).collect();
        by_occurrence.sort_by_key(|&g| first[g]);
        let mut renumber = vec![0usize; first.len()];
        for (new, &old) in by_occurrence.iter().enumerate() {
            renumber[old] = new;
        }
        first = by_occurrence.iter().map(|&g| first[g]).collect();
        counts = by_occurrence.iter().map(|&g| counts[g]).collect();
        group_of.iter_mut().for_each(|g| *g = renumber[*g]);
    }
    (first, group_of, counts)
}

/// [`unique_rows`] of `rows` rows of `row_len` elements, element `j` of row `r` at
/// `row_of(r, j)`.
fn unique_typed<T: Numeric>(
    data: &[T],
    rows: usize,
    row_of: &dyn Fn(usize, usize) -> usize,
    row_len: usize,
    sorted: bool,
) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let cmp_rows = |a: usize, b: usize| {
        (0..row_len)
            .map(|j| compare(&data[row_of(a, j)], &data[row_of(b, j)]))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    };
    unique_rows(rows, &cmp_rows, sorted)
}

pub(super) fn unique(
    ins: &Inputs<'_>,
    out: &mut Outputs,
    axis: Option<i64>,
    sorted: bool,
) -> Result<()> {
    let x = ins.get(0)?;
    let (first, group_of, counts) = match axis {
        None => {
            crate::with_numeric_type!(x.dtype, T => unique_typed(x.as_slice::<T>()?, x.len(), &|r, _| r, 1, sorted),
            _ => bail!(dtype, "Unique of {} is not supported", x.dtype))
        }
        Some(a) => {
            let a = rules::normalize_axis(a, x.rank())?;
            let (dim, inner) = (x.shape[a], numel(&x.shape[a + 1..]));
            let row_len = numel(&x.shape[..a]) * inner;
            // Row r is the slice at index r of the axis; element j walks the other dims in order.
            let row_of =
                |r: usize, j: usize| ((j / inner.max(1)) * dim + r) * inner + j % inner.max(1);
            crate::with_numeric_type!(x.dtype, T => unique_typed(x.as_slice::<T>()?, dim, &row_of, row_len, sorted),
                _ => bail!(dtype, "Unique of {} is not supported", x.dtype))
        }
    };
    let as_i64 = |v: &[usize]| v.iter().map(|&i| i as i64).collect::<Vec<_>>();
    match axis {
        None => {
            let w = x.dtype.size();
            let y = out.alloc_uninit(0, x.dtype, &[first.len()])?;
            for (d, &f) in y.bytes.chunks_exact_mut(w).zip(&first) {
                d.copy_from_slice(&x.bytes[f * w..(f + 1) * w]);
            }
        }
        Some(a) => {
            let a = rules::normalize_axis(a, x.rank())?;
            let mut shape = x.shape.to_vec();
            shape[a] = first.len();
            let y = out.alloc_uninit(0, x.dtype, &shape)?;
            take(&x, a, &first, y.bytes);
        }
    }
    let outputs = [as_i64(&first), as_i64(&group_of), as_i64(&counts)];
    for (i, values) in outputs.iter().enumerate() {
        if out.is_used(i + 1) {
            out.alloc_typed::<i64>(i + 1, &[values.len()])?
                .copy_from_slice(values);
        }
    }
    Ok(())
}

pub(super) fn reverse_sequence(
    ins: &Inputs<'_>,
    out: &mut Outputs,
    batch_axis: i64,
    time_axis: i64,
) -> Result<()> {
    let x = ins.get(0)?;
    let lens = ints(ins, 1)?;
    if x.rank() < 2 {
        bail!(shape, "ReverseSequence needs rank >= 2, got {:?}", x.shape);
    }
    let (b_axis, t_axis) = (
        rules::normalize_axis(batch_axis, 2)?,
        rules::normalize_axis(time_axis, 2)?,
    );
    if b_axis == t_axis {
        bail!(
            shape,
            "ReverseSequence batch and time axes are both {b_axis}"
        );
    }
    let (batch, time) = (x.shape[b_axis], x.shape[t_axis]);
    if lens.len() != batch {
        bail!(
            shape,
            "{} sequence lengths for a batch of {batch}",
            lens.len()
        );
    }
    let block = numel(&x.shape[2..]) * x.dtype.size();
    let strides = [x.shape[1] * block, block];
    let offset = |t: usize, b: usize| t * strides[t_axis] + b * strides[b_axis];
    let y = out.alloc_uninit(0, x.dtype, x.shape)?;
    y.bytes.copy_from_slice(x.bytes);
    for (b, &len) in lens.iter().enumerate() {
        let len = match usize::try_from(len) {
            Ok(n) if n <= time => n,
            _ => bail!(argument, "sequence length {len} is outside 0..={time}"),
        };
        for t in 0..len {
            let (dst, src) = (offset(t, b), offset(len - 1 - t, b));
            y.bytes[dst..dst + block].copy_from_slice(&x.bytes[src..src + block]);
        }
    }
    Ok(())
}
