//! `ConvTranspose` (SGEMM `Wᵀ·X` then col2im per (image, group)) and `Col2Im` (col2im alone).
//!
//! col2im scatters into an image whose geometry is that of the forward convolution. When the
//! transposed conv's padding is non-negative and leaves no room for `output_padding`'s extra
//! zeros, the output *is* that image with its padding cropped away, and col2im writes straight
//! into it. Otherwise (negative padding from `output_shape`, or output padding at the end) the
//! scatter goes to a full-size scratch image first, and the output window is copied out.

use super::{
    batch_channels, copy_window, f32_data, f32_output, kernel_error, parallel, same_dtype,
    workers_for,
};
use crate::backend::cpu::ops::{Inputs, Outputs};
use crate::ir::ops::nn::window::span;
use crate::ir::ops::nn::{Col2Im, ConvTranspose, TransposedGeometry};
use crate::tensor::numel;
use crate::{Error, Result};
use mote_kernels::cpu::conv::{col2im as scatter, Im2ColParams};
use mote_kernels::cpu::matmul::{sgemm, GemmParams};

pub(super) fn conv_transpose(
    attrs: &ConvTranspose,
    ins: &Inputs<'_>,
    out: &mut Outputs,
) -> Result<()> {
    let (x, w, b) = (ins.get(0)?, ins.get(1)?, ins.opt(2));
    same_dtype("ConvTranspose", "W", &w, x.dtype)?;
    if let Some(b) = &b {
        same_dtype("ConvTranspose", "B", b, x.dtype)?;
    }
    let layout = TransposeLayout::new(attrs, x.shape, w.shape, b.map(|b| b.shape))?;
    let (xs, ws) = (
        f32_data("ConvTranspose", &x)?,
        f32_data("ConvTranspose", &w)?,
    );
    let bs = b.map(|b| f32_data("ConvTranspose", &b)).transpose()?;
    let shape = layout.output_shape();
    f32_output(out, 0, x.dtype, &shape, |y| {
        layout.run(&xs, &ws, bs.as_deref(), y, ins.threads())
    })
}

/// A transposed convolution's validated sizes.
struct TransposeLayout {
    batch: usize,
    groups: usize,
    in_channels: usize,
    out_channels: usize,
    geometry: TransposedGeometry,
    /// Spatial size of the full scatter result: `(in − 1) · stride + window` per axis.
    full: Vec<usize>,
    input_plane: usize,
    output_plane: usize,
    taps: usize,
}

impl TransposeLayout {
    fn new(attrs: &ConvTranspose, x: &[usize], w: &[usize], b: Option<&[usize]>) -> Result<Self> {
        let (batch, channels, input_plane) = batch_channels("ConvTranspose", x, 3)?;
        if w.len() != x.len() {
            crate::bail!(
                shape,
                "ConvTranspose: weights {w:?} and input {x:?} differ in rank"
            );
        }
        let groups = attrs.group;
        if w[0] != channels || channels % groups != 0 {
            crate::bail!(
                shape,
                "ConvTranspose: input has {channels} channels, weights {w:?} in {groups} groups"
            );
        }
        let out_channels = w[1];
        let total_out = out_channels
            .checked_mul(groups)
            .ok_or_else(|| Error::shape("ConvTranspose: output channel count overflows"))?;
        if let Some(b) = b {
            if b != [total_out] {
                crate::bail!(
                    shape,
                    "ConvTranspose: bias {b:?} does not match {total_out} output channels"
                );
            }
        }
        let geometry = attrs.window.resolve_transposed(
            &x[2..],
            &w[2..],
            &attrs.output_padding,
            &attrs.output_shape,
        )?;
        // resolve_transposed checked that these sizes are non-empty and fit.
        let full = (0..x.len() - 2)
            .map(|d| {
                Ok((x[2 + d] - 1) * geometry.strides[d]
                    + span(geometry.kernel[d], geometry.dilations[d])?)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(TransposeLayout {
            batch,
            groups,
            in_channels: channels / groups,
            out_channels,
            output_plane: numel(&geometry.output),
            full,
            geometry,
            input_plane,
            taps: numel(&w[2..]),
        })
    }

    fn output_shape(&self) -> Vec<usize> {
        [
            &[self.batch, self.groups * self.out_channels][..],
            &self.geometry.output,
        ]
        .concat()
    }

    /// Padding that makes the output the forward conv's image, if it is non-negative.
    fn direct_pads(&self) -> Option<(Vec<usize>, Vec<usize>)> {
        let g = &self.geometry;
        let mut begin = Vec::with_capacity(g.output.len());
        let mut end = Vec::with_capacity(g.output.len());
        for d in 0..g.output.len() {
            let b = usize::try_from(g.crop_begin[d]).ok()?;
            end.push(self.full[d].checked_sub(b)?.checked_sub(g.output[d])?);
            begin.push(b);
        }
        Some((begin, end))
    }

    /// `y` must be zeroed.
    fn run(
        &self,
        x: &[f32],
        w: &[f32],
        b: Option<&[f32]>,
        y: &mut [f32],
        threads: usize,
    ) -> Result<()> {
        if y.is_empty() {
            return Ok(());
        }
        let g = &self.geometry;
        let rows = self.out_channels * self.taps;
        let n = self.input_plane;
        let mut col = vec![
            0f32;
            rows.checked_mul(n).ok_or_else(|| Error::shape(
                "ConvTranspose: column matrix too large"
            ))?
        ];
        let direct = self.direct_pads();
        let zeros = vec![0; g.output.len()];
        let (image_spatial, pads_begin, pads_end) = match &direct {
            Some((begin, end)) => (&g.output, begin, end),
            None => (&self.full, &zeros, &zeros),
        };
        let image_plane = numel(image_spatial);
        let mut scratch = if direct.is_some() {
            Vec::new()
        } else {
            vec![0f32; self.out_channels * image_plane]
        };
        let block_len = self.out_channels * self.output_plane;
        for i in 0..self.batch * self.groups {
            let grp = i % self.groups;
            let x_len = self.in_channels * n;
            let x_block = &x[i * x_len..(i + 1) * x_len];
            let w_len = self.in_channels * rows;
            let w_block = &w[grp * w_len..(grp + 1) * w_len];
            // col[rows × n] = W_gᵀ · X_g, W_g being [in_channels × rows].
            let workers = workers_for(threads, col.len(), n);
            parallel::for_each_chunk_mut(&mut col, n, workers, |r0, col_rows| {
                let m = col_rows.len() / n;
                let params = GemmParams {
                    a_row_stride: 1,
                    a_col_stride: rows as isize,
                    ..GemmParams::row_major(m, n, self.in_channels)
                };
                sgemm(&params, &w_block[r0..], x_block, col_rows)
                    .map_err(|e| kernel_error("ConvTranspose", e))
            })?;
            let y_block = &mut y[i * block_len..(i + 1) * block_len];
            // Each output channel owns `taps` rows of `col` and one plane of the image.
            let scatter_into = |image: &mut [f32]| {
                let workers = workers_for(threads, image.len(), image_plane);
                parallel::for_each_chunk_mut(image, image_plane, workers, |c0, planes| {
                    let channels = planes.len() / image_plane;
                    let params = Im2ColParams {
                        channels,
                        input_spatial: image_spatial,
                        kernel: &g.kernel,
                        strides: &g.strides,
                        dilations: &g.dilations,
                        pads_begin,
                        pads_end,
                    };
                    let col_rows = &col[c0 * self.taps * n..(c0 + channels) * self.taps * n];
                    scatter(&params, col_rows, planes).map_err(|e| kernel_error("ConvTranspose", e))
                })
            };
            if direct.is_some() {
                // `y` comes zeroed and each block is written once.
                scatter_into(y_block)?;
            } else {
                scratch.fill(0.0);
                scatter_into(&mut scratch)?;
                for (src, dst) in scratch
                    .chunks_exact(image_plane)
                    .zip(y_block.chunks_exact_mut(self.output_plane))
                {
                    copy_window(src, &self.full, dst, &g.output, &g.crop_begin);
                }
            }
            if let Some(b) = b {
                let bias = &b[grp * self.out_channels..(grp + 1) * self.out_channels];
                for (plane, &v) in y_block.chunks_exact_mut(self.output_plane).zip(bias) {
                    plane.iter_mut().for_each(|e| *e += v);
                }
            }
        }
        Ok(())
    }
}

pub(super) fn col2im(attrs: &Col2Im, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let x = ins.get(0)?;
    let image = to_sizes("image_shape", &ins.get(1)?.to_i64_vec()?)?;
    let block = to_sizes("block_shape", &ins.get(2)?.to_i64_vec()?)?;
    let rank = image.len();
    if block.len() != rank || rank == 0 {
        crate::bail!(
            shape,
            "Col2Im: image_shape {image:?} and block_shape {block:?} must have the same length"
        );
    }
    let per_axis = |name: &str, v: &[usize], default: usize, len: usize| -> Result<Vec<usize>> {
        match v.len() {
            0 => Ok(vec![default; len]),
            n if n == len => Ok(v.to_vec()),
            n => Err(Error::shape(format!(
                "Col2Im: {name} has {n} entries, {len} expected"
            ))),
        }
    };
    let strides = per_axis("strides", &attrs.strides, 1, rank)?;
    let dilations = per_axis("dilations", &attrs.dilations, 1, rank)?;
    let pads = per_axis("pads", &attrs.pads, 0, 2 * rank)?;
    let taps = numel(&block);
    if x.shape.len() != 3 || taps == 0 || x.shape[1] % taps != 0 {
        crate::bail!(shape, "Col2Im: input {:?} is not [N, C·{taps}, L]", x.shape);
    }
    let (batch, channels) = (x.shape[0], x.shape[1] / taps);
    let params = Im2ColParams {
        channels,
        input_spatial: &image,
        kernel: &block,
        strides: &strides,
        dilations: &dilations,
        pads_begin: &pads[..rank],
        pads_end: &pads[rank..],
    };
    let (rows, cols) = params
        .col_shape()
        .map_err(|e| Error::shape(format!("Col2Im: {e}")))?;
    if (rows, cols) != (x.shape[1], x.shape[2]) {
        crate::bail!(
            shape,
            "Col2Im: input {:?} does not match the {rows}×{cols} blocks of this geometry",
            x.shape
        );
    }
    let xs = f32_data("Col2Im", &x)?;
    let shape: Vec<usize> = [batch, channels]
        .into_iter()
        .chain(image.iter().copied())
        .collect();
    let image_len = channels * numel(&image);
    f32_output(out, 0, x.dtype, &shape, |y| {
        if image_len == 0 {
            return Ok(());
        }
        for (cols_block, y_block) in xs
            .chunks_exact(rows * cols)
            .zip(y.chunks_exact_mut(image_len))
        {
            scatter(&params, cols_block, y_block).map_err(|e| kernel_error("Col2Im", e))?;
        }
        Ok(())
    })
}

fn to_sizes(name: &str, v: &[i64]) -> Result<Vec<usize>> {
    v.iter()
        .map(|&d| {
            usize::try_from(d).map_err(|_| Error::shape(format!("Col2Im: negative {name} {v:?}")))
        })
        .collect()
}
