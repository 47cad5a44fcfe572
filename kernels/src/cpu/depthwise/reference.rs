//! THE ORACLE for [`super::DepthwiseFn`]: every output element as its own sum, in the order
//! bias, then taps row by row; padding taps are skipped. Then the reference activation.

use super::{validate, DepthwiseParams};
use crate::cpu::activation::{reference, Activation};
use crate::KernelError;

/// Reference [`super::DepthwiseFn`].
pub(crate) fn depthwise(
    p: &DepthwiseParams,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    act: Option<Activation>,
    y: &mut [f32],
) -> Result<(), KernelError> {
    let (out_h, out_w) = validate(p, x, w, bias, act, y)?;
    let (in_plane, taps, out_plane) = (p.in_h * p.in_w, p.taps(), out_h * out_w);
    for c in 0..p.channels {
        let x = &x[c * in_plane..(c + 1) * in_plane];
        let w = &w[c * taps..(c + 1) * taps];
        let y = &mut y[c * out_plane..(c + 1) * out_plane];
        for oy in 0..out_h {
            for ox in 0..out_w {
                let mut acc = bias.map_or(0.0, |b| b[c]);
                for ky in 0..p.kernel_h {
                    // Input coordinates, shifted by the padding to stay unsigned.
                    let iy = (oy * p.stride_h + ky * p.dilation_h).checked_sub(p.pad_top);
                    let Some(iy) = iy.filter(|&iy| iy < p.in_h) else {
                        continue;
                    };
                    for kx in 0..p.kernel_w {
                        let ix = (ox * p.stride_w + kx * p.dilation_w).checked_sub(p.pad_left);
                        let Some(ix) = ix.filter(|&ix| ix < p.in_w) else {
                            continue;
                        };
                        acc += w[ky * p.kernel_w + kx] * x[iy * p.in_w + ix];
                    }
                }
                y[oy * out_w + ox] = acc;
            }
        }
        if let Some(act) = act {
            reference::activate(act, y);
        }
    }
    Ok(())
}
