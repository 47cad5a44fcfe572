//! `MatMul` (numpy semantics) and the batched product the family's other ops reuse.

use super::numeric::{tail, tail_mut, with_num_type, Num};
use super::packed::{gemm_packed_rhs, packed_rhs, Lhs};
use super::MIN_WORK_PER_THREAD;
use super::{same_dtype, through_f32, through_wide_int, wide_int, Inputs, Outputs};
use crate::backend::cpu::ops::util::broadcast_index;
use crate::backend::cpu::parallel::{for_each_chunk_mut, worker_count};
use crate::ir::ops::transformer::matmul_shape;
use crate::tensor::{broadcast_shapes, numel, TensorView};
use crate::{DType, Error, Result};
use mote_kernels::cpu::matmul::GemmParams;

pub(super) fn eval(ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let t = same_dtype("MatMul", ins, &[1])?;
    if matches!(t, DType::F16 | DType::BF16) {
        return through_f32(ins, out, t, eval);
    }
    if let Some(wide) = wide_int(t) {
        return through_wide_int(ins, out, t, wide, eval);
    }
    let (a, b) = (ins.get(0)?, ins.get(1)?);
    if let (DType::F32, &[k, n]) = (t, b.shape) {
        if let Some(packed) = packed_rhs(ins, k, n).filter(|_| k > 0 && n > 0) {
            let out_shape = matmul_shape(a.shape, b.shape)?;
            let lhs = Lhs {
                data: a.as_slice::<f32>()?,
                m: numel(a.shape) / k,
                row_stride: k,
                col_stride: 1,
            };
            let y = out.alloc_typed::<f32>(0, &out_shape)?;
            return gemm_packed_rhs(lhs, packed, (1.0, 0.0), &[], y, ins.threads());
        }
    }
    with_num_type!(t, T => matmul::<T>(a, b, out, ins.threads()), _ => Err(Error::unsupported("MatMul", format!("dtype {t}"))))
}

fn matmul<T: Num>(
    a: TensorView<'_>,
    b: TensorView<'_>,
    out: &mut Outputs,
    threads: usize,
) -> Result<()> {
    let out_shape = matmul_shape(a.shape, b.shape)?;
    // A 1-D A is a row [1, K]; a 1-D B a column [K, 1]; the added axis is not in the output.
    let (m, k) = match *a.shape {
        [k] => (1, k),
        [.., m, k] => (m, k),
        [] => return Err(Error::shape("MatMul of a scalar")),
    };
    let n = match *b.shape {
        [_] => 1,
        [.., n] => n,
        [] => return Err(Error::shape("MatMul of a scalar")),
    };
    let batch_a = &a.shape[..a.rank().saturating_sub(2)];
    let batch_b = &b.shape[..b.rank().saturating_sub(2)];
    let y = out.alloc_typed::<T>(0, &out_shape)?;
    batched(
        a.as_slice::<T>()?,
        batch_a,
        b.as_slice::<T>()?,
        batch_b,
        Dims { m, k, n },
        y,
        threads,
    )
}

/// Sizes of one product `[M, K] · [K, N]`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Dims {
    pub(super) m: usize,
    pub(super) k: usize,
    pub(super) n: usize,
}

/// `C[batch] = A[batch] · B[batch]` for row-major matrices stacked along batch axes that
/// broadcast numpy-style; `c` holds the broadcast batch of `[M, N]` results. The stacked rows
/// of `C` are shared out among up to `threads` workers.
pub(super) fn batched<T: Num>(
    a: &[T],
    batch_a: &[usize],
    b: &[T],
    batch_b: &[usize],
    d: Dims,
    c: &mut [T],
    threads: usize,
) -> Result<()> {
    let batch = broadcast_shapes(&[batch_a, batch_b])?;
    let (count, mk, kn, mn) = (numel(&batch), d.m * d.k, d.k * d.n, d.m * d.n);
    if a.len() != numel(batch_a) * mk || b.len() != numel(batch_b) * kn || c.len() != count * mn {
        return Err(Error::internal(
            "batched matmul: operand sizes do not match their shapes",
        ));
    }
    if count == 0 || mn == 0 {
        return Ok(());
    }
    let rows = count * d.m;
    let workers = worker_count(threads, rows, rows * d.k * d.n, MIN_WORK_PER_THREAD);
    if numel(batch_b) == 1 && batch_a == batch.as_slice() {
        // B is shared by every batch: one product with the batches stacked as rows of A.
        return for_each_chunk_mut(c, d.n, workers, |first, ci| {
            let p = GemmParams::row_major(ci.len() / d.n, d.n, d.k);
            T::gemm(&p, tail(a, first * d.k), b, ci)
        });
    }
    let (ia, ib) = (
        broadcast_index(batch_a, &batch),
        broadcast_index(batch_b, &batch),
    );
    // A chunk of stacked rows may start and end inside a batch: one product per piece.
    for_each_chunk_mut(c, d.n, workers, |first, ci| {
        let end = first + ci.len() / d.n;
        let mut row = first;
        while row < end {
            let (i, r) = (row / d.m, row % d.m);
            let len = (d.m - r).min(end - row);
            let (oa, ob) = (ia(i) * mk + r * d.k, ib(i) * kn);
            let p = GemmParams::row_major(len, d.n, d.k);
            let ci = tail_mut(ci, (row - first) * d.n);
            T::gemm(&p, tail(a, oa), &b[ob..ob + kn], ci)?;
            row += len;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_batches_pair_up() {
        // A: [2, 1, 1, 2] (two batches), B: [3, 2, 1] (three batches) -> C: [2, 3, 1, 1].
        let a = [1i64, 2, 3, 4];
        let b = [1i64, 1, 10, 0, 0, 100];
        let mut c = [0i64; 6];
        batched(&a, &[2], &b, &[3], Dims { m: 1, k: 2, n: 1 }, &mut c, 1).unwrap_err();
        batched(&a, &[2, 1], &b, &[3], Dims { m: 1, k: 2, n: 1 }, &mut c, 1).unwrap();
        assert_eq!(c, [3, 10, 200, 7, 30, 400]);
    }

    #[test]
    fn shared_b_stacks_rows() {
        let a = [1.0f32, 2.0, 3.0, 4.0];
        let b = [1.0f32, 1.0];
        let mut c = [0.0f32; 2];
        batched(&a, &[2], &b, &[], Dims { m: 1, k: 2, n: 1 }, &mut c, 1).unwrap();
        assert_eq!(c, [3.0, 7.0]);
    }

    fn ramp(len: usize, seed: f32) -> Vec<f32> {
        (0..len).map(|i| (i as f32 * 0.731 + seed).sin()).collect()
    }

    #[test]
    fn threads_give_bit_identical_products() {
        // Big enough that four workers are used; chunks cut through batches of 37 rows.
        let d = Dims {
            m: 37,
            k: 96,
            n: 80,
        };
        let (a, b) = (ramp(6 * 37 * 96, 0.1), ramp(3 * 96 * 80, 0.2));
        let product = |batch_b: &[usize], b: &[f32], threads| {
            let mut c = vec![0.0f32; 6 * 37 * 80];
            batched(&a, &[2, 3], b, batch_b, d, &mut c, threads).unwrap();
            c
        };
        assert_eq!(product(&[3], &b, 1), product(&[3], &b, 4));
        let shared = &b[..96 * 80];
        assert_eq!(product(&[], shared, 1), product(&[], shared, 3));
        assert_eq!(product(&[1, 1], shared, 1), product(&[1, 1], shared, 4));
    }
}
