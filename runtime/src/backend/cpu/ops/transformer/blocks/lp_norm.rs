//! `LpNormalization`: `x / ‖x‖_p` along one axis, p ∈ {1, 2}, zero where the norm is zero.
//! Computed in f32 (f64 for f64) and rounded once to the input type.

use super::numeric::{with_real_type, write_with, Real};
use super::{Inputs, Outputs};
use crate::ir::ops::infer_util::axis;
use crate::ir::ops::transformer::LpNorm;
use crate::tensor::{numel, TensorView};
use crate::{Error, Result};

pub(super) fn eval(n: &LpNorm, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let x = ins.get(0)?;
    with_real_type!(x.dtype, R => run::<R>(n, x, out),
        _ => Err(Error::unsupported("LpNormalization", format!("dtype {}", x.dtype))))
}

fn run<R: Real>(n: &LpNorm, x: TensorView<'_>, out: &mut Outputs) -> Result<()> {
    let a = axis(n.axis, x.rank())?;
    // The tensor as [outer, len, inner]: norms run along `len` for each (outer, inner).
    let (len, inner) = (x.shape[a], numel(&x.shape[a + 1..]));
    let xs = R::read(&x)?;
    write_with::<R>(out, 0, x.dtype, x.shape, |y| {
        if len == 0 || inner == 0 {
            return Ok(());
        }
        // The norms of one outer index, accumulated a contiguous row of `inner` at a time.
        let mut norms = vec![R::ZERO; inner];
        for (src, dst) in xs
            .chunks_exact(len * inner)
            .zip(y.chunks_exact_mut(len * inner))
        {
            norms.fill(R::ZERO);
            for row in src.chunks_exact(inner) {
                for (norm, &v) in norms.iter_mut().zip(row) {
                    let term = if n.l1 { magnitude(v) } else { v * v };
                    *norm = *norm + term;
                }
            }
            if !n.l1 {
                norms.iter_mut().for_each(|v| *v = v.sqrt());
            }
            for (src_row, dst_row) in src.chunks_exact(inner).zip(dst.chunks_exact_mut(inner)) {
                for ((d, &v), &norm) in dst_row.iter_mut().zip(src_row).zip(&norms) {
                    *d = if norm == R::ZERO { R::ZERO } else { v / norm };
                }
            }
        }
        Ok(())
    })
}

fn magnitude<R: Real>(v: R) -> R {
    if v < R::ZERO {
        R::ZERO - v
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tensor;

    fn lp(axis: i64, l1: bool, x: &Tensor) -> Vec<f32> {
        let mut out = Outputs::fresh(1);
        eval(
            &LpNorm { axis, l1 },
            &Inputs::new(vec![Some(x.view())], 1),
            &mut out,
        )
        .unwrap();
        let y = out.into_results().remove(0).unwrap();
        y.as_slice::<f32>().unwrap().to_vec()
    }

    #[test]
    fn norms_along_inner_and_outer_axes() {
        let x = Tensor::from_vec(&[2, 2], vec![3.0f32, -4.0, 0.0, 0.0]).unwrap();
        assert_eq!(lp(1, false, &x), [0.6, -0.8, 0.0, 0.0]);
        assert_eq!(lp(-1, true, &x), [3.0 / 7.0, -4.0 / 7.0, 0.0, 0.0]);
        assert_eq!(lp(0, true, &x), [1.0, -1.0, 0.0, 0.0]);
        let empty = Tensor::from_vec(&[0, 3], Vec::<f32>::new()).unwrap();
        assert!(lp(1, false, &empty).is_empty());
    }
}
