//! `Conv`: im2col + SGEMM per (image, group), with two shortcuts:
//!
//! * pointwise (1×1 kernel, stride 1, no padding): the image already is the column matrix;
//! * 2-D depthwise (one input channel per group): a direct loop per channel, since im2col of a
//!   single channel would copy the image `Π kernel` times to feed a one-row GEMM.
//!
//! The bias is fused into the GEMM as a per-row (per output channel) post-op. Threads split the
//! output channels of each GEMM (and the channels of each im2col), or the planes of a depthwise
//! conv.

use super::depthwise::Plane2d;
use super::{
    batch_channels, f32_data, f32_output_overwrite, kernel_error, parallel, same_dtype, workers_for,
};
use crate::backend::cpu::ops::{Inputs, Outputs};
use crate::ir::ops::nn::{Conv, Geometry};
use crate::tensor::numel;
use crate::{Error, ErrorKind, Result};
use mote_kernels::cpu::conv::{im2col, Im2ColParams};
use mote_kernels::cpu::matmul::{sgemm_fused, GemmParams, PostOp};
use std::cell::RefCell;

pub(super) fn conv(attrs: &Conv, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let (x, w, b) = (ins.get(0)?, ins.get(1)?, ins.opt(2));
    same_dtype("Conv", "W", &w, x.dtype)?;
    if let Some(b) = &b {
        same_dtype("Conv", "B", b, x.dtype)?;
    }
    let layout = ConvLayout::new(attrs, x.shape, w.shape, b.map(|b| b.shape))?;
    let (xs, ws) = (f32_data("Conv", &x)?, f32_data("Conv", &w)?);
    let bs = b.map(|b| f32_data("Conv", &b)).transpose()?;
    let shape = layout.output_shape();
    // Every element is written: by the GEMM (beta = 0) or by the depthwise loop's bias fill.
    f32_output_overwrite(out, 0, x.dtype, &shape, |y| {
        layout.run(&xs, &ws, bs.as_deref(), y, ins.threads())
    })
}

/// A convolution's validated sizes.
pub(super) struct ConvLayout {
    pub(super) batch: usize,
    pub(super) groups: usize,
    /// Input channels per group.
    pub(super) in_channels: usize,
    /// Output channels per group.
    pub(super) out_channels: usize,
    pub(super) input_spatial: Vec<usize>,
    pub(super) geometry: Geometry,
    /// `Π input_spatial`.
    pub(super) input_plane: usize,
    /// `Π output_spatial`: columns of each GEMM.
    pub(super) output_plane: usize,
    /// `Π kernel`.
    pub(super) taps: usize,
}

/// A filler of one GEMM's column matrix: `(block index = image · groups + group, the input
/// channels of that block, the column matrix to overwrite)`.
pub(super) type FillColumns<'a> = &'a (dyn Fn(usize, &[f32], &mut [f32]) -> Result<()> + Sync);

/// How each GEMM's right-hand side is made from one (image, group) block of the input.
pub(super) enum Columns<'a> {
    /// The block itself: a pointwise conv's input already is its column matrix.
    Image,
    /// A `[in_channels · taps, output_plane]` matrix built by the filler.
    Built(FillColumns<'a>),
}

impl ConvLayout {
    pub(super) fn new(attrs: &Conv, x: &[usize], w: &[usize], b: Option<&[usize]>) -> Result<Self> {
        let (batch, channels, input_plane) = batch_channels("Conv", x, 3)?;
        if w.len() != x.len() {
            crate::bail!(shape, "Conv: weights {w:?} and input {x:?} differ in rank");
        }
        let groups = attrs.group;
        if w[1].checked_mul(groups) != Some(channels) {
            crate::bail!(shape, "Conv: input has {channels} channels, weights {w:?} in {groups} groups expect w[1]·group");
        }
        if w[0] % groups != 0 {
            crate::bail!(
                shape,
                "Conv: {} output channels do not split into {groups} groups",
                w[0]
            );
        }
        if let Some(b) = b {
            if b != [w[0]] {
                crate::bail!(
                    shape,
                    "Conv: bias {b:?} does not match {} output channels",
                    w[0]
                );
            }
        }
        let geometry = attrs.window.resolve(&x[2..], Some(&w[2..]), false)?;
        Ok(ConvLayout {
            batch,
            groups,
            in_channels: w[1],
            out_channels: w[0] / groups,
            input_spatial: x[2..].to_vec(),
            input_plane,
            output_plane: numel(&geometry.output),
            taps: numel(&w[2..]),
            geometry,
        })
    }

    pub(super) fn output_shape(&self) -> Vec<usize> {
        [
            &[self.batch, self.groups * self.out_channels][..],
            &self.geometry.output,
        ]
        .concat()
    }

    fn is_pointwise(&self) -> bool {
        let g = &self.geometry;
        self.taps == 1
            && g.strides.iter().all(|&s| s == 1)
            && g.pads_begin.iter().chain(&g.pads_end).all(|&p| p == 0)
    }

    fn is_depthwise_2d(&self) -> bool {
        self.in_channels == 1 && self.groups > 1 && self.input_spatial.len() == 2
    }

    fn run(
        &self,
        x: &[f32],
        w: &[f32],
        b: Option<&[f32]>,
        y: &mut [f32],
        threads: usize,
    ) -> Result<()> {
        if self.output_plane == 0 || y.is_empty() {
            return Ok(());
        }
        if self.is_depthwise_2d() {
            return self.run_depthwise(x, w, b, y, threads);
        }
        if self.is_pointwise() {
            return self.run_gemm(x, w, b, y, Columns::Image, threads);
        }
        let im2col = |_: usize, image: &[f32], col: &mut [f32]| self.im2col(image, col, threads);
        self.run_gemm(x, w, b, y, Columns::Built(&im2col), threads)
    }

    /// One GEMM per (image, group) block: `W_g · columns` (+ bias) into `y`, which it
    /// overwrites.
    pub(super) fn run_gemm(
        &self,
        x: &[f32],
        w: &[f32],
        b: Option<&[f32]>,
        y: &mut [f32],
        columns: Columns<'_>,
        threads: usize,
    ) -> Result<()> {
        if self.output_plane == 0 || y.is_empty() {
            return Ok(());
        }
        let k = self.in_channels * self.taps;
        let n = self.output_plane;
        match columns {
            Columns::Image => self.gemm_blocks(x, w, b, y, None, threads),
            Columns::Built(fill) => {
                let len = k.checked_mul(n).ok_or_else(|| {
                    Error::new(ErrorKind::OutOfMemory, "Conv: column matrix too large")
                })?;
                with_scratch(len, |col| {
                    self.gemm_blocks(x, w, b, y, Some((fill, col)), threads)
                })
            }
        }
    }

    fn gemm_blocks(
        &self,
        x: &[f32],
        w: &[f32],
        b: Option<&[f32]>,
        y: &mut [f32],
        mut built: Option<(FillColumns<'_>, &mut [f32])>,
        threads: usize,
    ) -> Result<()> {
        let k = self.in_channels * self.taps;
        let n = self.output_plane;
        let image_len = self.in_channels * self.input_plane;
        let block_len = self.out_channels * n;
        for (i, y_block) in y.chunks_exact_mut(block_len).enumerate() {
            let (image, g) = (i / self.groups, i % self.groups);
            let x_start = (image * self.groups + g) * image_len;
            let image = &x[x_start..x_start + image_len];
            let columns: &[f32] = match &mut built {
                None => image,
                Some((fill, col)) => {
                    fill(i, image, col)?;
                    col
                }
            };
            let weights = &w[g * self.out_channels * k..(g + 1) * self.out_channels * k];
            let bias = b.map(|b| &b[g * self.out_channels..(g + 1) * self.out_channels]);
            let workers = workers_for(threads, y_block.len(), n);
            parallel::for_each_chunk_mut(y_block, n, workers, |row0, rows_out| {
                let rows = rows_out.len() / n;
                let bias = bias.map(|b| PostOp::BiasPerRow(&b[row0..row0 + rows]));
                let post = bias.as_slice();
                let a = &weights[row0 * k..(row0 + rows) * k];
                sgemm_fused(
                    &GemmParams::row_major(rows, n, k),
                    a,
                    columns,
                    rows_out,
                    post,
                )
                .map_err(|e| kernel_error("Conv", e))
            })?;
        }
        Ok(())
    }

    /// The column matrix of one group of one image, channels split across threads (each
    /// channel owns `taps` consecutive rows).
    fn im2col(&self, image: &[f32], col: &mut [f32], threads: usize) -> Result<()> {
        let g = &self.geometry;
        let rows_per_channel = self.taps * self.output_plane;
        let workers = workers_for(threads, col.len(), rows_per_channel);
        parallel::for_each_chunk_mut(col, rows_per_channel, workers, |c0, block| {
            let channels = block.len() / rows_per_channel;
            let params = Im2ColParams {
                channels,
                input_spatial: &self.input_spatial,
                kernel: &g.kernel,
                strides: &g.strides,
                dilations: &g.dilations,
                pads_begin: &g.pads_begin,
                pads_end: &g.pads_end,
            };
            let src = &image[c0 * self.input_plane..(c0 + channels) * self.input_plane];
            im2col(&params, src, block).map_err(|e| kernel_error("Conv", e))
        })
    }

    /// One output plane per (image, output channel), each from one input channel.
    fn run_depthwise(
        &self,
        x: &[f32],
        w: &[f32],
        b: Option<&[f32]>,
        y: &mut [f32],
        threads: usize,
    ) -> Result<()> {
        let out_channels = self.groups * self.out_channels;
        let plane = Plane2d::new(&self.input_spatial, &self.geometry);
        let workers = workers_for(threads, y.len(), self.output_plane);
        parallel::for_each_chunk_mut(y, self.output_plane, workers, |p0, planes| {
            for (p, y_plane) in planes.chunks_exact_mut(self.output_plane).enumerate() {
                let (image, oc) = ((p0 + p) / out_channels, (p0 + p) % out_channels);
                let ic = image * self.groups + oc / self.out_channels;
                let x_plane = &x[ic * self.input_plane..(ic + 1) * self.input_plane];
                let w_plane = &w[oc * self.taps..(oc + 1) * self.taps];
                plane.convolve(x_plane, w_plane, b.map_or(0.0, |b| b[oc]), y_plane);
            }
            Ok(())
        })
    }
}

thread_local! {
    /// The calling thread's im2col buffer, kept between calls: a fresh multi-megabyte
    /// allocation per conv costs more in page faults than the im2col itself.
    static COLUMNS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on a scratch buffer of `len` elements with unspecified contents.
fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    COLUMNS.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < len {
                buf.resize(len, 0.0);
            }
            f(&mut buf[..len])
        }
        // Re-entered (cannot happen today): use a buffer of our own.
        Err(_) => f(&mut vec![0f32; len]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::ops::nn::{Padding, Window};

    fn attrs(strides: &[usize], pads: &[usize], dilations: &[usize], group: usize) -> Conv {
        let (begin, end) = pads.split_at(pads.len() / 2);
        Conv {
            window: Window {
                kernel_shape: vec![],
                strides: strides.to_vec(),
                dilations: dilations.to_vec(),
                padding: Padding::Explicit {
                    begin: begin.to_vec(),
                    end: end.to_vec(),
                },
            },
            group,
        }
    }

    /// Direct N-d reference: every output element as its own sum (2-D only here).
    fn naive_2d(
        a: &Conv,
        x: &[f32],
        xs: &[usize],
        w: &[f32],
        ws: &[usize],
        b: Option<&[f32]>,
    ) -> Vec<f32> {
        let l = ConvLayout::new(a, xs, ws, b.map(|_| &ws[..1])).unwrap();
        let g = &l.geometry;
        let (oh, ow) = (g.output[0], g.output[1]);
        let (ih, iw) = (xs[2], xs[3]);
        let mut y = vec![0f32; xs[0] * ws[0] * oh * ow];
        for n in 0..xs[0] {
            for m in 0..ws[0] {
                let grp = m / l.out_channels;
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut acc = b.map_or(0.0, |b| b[m]);
                        for c in 0..l.in_channels {
                            let ic = grp * l.in_channels + c;
                            for ky in 0..ws[2] {
                                for kx in 0..ws[3] {
                                    let iy = (oy * g.strides[0] + ky * g.dilations[0]) as isize
                                        - g.pads_begin[0] as isize;
                                    let ix = (ox * g.strides[1] + kx * g.dilations[1]) as isize
                                        - g.pads_begin[1] as isize;
                                    if iy < 0 || ix < 0 || iy >= ih as isize || ix >= iw as isize {
                                        continue;
                                    }
                                    let xv =
                                        x[((n * xs[1] + ic) * ih + iy as usize) * iw + ix as usize];
                                    acc +=
                                        xv * w[((m * l.in_channels + c) * ws[2] + ky) * ws[3] + kx];
                                }
                            }
                        }
                        y[((n * ws[0] + m) * oh + oy) * ow + ox] = acc;
                    }
                }
            }
        }
        y
    }

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| {
                (((i as u32).wrapping_mul(2654435761).wrapping_add(seed) >> 16) % 17) as f32 / 8.0
                    - 1.0
            })
            .collect()
    }

    fn check(a: &Conv, xs: &[usize], ws: &[usize]) {
        let (x, w, b) = (values(numel(xs), 1), values(numel(ws), 2), values(ws[0], 3));
        let layout = ConvLayout::new(a, xs, ws, Some(&ws[..1])).unwrap();
        let expected = naive_2d(a, &x, xs, &w, ws, Some(&b));
        for threads in [1, 3] {
            let mut y = vec![f32::NAN; numel(&layout.output_shape())];
            layout.run(&x, &w, Some(&b), &mut y, threads).unwrap();
            for (i, (got, want)) in y.iter().zip(&expected).enumerate() {
                assert!(
                    (got - want).abs() <= 1e-4 * want.abs().max(1.0),
                    "{i}: {got} vs {want} (threads {threads})"
                );
            }
        }
    }

    #[test]
    fn im2col_path_matches_naive() {
        check(
            &attrs(&[2, 1], &[1, 0, 2, 1], &[1, 2], 1),
            &[2, 3, 7, 6],
            &[4, 3, 3, 2],
        );
    }

    #[test]
    fn grouped_and_pointwise_paths_match_naive() {
        check(&attrs(&[], &[], &[], 2), &[1, 4, 5, 5], &[6, 2, 1, 1]);
        check(
            &attrs(&[1, 1], &[1, 1, 1, 1], &[], 2),
            &[2, 4, 5, 3],
            &[2, 2, 3, 3],
        );
    }

    #[test]
    fn depthwise_path_matches_naive() {
        check(
            &attrs(&[2, 2], &[1, 1, 1, 1], &[], 3),
            &[2, 3, 7, 8],
            &[6, 1, 3, 3],
        );
        check(
            &attrs(&[1, 3], &[0, 2, 1, 0], &[2, 1], 4),
            &[1, 4, 6, 9],
            &[4, 1, 2, 3],
        );
    }

    #[test]
    fn thread_count_does_not_change_results() {
        // Big enough to be split over threads: a GEMM conv and a depthwise one.
        for (group, xs, ws) in [
            (1, [1, 5, 40, 40], [7, 5, 3, 3]),
            (6, [1, 6, 40, 40], [6, 1, 3, 3]),
        ] {
            let a = attrs(&[1, 1], &[1, 1, 1, 1], &[], group);
            let (x, w) = (values(numel(&xs), 5), values(numel(&ws), 6));
            let layout = ConvLayout::new(&a, &xs, &ws, None).unwrap();
            let run = |threads| {
                let mut y = vec![0f32; numel(&layout.output_shape())];
                layout.run(&x, &w, None, &mut y, threads).unwrap();
                y
            };
            assert_eq!(run(1), run(4), "group {group}");
        }
    }

    #[test]
    fn mismatched_channels_are_an_error() {
        assert!(
            ConvLayout::new(&attrs(&[], &[], &[], 1), &[1, 3, 5, 5], &[2, 2, 3, 3], None).is_err()
        );
        assert!(
            ConvLayout::new(&attrs(&[], &[], &[], 2), &[1, 4, 5, 5], &[3, 2, 3, 3], None).is_err()
        );
    }
}
