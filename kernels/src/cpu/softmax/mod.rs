//! `softmax` / `log-softmax` over contiguous rows of `f32`:
//! `y = e^(x - max) / Σ e^(x - max)`, or `y = (x - max) - ln Σ e^(x - max)`.
//!
//! The runtime calls it for ONNX `Softmax` / `LogSoftmax` when the reduced axis is innermost.
//! [`reference::softmax`] (in `f64`) defines the result; the vectorised variants compute in
//! `f32` with the vector `exp` of the activation family and are within
//! `1e-6 + (n + |x - max|)·ε` relative of it for softmax and `1e-6·(1 + |y|) + (n + |x - max|)·ε`
//! absolute for log-softmax (`n` the row length, `ε = f32::EPSILON`: `n·ε` is the worst case of
//! an `f32` sum of `n` positive terms, `|x - max|·ε` that of rounding `x - max` to `f32`). A NaN
//! anywhere in a row, or a `+∞` (`∞ - ∞`), makes the whole row NaN, as in the reference and
//! numpy.

mod kernel;
pub mod quantized;
pub(crate) mod reference;
#[cfg(test)]
mod tests;
pub(crate) mod variants;

use crate::KernelError;

/// The shape of a softmax call: `x` and `y` hold `x.len() / row_len` rows of `row_len`
/// contiguous elements each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SoftmaxParams {
    /// Elements per row (the reduced axis).
    pub row_len: usize,
    /// `true` for log-softmax.
    pub log: bool,
}

/// Softmax of every row of `x` into `y`.
pub type SoftmaxFn = fn(&SoftmaxParams, &[f32], &mut [f32]) -> Result<(), KernelError>;

/// [`SoftmaxFn`] with the best kernel of this CPU ([`crate::cpu::table`]).
pub fn softmax(p: &SoftmaxParams, x: &[f32], y: &mut [f32]) -> Result<(), KernelError> {
    (crate::cpu::table().softmax)(p, x, y)
}

/// Checks that `x` and `y` are the same whole number of rows.
pub(crate) fn validate(p: &SoftmaxParams, x: &[f32], y: &[f32]) -> Result<(), KernelError> {
    if x.len() != y.len() {
        return Err(KernelError::out_of_bounds(format!(
            "softmax: input has {} elements, output {}",
            x.len(),
            y.len()
        )));
    }
    if !x.is_empty() && (p.row_len == 0 || x.len() % p.row_len != 0) {
        return Err(KernelError::invalid(format!(
            "softmax: {} elements are not whole rows of {}",
            x.len(),
            p.row_len
        )));
    }
    Ok(())
}
