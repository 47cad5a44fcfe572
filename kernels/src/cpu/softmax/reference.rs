//! THE ORACLE for [`super::SoftmaxFn`]: the definition, row by row, accumulated in `f64`.

use super::{validate, SoftmaxParams};
use crate::KernelError;

/// Reference [`super::SoftmaxFn`].
pub(crate) fn softmax(p: &SoftmaxParams, x: &[f32], y: &mut [f32]) -> Result<(), KernelError> {
    validate(p, x, y)?;
    if x.is_empty() {
        return Ok(());
    }
    for (x, y) in x.chunks_exact(p.row_len).zip(y.chunks_exact_mut(p.row_len)) {
        // NaNs are skipped here but reach every output through the sum (`NaN - max`).
        let max = x.iter().fold(f64::NEG_INFINITY, |m, &v| {
            if f64::from(v) > m {
                v.into()
            } else {
                m
            }
        });
        let sum: f64 = x.iter().map(|&v| (f64::from(v) - max).exp()).sum();
        for (d, &v) in y.iter_mut().zip(x) {
            let shifted = f64::from(v) - max;
            *d = if p.log {
                shifted - sum.ln()
            } else {
                shifted.exp() / sum
            } as f32;
        }
    }
    Ok(())
}
