//! The direct kernel of 2-D depthwise convolutions (one input channel per group): each output
//! plane is accumulated tap by tap over whole output rows, with the in-image range of every row
//! computed once, so the inner loop is a plain multiply-add over contiguous (stride 1) or
//! strided input.

use crate::ir::ops::nn::Geometry;

/// 2-D single-channel convolution geometry.
pub(super) struct Plane2d {
    in_h: usize,
    in_w: usize,
    out_h: usize,
    out_w: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    pad: [usize; 2],
}

impl Plane2d {
    pub(super) fn new(input: &[usize], g: &Geometry) -> Self {
        Plane2d {
            in_h: input[0],
            in_w: input[1],
            out_h: g.output[0],
            out_w: g.output[1],
            kernel: [g.kernel[0], g.kernel[1]],
            stride: [g.strides[0], g.strides[1]],
            dilation: [g.dilations[0], g.dilations[1]],
            pad: [g.pads_begin[0], g.pads_begin[1]],
        }
    }

    /// `y = bias + Σ taps`, accumulated tap by tap over whole output rows.
    pub(super) fn convolve(&self, x: &[f32], w: &[f32], bias: f32, y: &mut [f32]) {
        y.fill(bias);
        for ky in 0..self.kernel[0] {
            for oy in 0..self.out_h {
                // Input row read by output row `oy` and kernel row `ky`, if not padding.
                let Some(iy) =
                    (oy * self.stride[0] + ky * self.dilation[0]).checked_sub(self.pad[0])
                else {
                    continue;
                };
                if iy >= self.in_h {
                    continue;
                }
                let x_row = &x[iy * self.in_w..(iy + 1) * self.in_w];
                let y_row = &mut y[oy * self.out_w..(oy + 1) * self.out_w];
                for kx in 0..self.kernel[1] {
                    let weight = w[ky * self.kernel[1] + kx];
                    let shift = kx * self.dilation[1];
                    let (sx, pad) = (self.stride[1], self.pad[1]);
                    // Output column o reads o·sx + shift − pad, inside the row for lo <= o < hi.
                    let lo = pad.saturating_sub(shift).div_ceil(sx);
                    let hi = (pad + self.in_w)
                        .saturating_sub(shift)
                        .div_ceil(sx)
                        .min(self.out_w);
                    if lo >= hi {
                        continue;
                    }
                    let first = lo * sx + shift - pad;
                    let outs = &mut y_row[lo..hi];
                    if sx == 1 {
                        let ins = &x_row[first..first + outs.len()];
                        outs.iter_mut()
                            .zip(ins)
                            .for_each(|(o, &v)| *o += weight * v);
                    } else {
                        let ins = x_row[first..].iter().step_by(sx);
                        outs.iter_mut()
                            .zip(ins)
                            .for_each(|(o, &v)| *o += weight * v);
                    }
                }
            }
        }
    }
}
