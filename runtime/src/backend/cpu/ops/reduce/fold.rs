//! `Reduce*`: combine the elements of each output position's reduced set. An empty set gives
//! the combining function's identity (0 for sums, 1 for products, -∞/∞ or the integer limits
//! for max/min, NaN for a mean), like the ONNX reference. `f32` reductions over one run of
//! adjacent axes go to the vectorised kernels ([`vectorized`]); the rest fold in `f64`.

use super::number::Number;
use super::vectorized::{self, KernelReduce};
use super::walk::Walk;
use super::{Inputs, Outputs};
use crate::ir::ops::reduce::{reduced_shape, Reduce, ReduceKind};
use crate::{DType, Error, Result};

pub(super) fn eval(r: &Reduce, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let x = ins.get(0)?;
    let input_axes = ins.opt(1).map(|a| a.to_i64_vec()).transpose()?;
    let mask = r.reduced_axes(x.rank(), input_axes.as_deref())?;
    let out_shape = reduced_shape(x.shape, &mask, r.keepdims);
    if x.dtype == DType::F32 {
        let layout = vectorized::layout(x.shape, &mask);
        if let (Some(p), Some(kernel)) = (layout, KernelReduce::of(r.kind)) {
            let dst = out.alloc_typed::<f32>(0, &out_shape)?;
            return kernel.run(&p, x.as_slice::<f32>()?, dst);
        }
    }
    let walk = Walk::new(x.shape, &mask);
    if x.dtype == DType::Bool {
        let dst = out.alloc(0, DType::Bool, &out_shape)?;
        return fold_bool(r.kind, x.bytes, &walk, dst.bytes);
    }
    crate::with_numeric_type!(x.dtype, T => {
        let src = x.as_slice::<T>()?;
        let dst = out.alloc_typed::<T>(0, &out_shape)?;
        if T::IS_FLOAT {
            fold_floats(r.kind, src, &walk, dst);
        } else {
            fold_integers(r.kind, src, &walk, dst);
        }
        Ok(())
    }, _ => Err(Error::unsupported(r.kind.onnx_name(), format!("dtype {}", x.dtype)))
    )
}

/// Floats: every kind computed in f64, rounded once.
fn fold_floats<T: Number>(kind: ReduceKind, src: &[T], walk: &Walk, dst: &mut [T]) {
    for (d, &base) in dst.iter_mut().zip(&walk.kept) {
        let values = walk.reduced_offsets(base).map(|i| src[i].to_f64());
        *d = T::from_f64(fold_f64(kind, values));
    }
}

fn fold_f64(kind: ReduceKind, values: impl Iterator<Item = f64> + Clone) -> f64 {
    match kind {
        ReduceKind::Sum => values.sum(),
        ReduceKind::Mean => {
            let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
            sum / n as f64
        }
        ReduceKind::Max => values.fold(
            f64::NEG_INFINITY,
            |a, v| if v > a || v.is_nan() { v } else { a },
        ),
        ReduceKind::Min => values.fold(
            f64::INFINITY,
            |a, v| if v < a || v.is_nan() { v } else { a },
        ),
        ReduceKind::Prod => values.product(),
        ReduceKind::L1 => values.map(f64::abs).sum(),
        ReduceKind::L2 => values.map(|v| v * v).sum::<f64>().sqrt(),
        ReduceKind::LogSum => values.sum::<f64>().ln(),
        ReduceKind::LogSumExp => log_sum_exp(values),
        ReduceKind::SumSquare => values.map(|v| v * v).sum(),
    }
}

/// ln Σeˣ shifted by the largest finite element so large inputs do not overflow; infinities
/// then give ±∞ (or NaN for +∞ and -∞ together), an empty or all -∞ set -∞.
fn log_sum_exp(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let largest = values
        .clone()
        .filter(|v| v.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    let shift = if largest.is_finite() { largest } else { 0.0 };
    values.map(|v| (v - shift).exp()).sum::<f64>().ln() + shift
}

/// Integers: exact max/min; sums and products wrap like the type; L2, the logs and the mean
/// go through f64 / integer division and truncate towards zero like numpy's cast.
fn fold_integers<T: Number>(kind: ReduceKind, src: &[T], walk: &Walk, dst: &mut [T]) {
    let n = walk.reduced_len() as i128;
    for (d, &base) in dst.iter_mut().zip(&walk.kept) {
        let values = walk.reduced_offsets(base).map(|i| src[i]);
        let sum_of = |f: fn(i128) -> i128| {
            T::wrap_i128(
                values
                    .clone()
                    .fold(0i128, |a, v| a.wrapping_add(f(v.to_i128()))),
            )
        };
        *d = match kind {
            ReduceKind::Sum => sum_of(|v| v),
            ReduceKind::Mean => T::wrap_i128(sum_of(|v| v).to_i128().checked_div(n).unwrap_or(0)),
            ReduceKind::Max => values
                .clone()
                .fold(T::lowest(), |a, v| if v > a { v } else { a }),
            ReduceKind::Min => values
                .clone()
                .fold(T::highest(), |a, v| if v < a { v } else { a }),
            ReduceKind::Prod => T::wrap_i128(
                values
                    .clone()
                    .fold(1i128, |a, v| a.wrapping_mul(v.to_i128())),
            ),
            ReduceKind::L1 => sum_of(i128::wrapping_abs),
            ReduceKind::L2 => T::from_f64((sum_of(|v| v.wrapping_mul(v)).to_f64()).sqrt()),
            ReduceKind::LogSum => T::from_f64(sum_of(|v| v).to_f64().ln()),
            ReduceKind::LogSumExp => T::from_f64(log_sum_exp(values.clone().map(Number::to_f64))),
            ReduceKind::SumSquare => sum_of(|v| v.wrapping_mul(v)),
        };
    }
}

/// Bool: max is "any", min is "all" (ReduceMax/ReduceMin accept bool from opset 20).
fn fold_bool(kind: ReduceKind, src: &[u8], walk: &Walk, dst: &mut [u8]) -> Result<()> {
    let any = match kind {
        ReduceKind::Max => true,
        ReduceKind::Min => false,
        _ => return Err(Error::unsupported(kind.onnx_name(), "dtype bool")),
    };
    for (d, &base) in dst.iter_mut().zip(&walk.kept) {
        let mut values = walk.reduced_offsets(base).map(|i| src[i] != 0);
        *d = u8::from(if any {
            values.any(|v| v)
        } else {
            values.all(|v| v)
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_f64(kind: ReduceKind, v: &[f64]) -> f64 {
        fold_f64(kind, v.iter().copied())
    }

    #[test]
    fn empty_sets_give_identities() {
        assert_eq!(run_f64(ReduceKind::Sum, &[]), 0.0);
        assert_eq!(run_f64(ReduceKind::Prod, &[]), 1.0);
        assert_eq!(run_f64(ReduceKind::Max, &[]), f64::NEG_INFINITY);
        assert_eq!(run_f64(ReduceKind::Min, &[]), f64::INFINITY);
        assert_eq!(run_f64(ReduceKind::LogSum, &[]), f64::NEG_INFINITY);
        assert_eq!(run_f64(ReduceKind::LogSumExp, &[]), f64::NEG_INFINITY);
        assert!(run_f64(ReduceKind::Mean, &[]).is_nan());
    }

    #[test]
    fn max_propagates_nan_and_log_sum_exp_is_stable() {
        assert!(run_f64(ReduceKind::Max, &[1.0, f64::NAN, 2.0]).is_nan());
        let big = run_f64(ReduceKind::LogSumExp, &[1000.0, 1000.0]);
        assert!((big - (1000.0 + 2f64.ln())).abs() < 1e-9);
    }

    #[test]
    fn integer_sums_wrap_and_means_truncate() {
        let walk = Walk::new(&[3], &[true]);
        let mut out = [0i8];
        fold_integers(ReduceKind::Sum, &[100i8, 100, 100], &walk, &mut out);
        assert_eq!(out[0], 100i8.wrapping_add(100).wrapping_add(100));
        fold_integers(ReduceKind::Mean, &[-3i8, 0, -4], &walk, &mut out);
        assert_eq!(out[0], -2);
        fold_integers(ReduceKind::Max, &[-3i8, 0, -4], &walk, &mut out);
        assert_eq!(out[0], 0);
    }
}
