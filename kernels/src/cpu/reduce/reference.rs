//! THE ORACLE: every output element combined in `f64` in index order, rounded to `f32` once.

use super::{validate, ReduceOp, ReduceParams};
use crate::KernelError;

/// See [`super::ReduceFn`].
pub(crate) fn reduce(
    op: ReduceOp,
    p: &ReduceParams,
    x: &[f32],
    y: &mut [f32],
) -> Result<(), KernelError> {
    validate(p, x, y)?;
    for o in 0..p.outer {
        for i in 0..p.inner {
            let terms = (0..p.len).map(|l| x[(o * p.len + l) * p.inner + i]);
            y[o * p.inner + i] = reduce_terms(op, terms);
        }
    }
    Ok(())
}

/// One output element from its terms (also the vector variants' fallback for rows that hold
/// a NaN or an infinity, where lane order would otherwise matter).
pub(crate) fn reduce_terms(op: ReduceOp, terms: impl Iterator<Item = f32>) -> f32 {
    let mut terms = terms.map(f64::from);
    // Sums start at +0 (`Iterator::sum` starts at -0, which an empty sum would return).
    let sum = |terms: &mut dyn Iterator<Item = f64>| terms.fold(0.0, |a, t| a + t);
    let v = match op {
        ReduceOp::Sum => sum(&mut terms),
        ReduceOp::SumSquare => sum(&mut terms.map(|t| t * t)),
        ReduceOp::SumAbs => sum(&mut terms.map(f64::abs)),
        ReduceOp::Max => terms
            .try_fold(f64::NEG_INFINITY, |a, t| {
                if t.is_nan() {
                    Err(t)
                } else {
                    Ok(a.max(t))
                }
            })
            .unwrap_or_else(|nan| nan),
        ReduceOp::Min => terms
            .try_fold(f64::INFINITY, |a, t| {
                if t.is_nan() {
                    Err(t)
                } else {
                    Ok(a.min(t))
                }
            })
            .unwrap_or_else(|nan| nan),
    };
    v as f32
}
