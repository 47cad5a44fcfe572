//! The `binary` oracle: one scalar operation per element.

use super::{validate, BinaryOp};
use crate::KernelError;

/// Reference [`super::BinaryFn`].
pub(crate) fn binary(
    op: BinaryOp,
    a: &[f32],
    b: &[f32],
    out: &mut [f32],
) -> Result<(), KernelError> {
    validate(a, b, out)?;
    let at = |x: &[f32], i: usize| if x.len() == 1 { x[0] } else { x[i] };
    for (i, o) in out.iter_mut().enumerate() {
        *o = op.apply(at(a, i), at(b, i));
    }
    Ok(())
}
