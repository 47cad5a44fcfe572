//! The `transpose` oracle: one copy per element, in source order.

use super::{validate, TransposeParams};
use crate::KernelError;

/// Reference [`super::TransposeFn`].
pub(crate) fn transpose(p: &TransposeParams, x: &[f32], y: &mut [f32]) -> Result<(), KernelError> {
    validate(p, x, y)?;
    for n in 0..p.batch {
        for i in 0..p.rows {
            for j in 0..p.cols {
                y[n * p.y_batch_stride + j * p.y_row_stride + i] =
                    x[n * p.x_batch_stride + i * p.x_row_stride + j];
            }
        }
    }
    Ok(())
}
