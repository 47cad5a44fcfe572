//! `Conv` (and `FusedConv`, a conv with an element-wise epilogue): im2col + GEMM per
//! (image, group), with three shortcuts:
//!
//! * pointwise (1×1 kernel, stride 1, no padding): the image already is the column matrix;
//! * 2-D depthwise (one input channel per group): the direct depthwise kernels, since im2col of
//!   a single channel would copy the image `Π kernel` times to feed a one-row GEMM;
//! * 2-D, dilation 1, constant weights, up to 128 output channels per group, on a CPU with a
//!   direct conv kernel (pointwise convs included): that kernel, which reads the image in
//!   place instead of packing it ([`Prepared::DirectConvWeights`]).
//!
//! Weights are packed once at session creation ([`Prepared`]) when they are constant. The bias
//! and the epilogue (activations, residual add) are fused into the kernels' store as post-ops.
//! Threads split each output block's columns (spatial positions): all share the packed
//! weights, each packs only its own columns (and the channels of each im2col).

use super::depthwise::{run_depthwise, DepthwiseLayout, Plane2d};
use super::epilogue::{apply_steps_broadcast, Epilogue};
use super::workers_for;
use super::{batch_channels, f32_data, f32_output_overwrite, kernel_error, parallel, same_dtype};
use crate::backend::cpu::ops::util::broadcast_index;
use crate::backend::cpu::ops::{Inputs, Outputs};
use crate::backend::cpu::prepare::Prepared;
use crate::ir::ops::nn::{Conv, EpilogueStep, FusedConv, Geometry};
use crate::tensor::numel;
use crate::{Error, ErrorKind, Result};
use mote_kernels::cpu::conv::{im2col, Im2ColParams};
use mote_kernels::cpu::direct_conv::{DirectConvKernel, DirectConvParams, PackedConvWeights};
use mote_kernels::cpu::matmul::{
    gemm_block, split_columns, AOperand, BOperand, ColumnBlock, Gemm, Im2ColB, PackedA, Strided,
};
use std::cell::RefCell;

pub(super) fn conv(attrs: &Conv, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    conv_with_epilogue(attrs, &[], ins, out)
}

pub(super) fn fused_conv(attrs: &FusedConv, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    conv_with_epilogue(&attrs.conv, &attrs.steps, ins, out)
}

fn conv_with_epilogue(
    attrs: &Conv,
    steps: &[EpilogueStep],
    ins: &Inputs<'_>,
    out: &mut Outputs,
) -> Result<()> {
    let (x, w, b) = (ins.get(0)?, ins.get(1)?, ins.opt(2));
    same_dtype("Conv", "W", &w, x.dtype)?;
    if let Some(b) = &b {
        same_dtype("Conv", "B", b, x.dtype)?;
    }
    let layout = ConvLayout::new(attrs, x.shape, w.shape, b.map(|b| b.shape))?;
    let (xs, ws) = (f32_data("Conv", &x)?, f32_data("Conv", &w)?);
    let bs = b.map(|b| f32_data("Conv", &b)).transpose()?;
    let shape = layout.output_shape();
    let residual = match ins.opt(3) {
        Some(r) if steps.contains(&EpilogueStep::AddResidual) => {
            same_dtype("Conv", "residual", &r, x.dtype)?;
            Some((f32_data("Conv", &r)?, r.shape.to_vec()))
        }
        _ => None,
    };
    // A residual of the output's own shape is added in the GEMM's store; any other
    // (broadcasting) residual is added after the conv, with the steps that follow it.
    let fused_residual = residual.as_ref().filter(|(_, s)| *s == shape);
    let epilogue = Epilogue::new(steps, fused_residual.map(|(r, _)| &r[..]))?;
    let (mut packed, mut direct) = (None, None);
    match ins.prepared() {
        Some(Prepared::ConvWeights(p)) if p.len() == layout.groups => packed = Some(&p[..]),
        Some(Prepared::DirectConvWeights(k, p)) if p.len() == layout.groups => {
            direct = Some((*k, &p[..]))
        }
        _ => {}
    }
    let weights = Weights {
        w: &ws,
        packed,
        direct,
    };
    let Some(rest) = epilogue.unfused_from else {
        return f32_output_overwrite(out, 0, x.dtype, &shape, |y| {
            layout.run(&xs, weights, bs.as_deref(), &epilogue, y, ins.threads())
        });
    };
    let (r, r_shape) = residual
        .as_ref()
        .ok_or_else(|| Error::internal("FusedConv: residual step without input"))?;
    let out_shape = crate::tensor::broadcast_shapes(&[&shape, r_shape])?;
    if out_shape == shape {
        return f32_output_overwrite(out, 0, x.dtype, &shape, |y| {
            layout.run(&xs, weights, bs.as_deref(), &epilogue, y, ins.threads())?;
            apply_steps_broadcast(&steps[rest..], y, &shape, r, r_shape)
        });
    }
    // The residual makes the output larger than the conv's (rare: a graph that adds a
    // bigger tensor): the conv goes to scratch, then is broadcast into the output.
    let mut conv_out = vec![0f32; numel(&shape)];
    layout.run(
        &xs,
        weights,
        bs.as_deref(),
        &epilogue,
        &mut conv_out,
        ins.threads(),
    )?;
    f32_output_overwrite(out, 0, x.dtype, &out_shape, |y| {
        let index = broadcast_index(&shape, &out_shape);
        y.iter_mut()
            .enumerate()
            .for_each(|(k, v)| *v = conv_out[index(k)]);
        apply_steps_broadcast(&steps[rest..], y, &out_shape, r, r_shape)
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
    /// The 2-D im2col matrix, packed by the GEMM straight from the image (never built).
    Im2Col2d,
}

/// Columns per thread are whole multiples of this (the widest micro-kernel tile, twice), so
/// every thread's share is made of full tiles.
const COLUMN_GRAIN: usize = 64;

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

    /// The direct kernel's geometry, if this conv is 2-D with dilation 1.
    fn direct_params(&self) -> Option<DirectConvParams> {
        let g = &self.geometry;
        if self.input_spatial.len() != 2 || g.dilations.iter().any(|&d| d != 1) {
            return None;
        }
        Some(DirectConvParams {
            in_channels: self.in_channels,
            in_h: self.input_spatial[0],
            in_w: self.input_spatial[1],
            kernel_h: g.kernel[0],
            kernel_w: g.kernel[1],
            stride_h: g.strides[0],
            stride_w: g.strides[1],
            pad_top: g.pads_begin[0],
            pad_left: g.pads_begin[1],
            pad_bottom: g.pads_end[0],
            pad_right: g.pads_end[1],
        })
    }

    #[allow(clippy::too_many_arguments)] // The conv's operands and how to run it.
    fn run(
        &self,
        x: &[f32],
        weights: Weights<'_>,
        b: Option<&[f32]>,
        epilogue: &Epilogue<'_>,
        y: &mut [f32],
        threads: usize,
    ) -> Result<()> {
        if self.output_plane == 0 || y.is_empty() {
            return Ok(());
        }
        if self.is_depthwise_2d() {
            return self.run_depthwise(x, weights.w, b, epilogue, y, threads);
        }
        if let (Some(direct), Some(params)) = (weights.direct, self.direct_params()) {
            return self.run_direct(x, direct, params, b, epilogue, y, threads);
        }
        if self.is_pointwise() {
            return self.run_gemm(x, weights, b, epilogue, y, Columns::Image, threads);
        }
        if self.input_spatial.len() == 2 {
            return self.run_gemm(x, weights, b, epilogue, y, Columns::Im2Col2d, threads);
        }
        let im2col = |_: usize, image: &[f32], col: &mut [f32]| self.im2col(image, col, threads);
        self.run_gemm(x, weights, b, epilogue, y, Columns::Built(&im2col), threads)
    }

    /// One GEMM per (image, group) block: `W_g · columns` (+ bias, epilogue) into `y`, which
    /// it overwrites.
    #[allow(clippy::too_many_arguments)] // The conv's operands and how to run it.
    pub(super) fn run_gemm(
        &self,
        x: &[f32],
        weights: Weights<'_>,
        b: Option<&[f32]>,
        epilogue: &Epilogue<'_>,
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
            Columns::Image => self.gemm_blocks(x, weights, b, epilogue, y, None, threads),
            Columns::Im2Col2d => {
                self.gemm_blocks(x, weights, b, epilogue, y, Some(Source::Im2Col), threads)
            }
            Columns::Built(fill) => {
                let len = k.checked_mul(n).ok_or_else(|| {
                    Error::new(ErrorKind::OutOfMemory, "Conv: column matrix too large")
                })?;
                with_scratch(len, |col| {
                    let built = Some(Source::Built(fill, col));
                    self.gemm_blocks(x, weights, b, epilogue, y, built, threads)
                })
            }
        }
    }

    #[allow(clippy::too_many_arguments)] // The conv's operands and how to run it.
    fn gemm_blocks(
        &self,
        x: &[f32],
        weights: Weights<'_>,
        b: Option<&[f32]>,
        epilogue: &Epilogue<'_>,
        y: &mut [f32],
        mut source: Option<Source<'_, '_>>,
        threads: usize,
    ) -> Result<()> {
        let k = self.in_channels * self.taps;
        let n = self.output_plane;
        let m = self.out_channels;
        let image_len = self.in_channels * self.input_plane;
        let block_len = m * n;
        for (i, y_block) in y.chunks_exact_mut(block_len).enumerate() {
            let (image, g) = (i / self.groups, i % self.groups);
            let x_start = (image * self.groups + g) * image_len;
            let image = &x[x_start..x_start + image_len];
            let strided = |data| {
                BOperand::Strided(Strided {
                    data,
                    row_stride: n as isize,
                    col_stride: 1,
                })
            };
            let b_operand = match &mut source {
                None => strided(image),
                Some(Source::Built(fill, col)) => {
                    fill(i, image, col)?;
                    strided(&**col)
                }
                Some(Source::Im2Col) => {
                    let geom = &self.geometry;
                    let params = Im2ColParams {
                        channels: self.in_channels,
                        input_spatial: &self.input_spatial,
                        kernel: &geom.kernel,
                        strides: &geom.strides,
                        dilations: &geom.dilations,
                        pads_begin: &geom.pads_begin,
                        pads_end: &geom.pads_end,
                    };
                    BOperand::Im2Col(
                        Im2ColB::new(&params, image).map_err(|e| kernel_error("Conv", e))?,
                    )
                }
            };
            let a = match weights.packed {
                Some(p) => AOperand::Packed(&p[g]),
                None => AOperand::Strided(Strided {
                    data: &weights.w[g * m * k..(g + 1) * m * k],
                    row_stride: k as isize,
                    col_stride: 1,
                }),
            };
            let call = Gemm {
                m,
                n,
                k,
                a,
                b: b_operand,
                c_row_stride: n as isize,
                alpha: 1.0,
                beta: 0.0,
            };
            let bias = b.map(|b| &b[g * m..(g + 1) * m]);
            let post = epilogue.post_ops(bias, i * block_len, block_len);
            let blocks = self.column_blocks(y_block, threads)?;
            parallel::for_each_part(blocks, |block| {
                gemm_block(&call, block, &post).map_err(|e| kernel_error("Conv", e))
            })?;
        }
        Ok(())
    }

    /// One `[out_channels, output_plane]` output block cut into one column block per worker
    /// (whole multiples of [`COLUMN_GRAIN`] columns), as many workers as the work is worth.
    fn column_blocks<'y>(
        &self,
        y_block: &'y mut [f32],
        threads: usize,
    ) -> Result<Vec<ColumnBlock<'y>>> {
        let (m, n) = (self.out_channels, self.output_plane);
        let k = (self.in_channels * self.taps).max(1);
        let grains = n.div_ceil(COLUMN_GRAIN);
        let workers = workers_for(threads, m * n * k, grains * m * k).min(grains);
        let cuts: Vec<usize> = (1..workers)
            .map(|t| (grains * t / workers) * COLUMN_GRAIN)
            .collect();
        split_columns(y_block, m, n, n as isize, &cuts).map_err(|e| kernel_error("Conv", e))
    }

    /// The direct kernel per (image, group) block, columns split across threads like a GEMM's.
    #[allow(clippy::too_many_arguments)] // The conv's operands and how to run it.
    fn run_direct(
        &self,
        x: &[f32],
        (kernel, packed): (DirectConvKernel, &[PackedConvWeights]),
        params: DirectConvParams,
        b: Option<&[f32]>,
        epilogue: &Epilogue<'_>,
        y: &mut [f32],
        threads: usize,
    ) -> Result<()> {
        let m = self.out_channels;
        let image_len = self.in_channels * self.input_plane;
        let block_len = m * self.output_plane;
        for (i, y_block) in y.chunks_exact_mut(block_len).enumerate() {
            let g = i % self.groups;
            let image = &x[i * image_len..(i + 1) * image_len];
            let bias = b.map(|b| &b[g * m..(g + 1) * m]);
            let post = epilogue.post_ops(bias, i * block_len, block_len);
            let blocks = self.column_blocks(y_block, threads)?;
            parallel::for_each_part(blocks, |block| {
                (kernel.run)(&params, image, &packed[g], block, &post)
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

    /// The direct depthwise kernels, with the epilogue fused when it is one activation.
    fn run_depthwise(
        &self,
        x: &[f32],
        w: &[f32],
        b: Option<&[f32]>,
        epilogue: &Epilogue<'_>,
        y: &mut [f32],
        threads: usize,
    ) -> Result<()> {
        let plane = Plane2d::new(&self.input_spatial, &self.geometry);
        let layout = DepthwiseLayout {
            groups: self.groups,
            multiplier: self.out_channels,
            input_plane: self.input_plane,
            output_plane: self.output_plane,
        };
        let fused = epilogue.only_activation();
        run_depthwise(&plane, &layout, x, w, b, fused, y, threads)?;
        if fused.is_none() && !epilogue.is_empty() {
            epilogue.apply(y, 0)?;
        }
        Ok(())
    }
}

/// Where one block's column matrix comes from when it is not the image itself.
enum Source<'f, 'c> {
    /// Built into a scratch matrix by a filler.
    Built(FillColumns<'f>, &'c mut [f32]),
    /// Packed straight from the image by the GEMM.
    Im2Col,
}

/// A conv's weights: the raw `[C_out, C_in/group · Π kernel]` rows, and the same packed per
/// group when they were constant at load.
#[derive(Clone, Copy)]
pub(super) struct Weights<'a> {
    pub(super) w: &'a [f32],
    pub(super) packed: Option<&'a [PackedA]>,
    /// The direct kernel and its packed weights per group, when it runs this conv.
    pub(super) direct: Option<(DirectConvKernel, &'a [PackedConvWeights])>,
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
mod tests;
