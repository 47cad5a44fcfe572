//! `MatMul` (numpy semantics) and the batched product the family's other ops reuse.

use super::numeric::{with_num_type, Num};
use super::{same_dtype, through_f32, Inputs, Outputs};
use crate::backend::cpu::ops::util::broadcast_index;
use crate::ir::ops::transformer::matmul_shape;
use crate::tensor::{broadcast_shapes, numel, TensorView};
use crate::{DType, Error, Result};
use mote_kernels::cpu::matmul::GemmParams;

pub(super) fn eval(ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let t = same_dtype("MatMul", ins, &[1])?;
    if matches!(t, DType::F16 | DType::BF16) {
        return through_f32(ins, out, t, eval);
    }
    let (a, b) = (ins.get(0)?, ins.get(1)?);
    with_num_type!(t, T => matmul::<T>(a, b, out), _ => Err(Error::unsupported("MatMul", format!("dtype {t}"))))
}

fn matmul<T: Num>(a: TensorView<'_>, b: TensorView<'_>, out: &mut Outputs) -> Result<()> {
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
/// broadcast numpy-style; `c` holds the broadcast batch of `[M, N]` results.
pub(super) fn batched<T: Num>(
    a: &[T],
    batch_a: &[usize],
    b: &[T],
    batch_b: &[usize],
    d: Dims,
    c: &mut [T],
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
    if numel(batch_b) == 1 && batch_a == batch.as_slice() {
        // B is shared by every batch: one product with the batches stacked as rows of A.
        return T::gemm(&GemmParams::row_major(count * d.m, d.n, d.k), a, b, c);
    }
    let (ia, ib) = (
        broadcast_index(batch_a, &batch),
        broadcast_index(batch_b, &batch),
    );
    let p = GemmParams::row_major(d.m, d.n, d.k);
    for (i, ci) in c.chunks_exact_mut(mn).enumerate() {
        let (oa, ob) = (ia(i) * mk, ib(i) * kn);
        T::gemm(&p, &a[oa..oa + mk], &b[ob..ob + kn], ci)?;
    }
    Ok(())
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
        batched(&a, &[2], &b, &[3], Dims { m: 1, k: 2, n: 1 }, &mut c).unwrap_err();
        batched(&a, &[2, 1], &b, &[3], Dims { m: 1, k: 2, n: 1 }, &mut c).unwrap();
        assert_eq!(c, [3, 10, 200, 7, 30, 400]);
    }

    #[test]
    fn shared_b_stacks_rows() {
        let a = [1.0f32, 2.0, 3.0, 4.0];
        let b = [1.0f32, 1.0];
        let mut c = [0.0f32; 2];
        batched(&a, &[2], &b, &[], Dims { m: 1, k: 2, n: 1 }, &mut c).unwrap();
        assert_eq!(c, [3.0, 7.0]);
    }
}
