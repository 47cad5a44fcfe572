//! `reduce`: sums, sums of squares or of absolute values, maxima and minima of `f32` along
//! one (merged) axis: `x` is `[outer, len, inner]`, `y` is `[outer, inner]`, and
//! `y[o, i] = ⊕_l x[o, l, i]`.
//!
//! The runtime calls it for ONNX `Reduce*` on `f32` when the reduced axes are contiguous
//! (mean, L2 and log-sum are a sum followed by one scalar step there). Two loop shapes cover
//! every layout: `inner == 1` reduces contiguous rows across vector lanes (several
//! accumulators, then a horizontal sum), `inner > 1` folds whole rows of `inner` elements
//! into a vector-wide accumulator row.
//!
//! [`reference::reduce`] (in `f64`, rounded once) defines the result. Max and min are exact in
//! every variant, NaN included (any NaN makes the result NaN); of `+0` and `-0`, either may
//! be returned, as the lane order decides. The vectorised sums run in
//! `f32` and are within `(len + 2)·ε·Σ|terms|` of the reference (`ε = f32::EPSILON`: the worst
//! case of an `f32` sum of `len` terms, in any order).

mod kernel;
pub(crate) mod reference;
#[cfg(test)]
mod tests;
pub(crate) mod variants;

use crate::KernelError;

/// What each output element combines its `len` inputs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceOp {
    /// `Σ x` (0 for no terms).
    Sum,
    /// `Σ x²` (0 for no terms).
    SumSquare,
    /// `Σ |x|` (0 for no terms).
    SumAbs,
    /// The largest (`-∞` for no terms); NaN if any term is NaN.
    Max,
    /// The smallest (`+∞` for no terms); NaN if any term is NaN.
    Min,
}

impl ReduceOp {
    /// The result for no terms.
    pub fn identity(self) -> f32 {
        match self {
            ReduceOp::Sum | ReduceOp::SumSquare | ReduceOp::SumAbs => 0.0,
            ReduceOp::Max => f32::NEG_INFINITY,
            ReduceOp::Min => f32::INFINITY,
        }
    }
}

/// The layout of a reduce call: `x` is `[outer, len, inner]` (row-major, contiguous), `y`
/// is `[outer, inner]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReduceParams {
    /// Independent blocks before the reduced axis.
    pub outer: usize,
    /// Length of the reduced axis.
    pub len: usize,
    /// Elements after the reduced axis (1: the reduced elements are contiguous).
    pub inner: usize,
}

/// Reduces `x` into `y` (see [`ReduceParams`]).
pub type ReduceFn = fn(ReduceOp, &ReduceParams, &[f32], &mut [f32]) -> Result<(), KernelError>;

/// [`ReduceFn`] with the best kernel of this CPU ([`crate::cpu::table`]).
pub fn reduce(op: ReduceOp, p: &ReduceParams, x: &[f32], y: &mut [f32]) -> Result<(), KernelError> {
    (crate::cpu::table().reduce)(op, p, x, y)
}

/// Checks that `x` holds `outer · len · inner` elements and `y` `outer · inner`.
pub(crate) fn validate(p: &ReduceParams, x: &[f32], y: &[f32]) -> Result<(), KernelError> {
    let kept = p.outer.checked_mul(p.inner);
    let total = kept.and_then(|k| k.checked_mul(p.len));
    let (Some(kept), Some(total)) = (kept, total) else {
        return Err(KernelError::invalid(format!(
            "reduce: {p:?} overflows usize"
        )));
    };
    if x.len() != total || y.len() != kept {
        return Err(KernelError::out_of_bounds(format!(
            "reduce: {p:?} needs {total} inputs and {kept} outputs, got {} and {}",
            x.len(),
            y.len()
        )));
    }
    Ok(())
}
