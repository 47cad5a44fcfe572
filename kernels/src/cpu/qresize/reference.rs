//! The oracle: every output element on its own, straight from the formula of the module
//! docs, in the order it states.

use super::{centred, centred_range, quantize, validate, QResizeParams, Taps};
use crate::KernelError;

/// The reference [`super::QResizeFn`].
pub fn qresize_reference(
    p: &QResizeParams,
    rows: &Taps<'_>,
    cols: &Taps<'_>,
    x: &[u8],
    y: &mut [u8],
) -> Result<(), KernelError> {
    validate(p, rows, cols, x, y)?;
    let (lo, hi) = centred_range(p.y_signed, p.y_zero_point);
    let (in_len, out_len) = (p.in_h * p.in_w, p.out_h * p.out_w);
    for plane in 0..p.planes {
        let input = &x[plane * in_len..][..in_len];
        for r in 0..p.out_h {
            for c in 0..p.out_w {
                let out = &mut y[plane * out_len + r * p.out_w + c];
                if rows.outside[r] || cols.outside[c] {
                    *out = p.fill;
                    continue;
                }
                let mut v = 0.0f32;
                for i in 0..rows.n {
                    let (ir, wr) = (rows.index[r * rows.n + i], rows.weight[r * rows.n + i]);
                    let mut h = 0.0f32;
                    for j in 0..cols.n {
                        let (ic, wc) = (cols.index[c * cols.n + j], cols.weight[c * cols.n + j]);
                        h += wc * centred(input[ir * p.in_w + ic], p.x_signed, p.x_zero_point);
                    }
                    v += wr * h;
                }
                *out = quantize(v, p.multiplier, lo, hi, p.y_zero_point);
            }
        }
    }
    Ok(())
}
