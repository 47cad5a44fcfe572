//! The `reduce` loops, written once over [`Simd`].
//!
//! Max and min are exact whatever the order, except with NaN: [`Simd::max`] lets a NaN in
//! one operand through and drops it in the other. So every loop also folds `x · 0` into a
//! flag (NaN exactly when some term is NaN or infinite), and a row or column block whose flag
//! is raised is recomputed by the reference: rare inputs pay, ordinary ones do not.

use super::reference::reduce_terms;
use super::{ReduceOp, ReduceParams};
use crate::cpu::activation::simd::{Simd, MAX_LANES};

/// Vectors folded side by side, to hide the add's latency.
const ACCUMULATORS: usize = 4;

/// See [`super::ReduceFn`] (`p`, `x` and `y` already validated).
#[inline(always)]
pub(crate) fn reduce<S: Simd>(s: S, op: ReduceOp, p: &ReduceParams, x: &[f32], y: &mut [f32]) {
    if p.len == 0 {
        y.fill(op.identity());
        return;
    }
    let block = p.len * p.inner;
    for (x, y) in x.chunks_exact(block).zip(y.chunks_exact_mut(p.inner)) {
        if p.inner == 1 {
            y[0] = row(s, op, x);
        } else {
            columns(s, op, x, p.len, y);
        }
    }
}

/// Folds the term `v` into `acc`.
#[inline(always)]
fn fold<S: Simd>(s: S, op: ReduceOp, acc: S::V, v: S::V) -> S::V {
    match op {
        ReduceOp::Sum => s.add(acc, v),
        ReduceOp::SumAbs => s.add(acc, s.abs(v)),
        ReduceOp::SumSquare => s.fma(v, v, acc),
        ReduceOp::Max => s.max(acc, v),
        ReduceOp::Min => s.min(acc, v),
    }
}

/// Folds two partial results (of terms already transformed).
#[inline(always)]
fn merge<S: Simd>(s: S, op: ReduceOp, a: S::V, b: S::V) -> S::V {
    match op {
        ReduceOp::Max => s.max(a, b),
        ReduceOp::Min => s.min(a, b),
        _ => s.add(a, b),
    }
}

/// `a ⊕ t` for max and min, on scalars without NaN.
fn extreme(op: ReduceOp, a: f32, t: f32) -> f32 {
    match op {
        ReduceOp::Max if t > a => t,
        ReduceOp::Min if t < a => t,
        _ => a,
    }
}

/// Whether `op` needs the NaN flag (the sums propagate NaN by themselves).
#[inline(always)]
fn extremum(op: ReduceOp) -> bool {
    matches!(op, ReduceOp::Max | ReduceOp::Min)
}

/// `⊕ x` over one contiguous row.
#[inline(always)]
fn row<S: Simd>(s: S, op: ReduceOp, x: &[f32]) -> f32 {
    let identity = s.splat(op.identity());
    let zero = s.splat(0.0);
    let mut acc = [identity; ACCUMULATORS];
    let mut flag = zero;
    let mut wide = x.chunks_exact(S::LANES * ACCUMULATORS);
    for chunk in &mut wide {
        for (a, v) in acc.iter_mut().zip(chunk.chunks_exact(S::LANES)) {
            let v = s.load(v);
            *a = fold(s, op, *a, v);
            if extremum(op) {
                flag = s.fma(v, zero, flag);
            }
        }
    }
    let mut narrow = wide.remainder().chunks_exact(S::LANES);
    for v in &mut narrow {
        let v = s.load(v);
        acc[0] = fold(s, op, acc[0], v);
        if extremum(op) {
            flag = s.fma(v, zero, flag);
        }
    }
    let tail = narrow.remainder();
    if extremum(op) {
        let all = merge(
            s,
            op,
            merge(s, op, acc[0], acc[1]),
            merge(s, op, acc[2], acc[3]),
        );
        if s.reduce_add(flag).is_nan() || tail.iter().any(|t| !t.is_finite()) {
            return reduce_terms(op, x.iter().copied());
        }
        let mut lanes = [0.0; MAX_LANES];
        s.store(&mut lanes, all);
        let lanes = lanes[..S::LANES].iter().copied();
        return lanes
            .chain(tail.iter().copied())
            .fold(op.identity(), |a, t| extreme(op, a, t));
    }
    if !tail.is_empty() {
        // Zero-padded lanes add nothing to a sum.
        let v = s.load_tail(tail);
        acc[1] = fold(s, op, acc[1], v);
    }
    let all = s.add(s.add(acc[0], acc[1]), s.add(acc[2], acc[3]));
    s.reduce_add(all)
}

/// `y[i] = ⊕_l x[l · inner + i]` for one `[len, inner]` block (`y.len() == inner`).
#[inline(always)]
fn columns<S: Simd>(s: S, op: ReduceOp, x: &[f32], len: usize, y: &mut [f32]) {
    let inner = y.len();
    let identity = s.splat(op.identity());
    let zero = s.splat(0.0);
    let mut j = 0;
    while j < inner {
        // Up to ACCUMULATORS vectors of columns at a time, the last one possibly partial.
        let width = (inner - j).min(S::LANES * ACCUMULATORS);
        let vectors = width.div_ceil(S::LANES);
        let mut acc = [identity; ACCUMULATORS];
        let mut flag = zero;
        for l in 0..len {
            let src = &x[l * inner + j..l * inner + j + width];
            for (k, a) in acc.iter_mut().enumerate().take(vectors) {
                let part = &src[k * S::LANES..];
                let v = if part.len() >= S::LANES {
                    s.load(part)
                } else {
                    s.load_tail(part)
                };
                *a = fold(s, op, *a, v);
                if extremum(op) {
                    flag = s.fma(v, zero, flag);
                }
            }
        }
        let dst = &mut y[j..j + width];
        if extremum(op) && s.reduce_add(flag).is_nan() {
            for (i, d) in dst.iter_mut().enumerate() {
                *d = reduce_terms(op, (0..len).map(|l| x[l * inner + j + i]));
            }
        } else {
            for (k, a) in acc.iter().enumerate().take(vectors) {
                let part = &mut dst[k * S::LANES..];
                if part.len() >= S::LANES {
                    s.store(part, *a);
                } else {
                    s.store_tail(part, *a);
                }
            }
        }
        j += width;
    }
}
