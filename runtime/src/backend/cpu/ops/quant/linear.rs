//! `QuantizeLinear`, `DequantizeLinear` and `DynamicQuantizeLinear`.
//!
//! Arithmetic follows the ONNX reference implementation, which is numpy's: the division
//! `x / scale` happens in the `precision` type (default: numpy's promotion of the two input
//! types), integer results round half to even and saturate to the output range; the
//! dequantized difference `x - zero_point` is an f32 (f64 with an i32 zero point) multiplied by
//! the scale in the promoted type, then rounded to the output type.

use super::super::{Inputs, Outputs};
use super::params::ParamLayout;
use super::values::{float_values, int_range, store_floats, store_ints, Precision};
use crate::ir::ops::quant::{DequantizeAttrs, QuantizeAttrs};
use crate::tensor::minifloat::Minifloat;
use crate::tensor::TensorView;
use crate::{bail, DType, Error, Result};

/// Checks that a zero point has the scale's shape.
fn check_zero_point(zp: Option<&TensorView<'_>>, scale: &TensorView<'_>) -> Result<()> {
    match zp {
        Some(z) if z.len() != scale.len() || (z.len() != 1 && z.shape != scale.shape) => bail!(
            shape,
            "zero point of shape {:?} for a scale of shape {:?}",
            z.shape,
            scale.shape
        ),
        _ => Ok(()),
    }
}

pub(super) fn quantize(a: &QuantizeAttrs, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let (x, scale, zp) = (ins.get(0)?, ins.get(1)?, ins.opt(2));
    let to = a.output_type(zp.map(|z| z.dtype))?;
    check_zero_point(zp.as_ref(), &scale)?;
    if let Some((scale, zero_point, signed)) =
        per_tensor_8bit(&x, &scale, zp.as_ref(), to, a.precision)?
    {
        // The common case (f32 to 8 bits, one scale): the vectorised kernel, same rounding.
        let xs = x.as_slice::<f32>()?;
        let y = out.alloc_uninit(0, to, x.shape)?;
        return mote_kernels::cpu::quantize::quantize(xs, scale, zero_point, signed, y.bytes)
            .map_err(|e| Error::internal(format!("QuantizeLinear: {e}")));
    }
    let layout = ParamLayout::new(x.shape, scale.shape, a.axis, a.block_size)?;
    let precision = match a.precision {
        Some(p) => Precision::of(p)?,
        None => Precision::promote(x.dtype, scale.dtype),
    };
    let (xs, scales) = (float_values(&x)?, float_values(&scale)?);
    let zps = match zp {
        Some(z) => float_values(&z)?,
        None => vec![0.0; scales.len()],
    };
    let quotient = |e: usize, p: usize| precision.div(xs[e], scales[p]);
    let mut y = out.alloc_uninit(0, to, x.shape)?;
    if let Some((lo, hi)) = int_range(to) {
        let mut q = vec![0i64; xs.len()];
        layout.for_each_run(xs.len(), |run, first, step| {
            for (i, e) in run.enumerate() {
                let p = first + i * step;
                q[e] = saturate_int(quotient(e, p).round_ties_even() + zps[p], lo, hi);
            }
        });
        store_ints(&mut y, q.into_iter())
    } else if let Some(format) = Minifloat::of(to) {
        let codes = &mut *y.bytes;
        layout.for_each_run(xs.len(), |run, first, step| {
            for (i, e) in run.enumerate() {
                let p = first + i * step;
                // A zero zero-point is not added, so that -0 stays -0 as in the reference.
                let v = if zps[p] == 0.0 {
                    quotient(e, p)
                } else {
                    precision.round(quotient(e, p) + zps[p])
                };
                codes[e] = format.encode(v, a.saturate);
            }
        });
        Ok(())
    } else {
        Err(Error::unsupported(
            "QuantizeLinear",
            format!("output type {to}"),
        ))
    }
}

/// `v` (already rounded and offset) clamped to `[lo, hi]`; NaN, undefined in ONNX, gives 0
/// (clamped).
fn saturate_int(v: f64, lo: i64, hi: i64) -> i64 {
    if v.is_nan() {
        0.clamp(lo, hi)
    } else {
        v.clamp(lo as f64, hi as f64) as i64
    }
}

pub(super) fn dequantize(a: &DequantizeAttrs, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let (x, scale, zp) = (ins.get(0)?, ins.get(1)?, ins.opt(2));
    if let Some(z) = zp {
        if z.dtype != x.dtype {
            bail!(
                dtype,
                "DequantizeLinear zero point is {} for a {} input",
                z.dtype,
                x.dtype
            );
        }
    }
    check_zero_point(zp.as_ref(), &scale)?;
    let to = a.output_dtype.unwrap_or(scale.dtype);
    if to == DType::F32 {
        if let Some((s, zero_point, signed)) =
            per_tensor_8bit(&scale, &scale, zp.as_ref(), x.dtype, None)?
        {
            let y = out.alloc_typed::<f32>(0, x.shape)?;
            return mote_kernels::cpu::quantize::dequantize(x.bytes, signed, s, zero_point, y)
                .map_err(|e| Error::internal(format!("DequantizeLinear: {e}")));
        }
    }
    let layout = ParamLayout::new(x.shape, scale.shape, a.axis, a.block_size)?;
    if !to.is_float() {
        return Err(Error::unsupported(
            "DequantizeLinear",
            format!("output type {to}"),
        ));
    }
    // numpy: f32(x) - zero point is f32, or f64 for an i32 zero point; times the scale in the
    // promoted type.
    let wide = scale.dtype == DType::F64 || (x.dtype == DType::I32 && zp.is_some());
    let xs: Vec<f64> = float_values(&x)?
        .into_iter()
        .map(|v| f64::from(v as f32))
        .collect();
    let scales = float_values(&scale)?;
    let zps = match zp {
        Some(z) => float_values(&z)?,
        None => vec![0.0; scales.len()],
    };
    let mut ys = vec![0f64; xs.len()];
    layout.for_each_run(xs.len(), |run, first, step| {
        for (i, e) in run.enumerate() {
            let p = first + i * step;
            let diff = xs[e] - zps[p];
            ys[e] = if wide {
                diff * scales[p]
            } else {
                f64::from((diff as f32) * (scales[p] as f32))
            };
        }
    });
    let mut y = out.alloc_uninit(0, to, x.shape)?;
    store_floats(&mut y, ys.into_iter())
}

pub(super) fn dynamic_quantize(ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let x = ins.get(0)?;
    if x.dtype != DType::F32 {
        return Err(Error::unsupported(
            "DynamicQuantizeLinear",
            format!("input type {}", x.dtype),
        ));
    }
    let xs = x.as_slice::<f32>()?;
    let y = out.alloc_typed::<u8>(0, x.shape)?;
    let (scale, zero_point) = dynamic_quantize_u8(xs, y)?;
    if out.len() > 1 {
        out.alloc_typed::<f32>(1, &[])?.fill(scale);
    }
    if out.len() > 2 {
        out.alloc_typed::<u8>(2, &[])?.fill(zero_point);
    }
    Ok(())
}

/// ONNX `DynamicQuantizeLinear` of `xs` into `y` (same length): returns the scale and zero
/// point, `y` the quantized values; exactly [`dynamic_quantize_scalar`]'s results.
///
/// The range comes from the exact max/min `reduce` kernels and the values from the quantize
/// kernel, whose `Q` equals the scalar formula for every non-NaN input (an integer-valued
/// float plus a zero point in `0..=255` is exact below 2²⁴, and saturates to the same end
/// beyond). NaN inputs (which the scalar range ignores, and which the scalar quantizes to 0
/// where the kernel gives the zero point) and non-finite or zero scales take the scalar path.
pub(in crate::backend::cpu::ops::quant) fn dynamic_quantize_u8(
    xs: &[f32],
    y: &mut [u8],
) -> Result<(f32, u8)> {
    use mote_kernels::cpu::reduce::{reduce, ReduceOp, ReduceParams};
    if y.len() != xs.len() {
        bail!(
            shape,
            "DynamicQuantizeLinear: {} outputs for {} inputs",
            y.len(),
            xs.len()
        );
    }
    let all = ReduceParams {
        outer: 1,
        len: xs.len(),
        inner: 1,
    };
    let kernel =
        |e: mote_kernels::KernelError| Error::internal(format!("DynamicQuantizeLinear: {e}"));
    let (mut max, mut min) = ([0f32], [0f32]);
    reduce(ReduceOp::Max, &all, xs, &mut max).map_err(kernel)?;
    reduce(ReduceOp::Min, &all, xs, &mut min).map_err(kernel)?;
    if max[0].is_nan() || min[0].is_nan() {
        return Ok(dynamic_quantize_scalar(xs, y));
    }
    let (scale, zero_point) = dynamic_params(max[0].max(0.0), min[0].min(0.0));
    if !(scale.is_finite() && scale > 0.0) {
        return Ok(dynamic_quantize_scalar(xs, y));
    }
    mote_kernels::cpu::quantize::quantize(xs, scale, zero_point as i32, false, y)
        .map_err(kernel)?;
    Ok((scale, zero_point as u8))
}

/// `(scale, zero point)` of `DynamicQuantizeLinear` for the range `[min, max]` (which
/// includes 0): `(max − min) / 255` (1/255 for an empty range), and `0 − min / scale` rounded
/// and clamped to `0..=255`, as an `f32` integer.
fn dynamic_params(max: f32, min: f32) -> (f32, f32) {
    let scale = if max == min { 1.0 } else { max - min } / 255.0;
    let zero_point = (0.0 - min / scale).clamp(0.0, 255.0).round_ties_even();
    (scale, zero_point)
}

/// The definition (the ONNX reference's arithmetic, element by element): the range always
/// includes 0 so that 0 quantizes exactly, NaNs are left out of it (`f32::max`/`min`), and
/// `y = clamp(round_half_even(x / scale) + zero_point, 0, 255)` in `f32` (NaN gives 0).
pub(in crate::backend::cpu::ops::quant) fn dynamic_quantize_scalar(
    xs: &[f32],
    y: &mut [u8],
) -> (f32, u8) {
    let max = xs.iter().fold(0f32, |m, &v| m.max(v));
    let min = xs.iter().fold(0f32, |m, &v| m.min(v));
    let (scale, zero_point) = dynamic_params(max, min);
    for (d, &v) in y.iter_mut().zip(xs) {
        *d = ((v / scale).round_ties_even() + zero_point).clamp(0.0, 255.0) as u8;
    }
    (scale, zero_point as u8)
}

/// `(scale, zero point, signed)` when a (de)quantization is per tensor between `f32` (`x`'s type
/// for quantize; the scale's for dequantize) and an 8-bit integer type `int`: the kernels' case.
fn per_tensor_8bit(
    float_side: &TensorView<'_>,
    scale: &TensorView<'_>,
    zp: Option<&TensorView<'_>>,
    int: DType,
    precision: Option<DType>,
) -> Result<Option<(f32, i32, bool)>> {
    let signed = match int {
        DType::U8 => false,
        DType::I8 => true,
        _ => return Ok(None),
    };
    if float_side.dtype != DType::F32
        || scale.dtype != DType::F32
        || scale.len() != 1
        || precision.is_some_and(|p| p != DType::F32)
    {
        return Ok(None);
    }
    let s = scale.as_slice::<f32>()?[0];
    if !(s.is_finite() && s > 0.0) {
        return Ok(None);
    }
    let zero_point = match zp {
        None => 0,
        Some(z) if z.dtype == DType::U8 => z.bytes[0] as i32,
        Some(z) if z.dtype == DType::I8 => z.bytes[0] as i8 as i32,
        Some(_) => return Ok(None),
    };
    Ok(Some((s, zero_point, signed)))
}

#[cfg(test)]
mod tests;
