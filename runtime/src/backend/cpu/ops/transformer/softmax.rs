//! `Softmax`, `LogSoftmax`, `Hardmax` along one axis (opset < 13: over the flattened tail).
//!
//! f32 softmax and log-softmax over the innermost axis (contiguous rows, the usual case) go to
//! the vectorised row kernel of `mote_kernels`; everything else takes the portable loop here.

use super::numeric::{rounding, with_real_type, write_with, Real};
use super::{Inputs, Outputs};
use crate::ir::ops::infer_util::axis;
use crate::ir::ops::transformer::{Softmax, SoftmaxKind};
use crate::tensor::{numel, TensorView};
use crate::{DType, Error, Result};
use mote_kernels::cpu::softmax::{softmax as softmax_rows, SoftmaxParams};

pub(super) fn eval(s: &Softmax, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let x = ins.get(0)?;
    if let Some(log) = rows_kernel_applies(s, x)? {
        return run_rows_f32(s, x, log, out);
    }
    with_real_type!(x.dtype, R => run::<R>(s, x, out), _ => Err(Error::unsupported(s.name(), format!("dtype {}", x.dtype))))
}

/// `(outer, n, inner)`: the reduced axis has `n` elements at stride `inner`, `outer` times.
fn layout(s: &Softmax, x: &TensorView<'_>) -> Result<(usize, usize, usize)> {
    let a = axis(s.axis, x.rank())?;
    let outer = numel(&x.shape[..a]);
    Ok(if s.flatten || x.rank() == 0 {
        (outer, numel(&x.shape[a..]), 1)
    } else {
        (outer, x.shape[a], numel(&x.shape[a + 1..]))
    })
}

/// `Some(log)` when the row kernel computes this op: f32 softmax or log-softmax over contiguous
/// rows.
fn rows_kernel_applies(s: &Softmax, x: TensorView<'_>) -> Result<Option<bool>> {
    let log = match s.kind {
        SoftmaxKind::Softmax => false,
        SoftmaxKind::LogSoftmax => true,
        SoftmaxKind::Hardmax => return Ok(None),
    };
    let (_, _, inner) = layout(s, &x)?;
    Ok((x.dtype == DType::F32 && inner == 1).then_some(log))
}

fn run_rows_f32(s: &Softmax, x: TensorView<'_>, log: bool, out: &mut Outputs) -> Result<()> {
    let (_, row_len, _) = layout(s, &x)?;
    let xs = x.as_slice::<f32>()?;
    let mut y = out.alloc_uninit(0, DType::F32, x.shape)?;
    softmax_rows(
        &SoftmaxParams { row_len, log },
        xs,
        y.as_mut_slice::<f32>()?,
    )
    .map_err(|e| Error::internal(format!("{}: {e}", s.name())))
}

fn run<R: Real>(s: &Softmax, x: TensorView<'_>, out: &mut Outputs) -> Result<()> {
    let (outer, n, inner) = layout(s, &x)?;
    let xs = R::read(&x)?;
    let round = rounding::<R>(x.dtype);
    write_with::<R>(out, 0, x.dtype, x.shape, |y| {
        let mut lane_in = vec![R::ZERO; n];
        let mut lane_out = vec![R::ZERO; n];
        for o in 0..outer {
            for i in 0..inner {
                let base = o * n * inner + i;
                for (j, v) in lane_in.iter_mut().enumerate() {
                    *v = xs[base + j * inner];
                }
                match s.kind {
                    SoftmaxKind::Softmax => softmax(&lane_in, &mut lane_out, false, round),
                    SoftmaxKind::LogSoftmax => softmax(&lane_in, &mut lane_out, true, round),
                    SoftmaxKind::Hardmax => hardmax(&lane_in, &mut lane_out),
                }
                for (j, &v) in lane_out.iter().enumerate() {
                    y[base + j * inner] = v;
                }
            }
        }
        Ok(())
    })
}

/// The maximum, NaN when any element is NaN (as numpy's `max`).
pub(super) fn nan_max<R: Real>(xs: &[R]) -> R {
    let mut m = R::NEG_INFINITY;
    for &v in xs {
        if v.is_nan() {
            return v;
        }
        if v > m {
            m = v;
        }
    }
    m
}

/// `exp(x - max) / Σ exp(x - max)`, or its logarithm `x - max - ln Σ exp(x - max)`, rounding
/// each step with `round` (the storage type's precision, as the reference computes in it).
fn softmax<R: Real>(x: &[R], y: &mut [R], log: bool, round: fn(R) -> R) {
    let max = nan_max(x);
    let mut sum = R::ZERO;
    for (d, &v) in y.iter_mut().zip(x) {
        *d = round(round(v - max).exp());
        sum = sum + *d;
    }
    let sum = round(sum);
    if log {
        let log_sum = round(sum.ln());
        for (d, &v) in y.iter_mut().zip(x) {
            *d = round(round(v - max) - log_sum);
        }
    } else {
        for d in y.iter_mut() {
            *d = round(*d / sum);
        }
    }
}

/// 1 at the first maximum (the first NaN when there is one, as numpy's `argmax`), else 0.
fn hardmax<R: Real>(x: &[R], y: &mut [R]) {
    let mut best: Option<usize> = None;
    for (j, &v) in x.iter().enumerate() {
        let better = match best {
            None => true,
            Some(b) => !x[b].is_nan() && (v.is_nan() || v > x[b]),
        };
        if better {
            best = Some(j);
        }
    }
    y.fill(R::ZERO);
    if let Some(b) = best {
        y[b] = R::ONE;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_rows_sum_to_one_and_log_matches() {
        let x = [1.0f64, 2.0, 3.0, 1000.0];
        let mut y = [0.0; 4];
        let exact: fn(f64) -> f64 = |v| v;
        softmax(&x[..3], &mut y[..3], false, exact);
        assert!((y[..3].iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let mut l = [0.0; 4];
        softmax(&x, &mut l, true, exact);
        assert!((l[3] - 0.0).abs() < 1e-12 && l[0] < -900.0);
    }

    #[test]
    fn hardmax_picks_first_max() {
        let mut y = [0.0f32; 4];
        hardmax(&[1.0, 3.0, 3.0, 2.0], &mut y);
        assert_eq!(y, [0.0, 1.0, 0.0, 0.0]);
        hardmax(&[1.0, f32::NAN, 3.0, 2.0], &mut y);
        assert_eq!(y, [0.0, 1.0, 0.0, 0.0]);
    }
}
