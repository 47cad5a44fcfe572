//! `Einsum`, general: each operand first loses its repeated labels (diagonals) and the labels
//! nothing else uses (summed), then operands are contracted left to right, each pair as one
//! batched matrix product `[batch, M, K] · [batch, K, N]`, and the result is permuted into the
//! output order.

use super::matmul::{batched, Dims};
use super::numeric::{with_num_type, Num};
use super::{through_f32, through_wide_int, wide_int, Inputs, Outputs};
use crate::ir::ops::transformer::einsum::{Einsum, Resolved};
use crate::tensor::{numel, strides_of, TensorView};
use crate::{DType, Error, Result};

pub(super) fn eval(e: &Einsum, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let views = (0..ins.len())
        .map(|i| ins.get(i))
        .collect::<Result<Vec<_>>>()?;
    let t = views
        .first()
        .map(|v| v.dtype)
        .ok_or_else(|| Error::invalid_model("Einsum without inputs"))?;
    if let Some(v) = views.iter().find(|v| v.dtype != t) {
        return Err(Error::dtype(format!(
            "Einsum: inputs of types {t} and {}",
            v.dtype
        )));
    }
    if matches!(t, DType::F16 | DType::BF16) {
        return through_f32(ins, out, t, |ins, out| eval(e, ins, out));
    }
    if let Some(wide) = wide_int(t) {
        return through_wide_int(ins, out, t, wide, |ins, out| eval(e, ins, out));
    }
    with_num_type!(t, T => einsum::<T>(e, &views, out), _ => Err(Error::unsupported("Einsum", format!("dtype {t}"))))
}

/// A tensor whose axes carry distinct labels, row-major.
#[derive(Debug)]
struct Operand<T> {
    data: Vec<T>,
    labels: Vec<usize>,
    dims: Vec<usize>,
}

fn einsum<T: Num>(e: &Einsum, views: &[TensorView<'_>], out: &mut Outputs) -> Result<()> {
    let shapes: Vec<&[usize]> = views.iter().map(|v| v.shape).collect();
    let r = e.resolve(&shapes)?;
    // Whether a label is still needed after operand `idx` has been absorbed.
    let needed_after = |label: usize, idx: usize| {
        r.output.contains(&label) || r.inputs[idx + 1..].iter().any(|t| t.contains(&label))
    };
    let mut acc: Option<Operand<T>> = None;
    for (idx, view) in views.iter().enumerate() {
        let used_by_others =
            |l: usize| needed_after(l, idx) || acc.as_ref().is_some_and(|a| a.labels.contains(&l));
        let operand = reduce(
            view.as_slice::<T>()?,
            &r.inputs[idx],
            view.shape,
            used_by_others,
        )?;
        acc = Some(match acc.take() {
            None => operand,
            Some(prev) => contract(prev, operand, |l| needed_after(l, idx), &r)?,
        });
    }
    let acc = acc.ok_or_else(|| Error::invalid_model("Einsum without inputs"))?;
    let y = out.alloc_typed::<T>(0, &r.output_shape())?;
    permute_into(&acc, &r.output, &r.output_shape(), y);
    Ok(())
}

/// Calls `f(src, dst)` with the offsets of every index of `dims` (row-major order) under the
/// two stride vectors.
fn for_each_offset(dims: &[usize], src: &[usize], dst: &[usize], mut f: impl FnMut(usize, usize)) {
    if dims.contains(&0) {
        return;
    }
    let mut index = vec![0usize; dims.len()];
    let (mut s, mut d) = (0usize, 0usize);
    loop {
        f(s, d);
        let mut axis = dims.len();
        loop {
            if axis == 0 {
                return;
            }
            axis -= 1;
            index[axis] += 1;
            s += src[axis];
            d += dst[axis];
            if index[axis] < dims[axis] {
                break;
            }
            s -= src[axis] * dims[axis];
            d -= dst[axis] * dims[axis];
            index[axis] = 0;
        }
    }
}

/// Takes the diagonal over repeated labels and sums the labels `keep` rejects.
fn reduce<T: Num>(
    data: &[T],
    labels: &[usize],
    shape: &[usize],
    keep: impl Fn(usize) -> bool,
) -> Result<Operand<T>> {
    let strides = strides_of(shape);
    let mut unique: Vec<(usize, usize, usize)> = Vec::new(); // (label, dim, summed stride)
    for ((&l, &d), &s) in labels.iter().zip(shape).zip(&strides) {
        match unique.iter_mut().find(|u| u.0 == l) {
            Some(u) if u.1 != d => {
                return Err(Error::shape(format!(
                    "Einsum: a repeated label has extents {} and {d}",
                    u.1
                )));
            }
            Some(u) => u.2 += s,
            None => unique.push((l, d, s)),
        }
    }
    let (kept, summed): (Vec<_>, Vec<_>) = unique.into_iter().partition(|u| keep(u.0));
    let dims: Vec<usize> = kept.iter().map(|u| u.1).collect();
    if summed.is_empty() && kept.len() == labels.len() {
        return Ok(Operand {
            data: data.to_vec(),
            labels: labels.to_vec(),
            dims,
        });
    }
    let mut out = vec![T::ZERO; numel(&dims)];
    let out_strides = strides_of(&dims);
    let all: Vec<_> = kept.iter().chain(&summed).collect();
    let all_dims: Vec<usize> = all.iter().map(|u| u.1).collect();
    let src: Vec<usize> = all.iter().map(|u| u.2).collect();
    let dst: Vec<usize> = out_strides
        .iter()
        .copied()
        .chain(summed.iter().map(|_| 0))
        .collect();
    for_each_offset(&all_dims, &src, &dst, |s, d| out[d] = out[d].plus(data[s]));
    Ok(Operand {
        data: out,
        labels: kept.iter().map(|u| u.0).collect(),
        dims,
    })
}

/// Copies `op` into `y`, laid out row-major as `labels` with extents `dims`; size-1 and
/// absent axes of `op` broadcast.
fn permute_into<T: Num>(op: &Operand<T>, labels: &[usize], dims: &[usize], y: &mut [T]) {
    let own = strides_of(&op.dims);
    let src: Vec<usize> = labels
        .iter()
        .map(|l| match op.labels.iter().position(|x| x == l) {
            Some(p) if op.dims[p] != 1 => own[p],
            _ => 0,
        })
        .collect();
    for_each_offset(dims, &src, &strides_of(dims), |s, d| y[d] = op.data[s]);
}

fn permuted<T: Num>(op: &Operand<T>, labels: &[usize], dims: &[usize]) -> Vec<T> {
    let mut v = vec![T::ZERO; numel(dims)];
    permute_into(op, labels, dims, &mut v);
    v
}

/// Contracts two operands over their shared labels that `keep` rejects; the result has the
/// labels batch (shared, kept), then `a`'s own, then `b`'s own.
fn contract<T: Num>(
    a: Operand<T>,
    b: Operand<T>,
    keep: impl Fn(usize) -> bool,
    r: &Resolved,
) -> Result<Operand<T>> {
    // Labels only one side has and nothing needs are summed first.
    let a = reduce(&a.data, &a.labels, &a.dims, |l| {
        keep(l) || b.labels.contains(&l)
    })?;
    let b = reduce(&b.data, &b.labels, &b.dims, |l| {
        keep(l) || a.labels.contains(&l)
    })?;
    let shared = |l: &usize| b.labels.contains(l);
    let batch: Vec<usize> = a
        .labels
        .iter()
        .copied()
        .filter(|l| shared(l) && keep(*l))
        .collect();
    let inner: Vec<usize> = a
        .labels
        .iter()
        .copied()
        .filter(|l| shared(l) && !keep(*l))
        .collect();
    let rows: Vec<usize> = a.labels.iter().copied().filter(|l| !shared(l)).collect();
    let cols: Vec<usize> = b
        .labels
        .iter()
        .copied()
        .filter(|l| !a.labels.contains(l))
        .collect();
    let size = |ls: &[usize]| -> Vec<usize> { ls.iter().map(|&l| r.sizes[l]).collect() };
    let (batch_dims, inner_dims, row_dims, col_dims) =
        (size(&batch), size(&inner), size(&rows), size(&cols));
    let a_labels = [batch.as_slice(), &rows, &inner].concat();
    let b_labels = [batch.as_slice(), &inner, &cols].concat();
    let a_mat = permuted(
        &a,
        &a_labels,
        &[batch_dims.as_slice(), &row_dims, &inner_dims].concat(),
    );
    let b_mat = permuted(
        &b,
        &b_labels,
        &[batch_dims.as_slice(), &inner_dims, &col_dims].concat(),
    );
    let d = Dims {
        m: numel(&row_dims),
        k: numel(&inner_dims),
        n: numel(&col_dims),
    };
    let count = numel(&batch_dims);
    let mut c = vec![T::ZERO; count * d.m * d.n];
    batched(&a_mat, &[count], &b_mat, &[count], d, &mut c, 1)?;
    Ok(Operand {
        data: c,
        labels: [batch.as_slice(), &rows, &cols].concat(),
        dims: [batch_dims.as_slice(), &row_dims, &col_dims].concat(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(eq: &str, inputs: &[(&[usize], Vec<f64>)]) -> (Vec<usize>, Vec<f64>) {
        let e = Einsum::parse(eq).unwrap();
        let tensors: Vec<crate::Tensor> = inputs
            .iter()
            .map(|(s, v)| crate::Tensor::from_vec(s, v.clone()).unwrap())
            .collect();
        let views: Vec<_> = tensors.iter().map(|t| t.view()).collect();
        let mut out = Outputs::fresh(1);
        einsum::<f64>(&e, &views, &mut out).unwrap();
        let y = out.into_results().remove(0).unwrap();
        (y.shape().to_vec(), y.as_slice::<f64>().unwrap().to_vec())
    }

    #[test]
    fn diagonal_trace_and_sum() {
        let x: Vec<f64> = (0..9).map(f64::from).collect();
        assert_eq!(
            run("ii->i", &[(&[3, 3], x.clone())]),
            (vec![3], vec![0.0, 4.0, 8.0])
        );
        assert_eq!(run("ii", &[(&[3, 3], x.clone())]), (vec![], vec![12.0]));
        assert_eq!(
            run("ij->j", &[(&[3, 3], x)]),
            (vec![3], vec![9.0, 12.0, 15.0])
        );
    }

    #[test]
    fn matmul_transpose_and_outer() {
        let a = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // [2, 3]
        let b = vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0]; // [3, 2]
        assert_eq!(
            run("ij,jk", &[(&[2, 3], a.clone()), (&[3, 2], b.clone())]),
            (vec![2, 2], vec![4.0, 5.0, 10.0, 11.0])
        );
        assert_eq!(
            run("ij,jk->ki", &[(&[2, 3], a.clone()), (&[3, 2], b)]),
            (vec![2, 2], vec![4.0, 10.0, 5.0, 11.0])
        );
        let (s, v) = run(
            "i,j->ij",
            &[(&[2], vec![1.0, 2.0]), (&[3], vec![1.0, 10.0, 100.0])],
        );
        assert_eq!(
            (s, v),
            (vec![2, 3], vec![1.0, 10.0, 100.0, 2.0, 20.0, 200.0])
        );
    }

    #[test]
    fn three_operands_and_broadcast_ellipsis() {
        let (s, v) = run(
            "i,i,i->",
            &[
                (&[2], vec![1.0, 2.0]),
                (&[2], vec![3.0, 4.0]),
                (&[2], vec![5.0, 6.0]),
            ],
        );
        assert_eq!((s, v), (vec![], vec![15.0 + 48.0]));
        // [2, 1, 2] x [3, 2] batch-broadcast over the ellipsis.
        let (s, v) = run(
            "...j,...j->...",
            &[
                (&[2, 1, 2], vec![1.0, 0.0, 0.0, 1.0]),
                (&[3, 2], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
            ],
        );
        assert_eq!((s, v), (vec![2, 3], vec![1.0, 3.0, 5.0, 2.0, 4.0, 6.0]));
    }
}
