//! 2-D depthwise convolutions (one input channel per group) on `mote_kernels`' direct
//! depthwise kernel: per channel, a padded copy of the plane and whole output rows of vector
//! multiply-adds, with the bias and an optional activation fused in.
//!
//! [`run_depthwise`] runs a whole `[N, C, H, W]` tensor, planes split across threads.

use super::{kernel_error, parallel, workers_for};
use crate::ir::ops::nn::Geometry;
use crate::Result;
use mote_kernels::cpu::activation::Activation;
use mote_kernels::cpu::depthwise::{depthwise, DepthwiseParams};

/// 2-D single-channel convolution geometry.
pub(super) struct Plane2d {
    params: DepthwiseParams,
    out_h: usize,
    out_w: usize,
}

impl Plane2d {
    pub(super) fn new(input: &[usize], g: &Geometry) -> Self {
        Plane2d {
            params: DepthwiseParams {
                channels: 1,
                in_h: input[0],
                in_w: input[1],
                kernel_h: g.kernel[0],
                kernel_w: g.kernel[1],
                stride_h: g.strides[0],
                stride_w: g.strides[1],
                dilation_h: g.dilations[0],
                dilation_w: g.dilations[1],
                pad_top: g.pads_begin[0],
                pad_left: g.pads_begin[1],
                pad_bottom: g.pads_end[0],
                pad_right: g.pads_end[1],
            },
            out_h: g.output[0],
            out_w: g.output[1],
        }
    }

    /// `y = act(bias + Σ taps)` for consecutive channels: `x` `[c, in_h, in_w]`, `w`
    /// `[c, kh·kw]`, `bias` `[c]`, `y` `[c, out_h, out_w]`.
    fn convolve_channels(
        &self,
        x: &[f32],
        w: &[f32],
        bias: Option<&[f32]>,
        activation: Option<Activation>,
        y: &mut [f32],
    ) -> Result<()> {
        let plane = self.out_h * self.out_w;
        let p = DepthwiseParams {
            channels: y.len().checked_div(plane).unwrap_or(0),
            ..self.params
        };
        // The geometry's output size is the kernel's (both are the floor formula); a mismatch
        // is a bug, not a model error.
        let (out_h, out_w) = p.output_size().map_err(|e| kernel_error("Conv", e))?;
        if (out_h, out_w) != (self.out_h, self.out_w) {
            return Err(crate::Error::internal(format!(
                "Conv: depthwise output {out_h}×{out_w}, geometry says {}×{}",
                self.out_h, self.out_w
            )));
        }
        depthwise(&p, x, w, bias, activation, y).map_err(|e| kernel_error("Conv", e))
    }
}

/// A depthwise convolution's tensor layout: `batch` images of `groups` input channels, each
/// feeding `multiplier` consecutive output channels (ONNX weights `[groups·multiplier, 1, kh,
/// kw]`).
pub(super) struct DepthwiseLayout {
    pub(super) groups: usize,
    pub(super) multiplier: usize,
    /// `in_h · in_w`.
    pub(super) input_plane: usize,
    /// `out_h · out_w`.
    pub(super) output_plane: usize,
}

/// `y = activation(conv(x, w) + b)` for a whole depthwise convolution, every output plane
/// written. Threads split the output planes; consecutive planes of one image with a
/// multiplier of 1 go to the kernel in one call.
#[allow(clippy::too_many_arguments)] // The conv's operands, its shape and how to run it.
pub(super) fn run_depthwise(
    plane: &Plane2d,
    layout: &DepthwiseLayout,
    x: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    activation: Option<Activation>,
    y: &mut [f32],
    threads: usize,
) -> Result<()> {
    let DepthwiseLayout {
        groups,
        multiplier,
        input_plane,
        output_plane,
    } = *layout;
    let out_channels = groups * multiplier;
    if output_plane == 0 || y.is_empty() {
        return Ok(());
    }
    let taps = plane.params.kernel_h * plane.params.kernel_w;
    let workers = workers_for(threads, y.len(), output_plane);
    parallel::for_each_chunk_mut(y, output_plane, workers, |p0, planes| {
        let mut first = p0;
        let mut rest = planes;
        while !rest.is_empty() {
            let (image, oc) = (first / out_channels, first % out_channels);
            // A run of output channels of one image that read consecutive input channels.
            let run = if multiplier == 1 {
                (out_channels - oc).min(rest.len() / output_plane)
            } else {
                1
            };
            let (y_run, tail) = std::mem::take(&mut rest).split_at_mut(run * output_plane);
            let ic = image * groups + oc / multiplier;
            let x_run = &x[ic * input_plane..(ic + run) * input_plane];
            let w_run = &w[oc * taps..(oc + run) * taps];
            let b_run = b.map(|b| &b[oc..oc + run]);
            plane.convolve_channels(x_run, w_run, b_run, activation, y_run)?;
            first += run;
            rest = tail;
        }
        Ok(())
    })
}
