//! Products whose right-hand side was constant at load and packed then
//! ([`Prepared::MatMulWeights`]): each call packs only `A`, a band of rows per thread. For
//! PP-OCR rec's classifier (`[40, 120] · [120, 6625]`) and small MLPs, packing `B` was most
//! of the work.

use super::numeric::tail;
use super::{Inputs, MIN_WORK_PER_THREAD};
use crate::backend::cpu::parallel::{for_each_chunk_mut, worker_count};
use crate::backend::cpu::prepare::Prepared;
use crate::{Error, Result};
use mote_kernels::cpu::matmul::{gemm, AOperand, BOperand, Gemm, PackedB, PostOp, Strided};

/// The packed `B'` of this node, if it was packed at load for a `k × n` product.
pub(super) fn packed_rhs<'a>(ins: &Inputs<'a>, k: usize, n: usize) -> Option<&'a PackedB> {
    match ins.prepared() {
        Some(Prepared::MatMulWeights(b)) if b.depth() == k && b.cols() == n => Some(b),
        _ => None,
    }
}

/// `A` addressed as `a[i · row_stride + l · col_stride]`, `m × k`.
pub(super) struct Lhs<'a> {
    pub(super) data: &'a [f32],
    pub(super) m: usize,
    pub(super) row_stride: usize,
    pub(super) col_stride: usize,
}

/// `C = alpha · A·B + beta · C`, then `post`, with `C` row-major `m × n`; rows shared out
/// among up to `threads` workers.
pub(super) fn gemm_packed_rhs(
    a: Lhs<'_>,
    b: &PackedB,
    (alpha, beta): (f32, f32),
    post: &[PostOp<'_>],
    c: &mut [f32],
    threads: usize,
) -> Result<()> {
    let (m, k, n) = (a.m, b.depth(), b.cols());
    if c.len() != m * n {
        return Err(Error::internal("packed matmul: C does not match its shape"));
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    let workers = worker_count(threads, m, m * n * k, MIN_WORK_PER_THREAD);
    for_each_chunk_mut(c, n, workers, |first, band| {
        let call = Gemm {
            m: band.len() / n,
            n,
            k,
            a: AOperand::Strided(Strided {
                data: tail(a.data, first * a.row_stride),
                row_stride: a.row_stride as isize,
                col_stride: a.col_stride as isize,
            }),
            b: BOperand::Packed(b),
            c_row_stride: n as isize,
            alpha,
            beta,
        };
        gemm(&call, band, post).map_err(|e| Error::internal(format!("packed matmul: {e}")))
    })
}

#[cfg(test)]
mod tests {
    use crate::backend::cpu::ops::{eval, Inputs, Outputs};
    use crate::backend::cpu::prepare::{pack_matmul_weights, Prepared};
    use crate::ir::ops::transformer::{Gemm, TransformerOp};
    use crate::ir::Op;
    use crate::Tensor;

    fn ramp(shape: &[usize], seed: f32) -> Tensor {
        let n = shape.iter().product::<usize>();
        let v: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37 + seed).sin()).collect();
        Tensor::from_vec(shape, v).unwrap()
    }

    /// Runs `op` as given and with `B'` (input 1, `[k, n]` after `transposed`) packed as at load.
    fn both(
        op: &Op,
        inputs: &[Option<&Tensor>],
        transposed: bool,
        threads: usize,
    ) -> (Vec<f32>, Vec<f32>) {
        let b = inputs[1].unwrap();
        let prepared = pack_matmul_weights(b.shape(), b.as_slice::<f32>().unwrap(), transposed)
            .unwrap()
            .expect("a 2-D B is packed");
        let run = |prepared: Option<&Prepared>| {
            let views = inputs.iter().map(|t| t.map(|t| t.view())).collect();
            let ins = Inputs::new(views, threads).with_prepared(prepared);
            let mut out = Outputs::fresh(1);
            eval(op, &ins, &mut out).unwrap();
            let y = out.into_results().remove(0).unwrap();
            y.as_slice::<f32>().unwrap().to_vec()
        };
        (run(None), run(Some(&*prepared)))
    }

    fn close(plain: &[f32], packed: &[f32]) {
        assert_eq!(plain.len(), packed.len());
        for (i, (p, q)) in plain.iter().zip(packed).enumerate() {
            assert!((p - q).abs() <= 1e-5 * p.abs().max(1.0), "{i}: {p} vs {q}");
        }
    }

    #[test]
    fn packed_matmul_matches_the_plain_one() {
        // Batched A (stacked rows), a single row, sizes past the micro-kernel tiles.
        for (a_shape, threads) in [(vec![2, 3, 37, 50], 3), (vec![1, 50], 1), (vec![50], 2)] {
            let a = ramp(&a_shape, 0.1);
            let b = ramp(&[50, 70], 0.2);
            let (plain, packed) = both(
                &Op::Transformer(TransformerOp::MatMul),
                &[Some(&a), Some(&b)],
                false,
                threads,
            );
            close(&plain, &packed);
        }
    }

    #[test]
    fn packed_gemm_matches_the_plain_one() {
        let (m, k, n) = (41, 33, 70);
        for (trans_a, trans_b) in [(false, false), (true, true), (false, true)] {
            for (c_shape, beta) in [
                (Some(vec![n]), 1.0),
                (Some(vec![1, n]), 1.0),
                (Some(vec![m, n]), 0.5),
                (None, 0.0),
            ] {
                let op = Op::Transformer(TransformerOp::Gemm(Gemm {
                    alpha: 0.75,
                    beta,
                    trans_a,
                    trans_b,
                    broadcast_c: true,
                }));
                let a = if trans_a {
                    ramp(&[k, m], 0.1)
                } else {
                    ramp(&[m, k], 0.1)
                };
                let b = if trans_b {
                    ramp(&[n, k], 0.2)
                } else {
                    ramp(&[k, n], 0.2)
                };
                let c = c_shape.map(|s| ramp(&s, 0.3));
                let (plain, packed) = both(&op, &[Some(&a), Some(&b), c.as_ref()], trans_b, 2);
                close(&plain, &packed);
            }
        }
    }
}
