//! Integer convolutions: `ConvInteger` (i32 result) and `QLinearConv` (requantized).
//!
//! Per image and group: the input minus its zero point goes through `mote_kernels`' f32
//! `im2col` (exact: 9-bit integers; padding reads 0, i.e. the zero point, as in the ONNX
//! reference), the column matrix is converted back to i32 and multiplied exactly by the
//! weights minus their zero points (per tensor or per output channel).

use super::super::{Inputs, Outputs};
use super::int_matmul::gemm_i32;
use super::values::{float_values, int_range, int_values, store_ints, Precision};
use crate::ir::ops::quant::{ConvAttrs, ConvGeometry};
use crate::tensor::{numel, TensorView};
use crate::{bail, DType, Error, Result};
use mote_kernels::cpu::conv::{im2col, Im2ColParams};

pub(super) fn conv_integer(attrs: &ConvAttrs, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let conv = IntConv::new(
        "ConvInteger",
        attrs,
        &ins.get(0)?,
        ins.opt(2),
        &ins.get(1)?,
        ins.opt(3),
    )?;
    let y = out.alloc_typed::<i32>(0, &conv.output_shape)?;
    conv.run(None, y)
}

pub(super) fn qlinear_conv(attrs: &ConvAttrs, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let (x, x_scale, w, w_scale, y_scale) = (
        ins.get(0)?,
        ins.get(1)?,
        ins.get(3)?,
        ins.get(4)?,
        ins.get(6)?,
    );
    let conv = IntConv::new("QLinearConv", attrs, &x, ins.opt(2), &w, ins.opt(5))?;
    let channels = conv.out_channels;
    let bias = match ins.opt(8) {
        None => None,
        Some(b) if b.dtype == DType::I32 && b.len() == channels => Some(b.as_slice::<i32>()?),
        Some(b) => bail!(
            shape,
            "QLinearConv bias {}{:?} for {channels} output channels",
            b.dtype,
            b.shape
        ),
    };
    let mut acc = vec![0i32; numel(&conv.output_shape)];
    conv.run(bias, &mut acc)?;

    let y_zero_point = ins.opt(7);
    let to = y_zero_point.map_or(x.dtype, |z| z.dtype);
    let (lo, hi) = int_range(to)
        .ok_or_else(|| Error::unsupported("QLinearConv", format!("output type {to}")))?;
    let zero = match y_zero_point {
        Some(z) => int_values(&z)?.first().copied().unwrap_or(0),
        None => 0,
    } as f64;
    let x_s = x_scale.scalar_f32().map(f64::from)?;
    let y_s = y_scale.scalar_f32().map(f64::from)?;
    let w_s = float_values(&w_scale)?;
    if w_s.len() != 1 && w_s.len() != channels {
        bail!(
            shape,
            "QLinearConv w_scale of shape {:?} for {channels} output channels",
            w_scale.shape
        );
    }
    // The multiplier per output channel, in the scales' arithmetic type (as numpy).
    let mul = Precision::promote(x_scale.dtype, w_scale.dtype);
    let div = Precision::promote(mul.dtype(), y_scale.dtype);
    let multipliers: Vec<f64> = w_s
        .iter()
        .map(|&ws| div.div(mul.mul(x_s, ws), y_s))
        .collect();
    let plane = numel(&conv.output_shape[2..]).max(1);
    let quantized = acc.iter().enumerate().map(|(idx, &v)| {
        let c = (idx / plane) % channels.max(1);
        let m = multipliers
            .get(c)
            .or(multipliers.first())
            .copied()
            .unwrap_or(0.0);
        let r = (f64::from(v) * m + zero).round_ties_even();
        if r.is_nan() {
            0.clamp(lo, hi)
        } else {
            r.clamp(lo as f64, hi as f64) as i64
        }
    });
    let mut y = out.alloc_uninit(0, to, &conv.output_shape)?;
    store_ints(&mut y, quantized)
}

/// A validated integer convolution: operands minus zero points, geometry, output shape.
struct IntConv<'s> {
    /// Input minus its zero point, as exact f32 for `im2col`.
    image: Vec<f32>,
    /// Weights minus their zero points, `[M, C/group · Π kernel]`.
    weights: Vec<i32>,
    input_shape: &'s [usize],
    geometry: ConvGeometry,
    group: usize,
    out_channels: usize,
    output_shape: Vec<usize>,
}

impl<'s> IntConv<'s> {
    fn new(
        op: &str,
        attrs: &ConvAttrs,
        x: &TensorView<'s>,
        x_zero_point: Option<TensorView<'_>>,
        w: &TensorView<'_>,
        w_zero_point: Option<TensorView<'_>>,
    ) -> Result<IntConv<'s>> {
        for t in [x, w] {
            if !matches!(t.dtype, DType::U8 | DType::I8) {
                return Err(Error::unsupported(
                    op,
                    format!("input type {} (u8 and i8 are supported)", t.dtype),
                ));
            }
        }
        let (geometry, output_shape) = attrs.resolve(x.shape, w.shape)?;
        let out_channels = w.shape[0];
        let x_zero = match x_zero_point {
            None => 0,
            Some(z) => match int_values(&z)?[..] {
                [v] if z.dtype == x.dtype => v,
                _ => bail!(
                    shape,
                    "{op} x_zero_point must be one {} value, got {}{:?}",
                    x.dtype,
                    z.dtype,
                    z.shape
                ),
            },
        };
        let image = int_values(x)?
            .into_iter()
            .map(|v| (v - x_zero) as f32)
            .collect();
        let mut weights: Vec<i32> = int_values(w)?.into_iter().map(|v| v as i32).collect();
        if let Some(z) = w_zero_point {
            let zs = int_values(&z)?;
            if z.dtype != w.dtype || (zs.len() != 1 && zs.len() != out_channels) {
                bail!(
                    shape,
                    "{op} w_zero_point {}{:?} for {out_channels} output channels",
                    z.dtype,
                    z.shape
                );
            }
            let per_channel = weights.len() / out_channels.max(1);
            for (c, row) in weights.chunks_mut(per_channel.max(1)).enumerate() {
                let zero = if zs.len() == 1 {
                    zs[0]
                } else {
                    zs[c % zs.len()]
                } as i32;
                row.iter_mut().for_each(|v| *v -= zero);
            }
        }
        Ok(IntConv {
            image,
            weights,
            input_shape: x.shape,
            geometry,
            group: attrs.group,
            out_channels,
            output_shape,
        })
    }

    /// Writes the i32 convolution (plus `bias` per output channel) into `y`.
    fn run(&self, bias: Option<&[i32]>, y: &mut [i32]) -> Result<()> {
        let g = &self.geometry;
        let (batch, channels) = (self.input_shape[0], self.input_shape[1]);
        let (group_in, group_out) = (channels / self.group, self.out_channels / self.group);
        let params = Im2ColParams {
            channels: group_in,
            input_spatial: &self.input_shape[2..],
            kernel: &g.kernel,
            strides: &g.strides,
            dilations: &g.dilations,
            pads_begin: &g.pads_begin,
            pads_end: &g.pads_end,
        };
        let kernel_error = |e: mote_kernels::KernelError| {
            Error::shape(format!("integer convolution: {}", e.context()))
        };
        let (rows, cols) = params.col_shape().map_err(kernel_error)?;
        let image_len = params.image_len().map_err(kernel_error)?;
        let (mut col, mut col_int) = (vec![0f32; rows * cols], vec![0i32; rows * cols]);
        let out_len = group_out * cols;
        for n in 0..batch {
            for grp in 0..self.group {
                let image_start = (n * self.group + grp) * image_len;
                let image = self
                    .image
                    .get(image_start..image_start + image_len)
                    .ok_or_else(|| Error::internal("integer convolution image slice"))?;
                im2col(&params, image, &mut col).map_err(kernel_error)?;
                col_int
                    .iter_mut()
                    .zip(&col)
                    .for_each(|(d, &v)| *d = v as i32);
                let w_start = grp * group_out * rows;
                let weights = self
                    .weights
                    .get(w_start..w_start + group_out * rows)
                    .ok_or_else(|| Error::internal("integer convolution weight slice"))?;
                let y_start = (n * self.group + grp) * out_len;
                let out = y
                    .get_mut(y_start..y_start + out_len)
                    .ok_or_else(|| Error::internal("integer convolution output slice"))?;
                gemm_i32(rows, cols, weights, &col_int, out);
                if let Some(bias) = bias {
                    let channel_bias = &bias[grp * group_out..(grp + 1) * group_out];
                    for (row, &b) in out.chunks_exact_mut(cols.max(1)).zip(channel_bias) {
                        row.iter_mut().for_each(|v| *v = v.wrapping_add(b));
                    }
                }
            }
        }
        Ok(())
    }
}
