//! THE ORACLE for [`super::QDepthwiseFn`]: every output element as its own wrapping `i32` sum
//! over the taps inside the image (padding taps skipped: they would contribute 0), then the
//! output formula of the module docs, element by element.

use super::{requantize_acc, validate, widen, QDepthwise, QDepthwiseOut};
use crate::KernelError;

/// Reference [`super::QDepthwiseFn`].
pub(crate) fn qdepthwise(q: &QDepthwise<'_>, y: QDepthwiseOut<'_>) -> Result<(), KernelError> {
    let (out_h, out_w) = validate(q, &y)?;
    let p = &q.params;
    let (in_plane, taps, out_plane) = (p.in_h * p.in_w, p.kernel_h * p.kernel_w, out_h * out_w);
    let mut y = y;
    for c in 0..p.channels {
        let x = &q.x[c * in_plane..(c + 1) * in_plane];
        let w = &q.w[c * taps..(c + 1) * taps];
        let bias = q.bias.get(c).copied().unwrap_or(0);
        let scale = q.scale[c];
        for oy in 0..out_h {
            for ox in 0..out_w {
                let mut acc = 0i32;
                for ky in 0..p.kernel_h {
                    let iy = (oy * p.stride_h + ky * p.dilation_h).checked_sub(p.pad_top);
                    let Some(iy) = iy.filter(|&iy| iy < p.in_h) else {
                        continue;
                    };
                    for kx in 0..p.kernel_w {
                        let ix = (ox * p.stride_w + kx * p.dilation_w).checked_sub(p.pad_left);
                        let Some(ix) = ix.filter(|&ix| ix < p.in_w) else {
                            continue;
                        };
                        let xv = widen(x[iy * p.in_w + ix], q.x_signed) - q.x_zero_point;
                        acc = acc.wrapping_add(xv.wrapping_mul(w[ky * p.kernel_w + kx] as i32));
                    }
                }
                let f = acc.wrapping_add(bias) as f32 * scale;
                let i = c * out_plane + oy * out_w + ox;
                match &mut y {
                    QDepthwiseOut::U8 {
                        y,
                        zero_point,
                        lo,
                        hi,
                        ..
                    } => y[i] = requantize_acc(f, *zero_point, *lo, *hi) as u8,
                    QDepthwiseOut::F32 { y } => y[i] = f,
                }
            }
        }
    }
    Ok(())
}
