//! `DeformConv` (2-D): a convolution whose every tap, at every output position, samples the
//! input at a learned fractional offset. The column matrix is built by bilinear sampling
//! (neighbours outside the image read zero, like `GridSample` with zero padding and aligned
//! corners), scaled by the optional mask, then multiplied by the weights as in `Conv`.

use super::conv::{Columns, ConvLayout, Weights};
use super::epilogue::Epilogue;
use super::{f32_data, f32_output_overwrite, same_dtype};
use crate::backend::cpu::ops::{Inputs, Outputs};
use crate::ir::ops::nn::DeformConv;
use crate::Result;

const OP: &str = "DeformConv";

pub(super) fn deform_conv(attrs: &DeformConv, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let (x, w, offset) = (ins.get(0)?, ins.get(1)?, ins.get(2)?);
    let (b, mask) = (ins.opt(3), ins.opt(4));
    for (name, v) in [
        ("W", Some(&w)),
        ("offset", Some(&offset)),
        ("B", b.as_ref()),
        ("mask", mask.as_ref()),
    ] {
        if let Some(v) = v {
            same_dtype(OP, name, v, x.dtype)?;
        }
    }
    let layout = ConvLayout::new(&attrs.conv, x.shape, w.shape, b.map(|b| b.shape))?;
    if layout.input_spatial.len() != 2 {
        return Err(crate::Error::unsupported(
            OP,
            format!("{}-D input (2-D only)", layout.input_spatial.len()),
        ));
    }
    let channels = layout.groups * layout.in_channels;
    let offset_groups = attrs.offset_group;
    if channels % offset_groups != 0 {
        crate::bail!(
            shape,
            "{OP}: {channels} channels do not split into {offset_groups} offset groups"
        );
    }
    let out_spatial = &layout.geometry.output;
    let sampling = [layout.batch, offset_groups * layout.taps];
    let expect = |what: &str, shape: &[usize], per_tap: usize| -> Result<()> {
        let want = [
            sampling[0],
            sampling[1] * per_tap,
            out_spatial[0],
            out_spatial[1],
        ];
        if shape != want {
            crate::bail!(shape, "{OP}: {what} has shape {shape:?}, {want:?} expected");
        }
        Ok(())
    };
    expect("offset", offset.shape, 2)?;
    if let Some(m) = &mask {
        expect("mask", m.shape, 1)?;
    }
    let (xs, ws, offsets) = (f32_data(OP, &x)?, f32_data(OP, &w)?, f32_data(OP, &offset)?);
    let bs = b.map(|b| f32_data(OP, &b)).transpose()?;
    let masks = mask.map(|m| f32_data(OP, &m)).transpose()?;
    let sampler = Sampler {
        layout: &layout,
        offset_groups,
        offsets: &offsets,
        masks: masks.as_deref(),
    };
    let fill = |block: usize, image: &[f32], col: &mut [f32]| {
        sampler.fill(block, image, col);
        Ok(())
    };
    let shape = layout.output_shape();
    f32_output_overwrite(out, 0, x.dtype, &shape, |y| {
        layout.run_gemm(
            &xs,
            Weights {
                w: &ws,
                packed: None,
                direct: None,
            },
            bs.as_deref(),
            &Epilogue::none(),
            y,
            Columns::Built(&fill),
            ins.threads(),
        )
    })
}

/// Builds one (image, group) column matrix from the offsets and mask.
struct Sampler<'a> {
    layout: &'a ConvLayout,
    offset_groups: usize,
    /// `[N, offset_groups · taps · 2, out_h, out_w]`, (dy, dx) pairs per tap.
    offsets: &'a [f32],
    /// `[N, offset_groups · taps, out_h, out_w]`.
    masks: Option<&'a [f32]>,
}

impl Sampler<'_> {
    fn fill(&self, block: usize, image: &[f32], col: &mut [f32]) {
        let l = self.layout;
        let g = &l.geometry;
        let (image_index, group) = (block / l.groups, block % l.groups);
        let (in_h, in_w) = (l.input_spatial[0], l.input_spatial[1]);
        let (out_w, plane) = (g.output[1], l.output_plane);
        let channels_per_offset_group = l.groups * l.in_channels / self.offset_groups;
        let kernel_w = g.kernel[1];
        for c in 0..l.in_channels {
            let channel = group * l.in_channels + c;
            let og = channel / channels_per_offset_group;
            let src = &image[c * l.input_plane..(c + 1) * l.input_plane];
            for tap in 0..l.taps {
                let (ky, kx) = (tap / kernel_w, tap % kernel_w);
                let sample = image_index * self.offset_groups * l.taps + og * l.taps + tap;
                let dy = &self.offsets[(2 * sample) * plane..(2 * sample + 1) * plane];
                let dx = &self.offsets[(2 * sample + 1) * plane..(2 * sample + 2) * plane];
                let mask = self.masks.map(|m| &m[sample * plane..(sample + 1) * plane]);
                let row = &mut col[(c * l.taps + tap) * plane..(c * l.taps + tap + 1) * plane];
                for (p, value) in row.iter_mut().enumerate() {
                    let (oy, ox) = (p / out_w, p % out_w);
                    let y = (oy * g.strides[0] + ky * g.dilations[0]) as f32
                        - g.pads_begin[0] as f32
                        + dy[p];
                    let x = (ox * g.strides[1] + kx * g.dilations[1]) as f32
                        - g.pads_begin[1] as f32
                        + dx[p];
                    *value = bilinear(src, in_h, in_w, y, x) * mask.map_or(1.0, |m| m[p]);
                }
            }
        }
    }
}

/// The image interpolated at `(y, x)`; neighbours outside the image count as zero.
fn bilinear(src: &[f32], h: usize, w: usize, y: f32, x: f32) -> f32 {
    if !(y > -1.0 && x > -1.0 && y < h as f32 && x < w as f32) {
        return 0.0; // Also catches NaN.
    }
    let (y0, x0) = (y.floor(), x.floor());
    let (fy, fx) = (y - y0, x - x0);
    let (y0, x0) = (y0 as isize, x0 as isize);
    let at = |r: isize, c: isize| {
        if r < 0 || c < 0 || r as usize >= h || c as usize >= w {
            0.0
        } else {
            src[r as usize * w + c as usize]
        }
    };
    (1.0 - fy) * ((1.0 - fx) * at(y0, x0) + fx * at(y0, x0 + 1))
        + fy * ((1.0 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1))
}
