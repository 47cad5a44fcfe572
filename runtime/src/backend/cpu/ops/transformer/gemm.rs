//! `Gemm`: `Y = alpha · A'·B' + beta · C`, transposes as strides, `C` broadcast into `Y` first.

use super::numeric::{stride, tail, with_num_type, Num};
use super::packed::{gemm_packed_rhs, packed_rhs, Lhs};
use super::MIN_WORK_PER_THREAD;
use super::{same_dtype, through_f32, Inputs, Outputs};
use crate::backend::cpu::ops::util::broadcast_index;
use crate::backend::cpu::parallel::{for_each_chunk_mut, worker_count};
use crate::ir::ops::transformer::{gemm_shape, Gemm};
use crate::tensor::TensorView;
use crate::{DType, Error, Result};
use mote_kernels::cpu::matmul::{GemmParams, PackedB, PostOp};

pub(super) fn eval(g: &Gemm, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let t = same_dtype("Gemm", ins, &[1, 2])?;
    if matches!(t, DType::F16 | DType::BF16) {
        return through_f32(ins, out, t, |ins, out| eval(g, ins, out));
    }
    let (a, b, c) = (ins.get(0)?, ins.get(1)?, ins.opt(2));
    if t == DType::F32 {
        let shape = gemm_shape(g, a.shape, b.shape)?;
        let k = if g.trans_a { a.shape[0] } else { a.shape[1] };
        if let Some(packed) = packed_rhs(ins, k, shape[1]).filter(|_| k > 0) {
            return gemm_f32_packed(g, (a, packed, c), &shape, out, ins.threads());
        }
    }
    with_num_type!(t, T => gemm::<T>(g, a, b, c, out, ins.threads()), _ => Err(Error::unsupported("Gemm", format!("dtype {t}"))))
}

fn gemm<T: Num>(
    g: &Gemm,
    a: TensorView<'_>,
    b: TensorView<'_>,
    c: Option<TensorView<'_>>,
    out: &mut Outputs,
    threads: usize,
) -> Result<()> {
    let shape = gemm_shape(g, a.shape, b.shape)?;
    let (m, n) = (shape[0], shape[1]);
    let k = if g.trans_a { a.shape[0] } else { a.shape[1] };
    // Element (i, l) of A' is a[i * rs + l * cs]; likewise for B'.
    let (a_cols, b_cols) = (stride(a.shape[1]), stride(b.shape[1]));
    let (a_row_stride, a_col_stride) = if g.trans_a { (1, a_cols) } else { (a_cols, 1) };
    let (b_row_stride, b_col_stride) = if g.trans_b { (1, b_cols) } else { (b_cols, 1) };
    let mut y = out.alloc(0, T::DTYPE, &shape)?;
    let y = y.as_mut_slice::<T>()?;
    let beta = match c {
        Some(c) if g.beta != 0.0 => {
            fill_bias(g, c, &shape, y)?;
            g.beta
        }
        _ => 0.0,
    };
    let (a, b) = (a.as_slice::<T>()?, b.as_slice::<T>()?);
    // Rows of Y are independent: each worker computes a band of them.
    let workers = worker_count(threads, m, m * n * k, MIN_WORK_PER_THREAD);
    for_each_chunk_mut(y, n, workers, |first, band| {
        let p = GemmParams {
            m: band.len() / n.max(1),
            n,
            k,
            a_row_stride,
            a_col_stride,
            b_row_stride,
            b_col_stride,
            c_row_stride: stride(n),
            alpha: g.alpha,
            beta,
        };
        // Row `first` of A' starts `first` row strides in.
        T::gemm(&p, tail(a, first * a_row_stride as usize), b, band)
    })
}

/// [`gemm`] in f32 with `B'` packed at load; a bias row `C` of `[N]` (or `[1, N]`) with
/// `beta = 1`, the common case, is added in the kernel's store instead of copied first.
fn gemm_f32_packed(
    g: &Gemm,
    (a, b, c): (TensorView<'_>, &PackedB, Option<TensorView<'_>>),
    shape: &[usize],
    out: &mut Outputs,
    threads: usize,
) -> Result<()> {
    let (m, n) = (shape[0], shape[1]);
    let a_cols = a.shape[1];
    let (row_stride, col_stride) = if g.trans_a { (1, a_cols) } else { (a_cols, 1) };
    let lhs = Lhs {
        data: a.as_slice::<f32>()?,
        m,
        row_stride,
        col_stride,
    };
    let mut y = out.alloc(0, DType::F32, shape)?;
    let y = y.as_mut_slice::<f32>()?;
    let row_bias = c
        .filter(|c| g.beta == 1.0 && (c.shape == [n] || c.shape == [1, n]))
        .map(|c| c.as_slice::<f32>())
        .transpose()?;
    if let Some(bias) = row_bias {
        let post = [PostOp::BiasPerCol(bias)];
        return gemm_packed_rhs(lhs, b, (g.alpha, 0.0), &post, y, threads);
    }
    let beta = match c {
        Some(c) if g.beta != 0.0 => {
            fill_bias(g, c, shape, y)?;
            g.beta
        }
        _ => 0.0,
    };
    gemm_packed_rhs(lhs, b, (g.alpha, beta), &[], y, threads)
}

/// Copies `C`, broadcast unidirectionally to `[M, N]`, into `y`.
fn fill_bias<T: Num>(g: &Gemm, c: TensorView<'_>, shape: &[usize], y: &mut [T]) -> Result<()> {
    let fits = c.rank() <= 2
        && c.shape
            .iter()
            .rev()
            .zip(shape.iter().rev())
            .all(|(&d, &o)| d == o || (d == 1 && g.broadcast_c));
    if !fits || (!g.broadcast_c && c.shape != shape) {
        return Err(Error::shape(format!(
            "Gemm: C of shape {:?} does not broadcast to {shape:?}",
            c.shape
        )));
    }
    let cv = c.as_slice::<T>()?;
    let index = broadcast_index(c.shape, shape);
    for (i, d) in y.iter_mut().enumerate() {
        *d = cv[index(i)];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::backend::cpu::eval_node;
    use crate::ir::ops::transformer::{Gemm, TransformerOp};
    use crate::ir::Op;
    use crate::Tensor;

    fn ramp(shape: &[usize], seed: f32) -> Tensor {
        let n = shape.iter().product::<usize>();
        let v: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37 + seed).sin()).collect();
        Tensor::from_vec(shape, v).unwrap()
    }

    #[test]
    fn threads_give_bit_identical_results() {
        for (trans_a, trans_b) in [(true, false), (false, true)] {
            let op = Op::Transformer(TransformerOp::Gemm(Gemm {
                alpha: 0.5,
                beta: 2.0,
                trans_a,
                trans_b,
                broadcast_c: true,
            }));
            let (m, k, n) = (203, 150, 70);
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
            let c = ramp(&[n], 0.3);
            let run = |threads| {
                let y = eval_node(&op, &[Some(&a), Some(&b), Some(&c)], 1, threads).unwrap();
                y[0].as_ref().unwrap().as_slice::<f32>().unwrap().to_vec()
            };
            assert_eq!(run(1), run(4));
        }
    }
}
