//! The oracle: a triple loop over the unpacked values (the weights decoded from the packing
//! one by one, `A` read by definition).

use super::{validate, QMatMulCall, QMatMulOutput};
use crate::cpu::qgemm::requant;
use crate::KernelError;

/// [`super::QMatMulFn`].
pub(crate) fn qmatmul(g: &QMatMulCall<'_>, out: QMatMulOutput<'_>) -> Result<(), KernelError> {
    validate(g, &out)?;
    let (n, k) = (g.w.features(), g.w.depth());
    let a_value = |j: usize, l: usize| {
        let raw = g.a[j * g.lda + l];
        if g.a_signed {
            i32::from(raw as i8)
        } else {
            i32::from(raw)
        }
    };
    let acc = |j: usize, c: usize| {
        let zw = g.w.zero_point(c);
        (0..k).fold(0i32, |acc, l| {
            acc.wrapping_add((a_value(j, l) - g.a_zero_point) * (g.w.raw(l, c) - zw))
        })
    };
    match out {
        QMatMulOutput::I32 { y, ldy } => {
            for j in 0..g.rows {
                for c in 0..n {
                    y[j * ldy + c] = acc(j, c);
                }
            }
        }
        QMatMulOutput::F32 { y, ldy, scale } => {
            for j in 0..g.rows {
                for c in 0..n {
                    y[j * ldy + c] = acc(j, c) as f32 * scale[c];
                }
            }
        }
        QMatMulOutput::Requant {
            y,
            ldy,
            signed: _,
            bias,
            scale,
            zero_point,
            lo,
            hi,
        } => {
            for j in 0..g.rows {
                for c in 0..n {
                    let b = bias.get(c).copied().unwrap_or(0);
                    y[j * ldy + c] = requant(acc(j, c), b, scale[c], zero_point, lo, hi);
                }
            }
        }
    }
    Ok(())
}
