//! Resize (and Upsample), following the ONNX reference (`op_resize.py`) step by step: the
//! interpolation is separable, so each resized axis is resampled in turn, in f64, from a
//! per-output list of input taps and weights; the result is saturate-cast to the input type.
//!
//! The common resizes (nearest or linear over the last two axes) take the faster paths of
//! [`separable`], which read the same per-axis taps. The 8-bit `QResize`
//! (`quant::int8::resize`) reads them too, so both resizes sample alike.

mod separable;
#[cfg(test)]
mod tests;

use super::numeric::Numeric;
use crate::backend::cpu::ops::{Inputs, Outputs};
use crate::ir::ops::shape::resize::ResizePlan;
use crate::ir::ops::shape::{CoordinateMode, NearestMode, ResizeAttrs, ResizeMode};
use crate::tensor::{byte_len, numel, TensorView};
use crate::{bail, DType, Error, Result};

/// Largest kernel footprint accepted (antialiasing widens kernels by 1 / scale).
const MAX_TAPS: usize = 1 << 16;

/// The input taps of every output position of one axis.
pub(in crate::backend::cpu::ops) struct AxisTaps {
    /// Taps per output position.
    pub(in crate::backend::cpu::ops) n: usize,
    /// `n` clamped input indices per output position.
    pub(in crate::backend::cpu::ops) index: Vec<usize>,
    /// `n` weights per output position.
    pub(in crate::backend::cpu::ops) weight: Vec<f64>,
    /// Output positions outside the region of interest (take the extrapolation value).
    pub(in crate::backend::cpu::ops) outside: Vec<bool>,
}

fn isclose(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

pub(super) fn resize(ins: &Inputs<'_>, out: &mut Outputs, attrs: &ResizeAttrs) -> Result<()> {
    let x = ins.get(0)?;
    let plan = plan(ins, attrs, x.shape)?;
    if separable::resize(x, &plan, attrs, ins.threads(), out)? {
        return Ok(());
    }
    resize_axis_by_axis(x, &plan, attrs, out)
}

/// The geometry of a resize of an input of `shape`, from the region of interest, scales and
/// sizes inputs `attrs` names.
pub(in crate::backend::cpu::ops) fn plan(
    ins: &Inputs<'_>,
    attrs: &ResizeAttrs,
    shape: &[usize],
) -> Result<ResizePlan> {
    let input = |i: Option<usize>| i.and_then(|i| ins.opt(i));
    let roi = input(attrs.roi_input).map(|v| v.to_f64_vec()).transpose()?;
    let scales = input(attrs.scales_input)
        .map(|v| v.to_f32_vec())
        .transpose()?;
    let sizes = input(attrs.sizes_input)
        .map(|v| v.to_i64_vec())
        .transpose()?;
    attrs.plan(shape, roi.as_deref(), scales.as_deref(), sizes.as_deref())
}

/// The axes `plan` really resamples: those whose size, scale or region of interest change.
pub(in crate::backend::cpu::ops) fn resampled_axes(
    plan: &ResizePlan,
    in_shape: &[usize],
) -> Vec<usize> {
    plan.axes
        .iter()
        .copied()
        .filter(|&axis| {
            let trivial_roi = plan
                .roi
                .as_ref()
                .map(|r| r[axis])
                .is_none_or(|(a, b)| a == 0.0 && isclose(b, 1.0));
            !(isclose(plan.scales[axis], 1.0)
                && plan.out_shape[axis] == in_shape[axis]
                && trivial_roi)
        })
        .collect()
}

/// The general path, and the reference for the fast ones: every resampled axis in turn, in
/// f64.
fn resize_axis_by_axis(
    x: TensorView<'_>,
    plan: &ResizePlan,
    attrs: &ResizeAttrs,
    out: &mut Outputs,
) -> Result<()> {
    // Intermediate results are at most max(input, output) along every dim.
    let largest: Vec<usize> = x
        .shape
        .iter()
        .zip(&plan.out_shape)
        .map(|(&a, &b)| a.max(b))
        .collect();
    byte_len(DType::F64, &largest)?;
    let mut data = x.to_f64_vec()?;
    let mut shape = x.shape.to_vec();
    for axis in resampled_axes(plan, x.shape) {
        let (in_len, out_len, scale) = (shape[axis], plan.out_shape[axis], plan.scales[axis]);
        let roi = plan.roi.as_ref().map(|r| r[axis]);
        let taps = axis_taps(attrs, in_len, out_len, scale, roi)?;
        data = resample_axis(&data, &shape, axis, &taps, attrs.extrapolation_value as f64);
        shape[axis] = out_len;
    }
    crate::with_numeric_type!(x.dtype, T => {
        for (d, &v) in out.alloc_typed::<T>(0, &shape)?.iter_mut().zip(&data) {
            *d = T::from_f64(v);
        }
        Ok(())
    }, _ => Err(Error::unsupported("Resize", format!("dtype {}", x.dtype))))
}

/// Source coordinate of output position `y`, and whether it falls outside the region of
/// interest (`TfCropAndResize` only).
fn source_coordinate(
    mode: CoordinateMode,
    y: f64,
    scale: f64,
    in_len: usize,
    out_len: usize,
    roi: Option<(f64, f64)>,
) -> Result<(f64, bool)> {
    let input_width = in_len as f64;
    let output_width = scale * input_width;
    Ok(match mode {
        CoordinateMode::AlignCorners if output_width == 1.0 => (0.0, false),
        CoordinateMode::AlignCorners => (y * (input_width - 1.0) / (output_width - 1.0), false),
        CoordinateMode::Asymmetric => (y / scale, false),
        CoordinateMode::TfCropAndResize => {
            let Some((start, end)) = roi else {
                bail!(argument, "tf_crop_and_resize needs a roi input")
            };
            let x = if output_width == 1.0 {
                (end - start) * (input_width - 1.0) / 2.0
            } else {
                y * (end - start) * (input_width - 1.0) / (output_width - 1.0)
            } + start * (input_width - 1.0);
            (x, x < 0.0 || x > input_width - 1.0)
        }
        CoordinateMode::PytorchHalfPixel if output_width == 1.0 => (-0.5, false),
        CoordinateMode::PytorchHalfPixel | CoordinateMode::HalfPixel => {
            ((y + 0.5) / scale - 0.5, false)
        }
        CoordinateMode::HalfPixelSymmetric => {
            let adjustment = out_len as f64 / output_width;
            let offset = input_width / 2.0 * (1.0 - adjustment);
            (offset + (y + 0.5) / scale - 0.5, false)
        }
    })
}

/// Kernel weights for the fractional position `ratio` in `(0, 1]`.
fn coefficients(attrs: &ResizeAttrs, ratio: f64, scale: f64) -> Vec<f64> {
    let a = attrs.cubic_coeff_a as f64;
    match attrs.mode {
        ResizeMode::Nearest => {
            let pick_right = ratio == 1.0
                || match attrs.nearest_mode {
                    NearestMode::RoundPreferFloor => ratio > 0.5,
                    NearestMode::RoundPreferCeil => ratio >= 0.5,
                    NearestMode::Floor => false,
                    NearestMode::Ceil => true,
                };
            if pick_right {
                vec![0.0, 1.0]
            } else {
                vec![1.0, 0.0]
            }
        }
        ResizeMode::Linear if attrs.antialias => {
            let s = scale.min(1.0);
            let start = (-1.0 / s).floor() as i64 + 1;
            let footprint = 2 - 2 * start;
            let c: Vec<f64> = (start..start + footprint)
                .map(|i| (1.0 - ((i as f64 - ratio) * s).abs()).clamp(0.0, 1.0))
                .collect();
            normalized(c)
        }
        ResizeMode::Linear => vec![1.0 - ratio, ratio],
        ResizeMode::Cubic if attrs.antialias => {
            let s = scale.min(1.0);
            let i_start = (-2.0 / s).floor() as i64 + 1;
            let c: Vec<f64> = (i_start..2 - i_start)
                .map(|i| cubic_kernel(s * (i as f64 - ratio), a))
                .collect();
            normalized(c)
        }
        ResizeMode::Cubic => {
            let (r, q) = (ratio, 1.0 - ratio);
            vec![
                ((a * (r + 1.0) - 5.0 * a) * (r + 1.0) + 8.0 * a) * (r + 1.0) - 4.0 * a,
                ((a + 2.0) * r - (a + 3.0)) * r * r + 1.0,
                ((a + 2.0) * q - (a + 3.0)) * q * q + 1.0,
                ((a * (q + 1.0) - 5.0 * a) * (q + 1.0) + 8.0 * a) * (q + 1.0) - 4.0 * a,
            ]
        }
    }
}

fn cubic_kernel(x: f64, a: f64) -> f64 {
    let x = x.abs();
    let (x2, x3) = (x * x, x * x * x);
    if x <= 1.0 {
        (a + 2.0) * x3 - (a + 3.0) * x2 + 1.0
    } else if x < 2.0 {
        a * x3 - 5.0 * a * x2 + 8.0 * a * x - 4.0 * a
    } else {
        0.0
    }
}

fn normalized(mut c: Vec<f64>) -> Vec<f64> {
    let sum: f64 = c.iter().sum();
    c.iter_mut().for_each(|v| *v /= sum);
    c
}

/// The taps of every output position of one axis of `in_len` resized to `out_len`.
pub(in crate::backend::cpu::ops) fn axis_taps(
    attrs: &ResizeAttrs,
    in_len: usize,
    out_len: usize,
    scale: f64,
    roi: Option<(f64, f64)>,
) -> Result<AxisTaps> {
    let mut taps = AxisTaps {
        n: 0,
        index: Vec::new(),
        weight: Vec::new(),
        outside: Vec::with_capacity(out_len),
    };
    if in_len == 0 {
        bail!(shape, "Resize of an empty dim to {out_len}");
    }
    for y in 0..out_len {
        let (x, outside) =
            source_coordinate(attrs.coordinate_mode, y as f64, scale, in_len, out_len, roi)?;
        let ratio = if x == x.floor() { 1.0 } else { x - x.floor() };
        let mut coeffs = coefficients(attrs, ratio, scale);
        let n = coeffs.len();
        if n == 0 || n > MAX_TAPS {
            bail!(argument, "Resize kernel of {n} taps (scale {scale})");
        }
        taps.n = n;
        // The n input positions nearest to x, ties to the smaller ones (reference
        // `_get_neighbor`), in the edge-padded coordinates of the reference.
        let pad = n.div_ceil(2) as f64;
        let padded = x + pad;
        let p = padded.floor();
        let frac = padded - p;
        let half = (n / 2) as f64;
        let offset = if n % 2 == 0 {
            if frac == 0.0 {
                -half
            } else {
                -half + 1.0
            }
        } else {
            let base = -(((n - 1) / 2) as f64);
            if frac <= 0.5 {
                base
            } else {
                base + 1.0
            }
        };
        let first = p + offset - pad;
        if attrs.exclude_outside {
            for (j, c) in coeffs.iter_mut().enumerate() {
                let i = first + j as f64;
                if i < 0.0 || i >= in_len as f64 {
                    *c = 0.0;
                }
            }
            let sum: f64 = coeffs.iter().sum();
            let sum = if sum == 0.0 { 1.0 } else { sum };
            coeffs.iter_mut().for_each(|c| *c /= sum);
        }
        for (j, c) in coeffs.into_iter().enumerate() {
            taps.index
                .push((first + j as f64).clamp(0.0, (in_len - 1) as f64) as usize);
            taps.weight.push(c);
        }
        taps.outside.push(outside);
    }
    Ok(taps)
}

/// Resamples `axis` of `data` (of `shape`) to `taps.outside.len()` positions.
pub(in crate::backend::cpu::ops) fn resample_axis(
    data: &[f64],
    shape: &[usize],
    axis: usize,
    taps: &AxisTaps,
    extrapolation: f64,
) -> Vec<f64> {
    let (outer, inner, in_len) = (
        numel(&shape[..axis]),
        numel(&shape[axis + 1..]),
        shape[axis],
    );
    let out_len = taps.outside.len();
    let mut result = vec![0.0f64; outer * out_len * inner];
    if result.is_empty() {
        return result;
    }
    for (o, block) in result.chunks_exact_mut(out_len * inner).enumerate() {
        for (y, row) in block.chunks_exact_mut(inner).enumerate() {
            if taps.outside[y] {
                row.fill(extrapolation);
                continue;
            }
            let range = y * taps.n..(y + 1) * taps.n;
            for (&i, &w) in taps.index[range.clone()].iter().zip(&taps.weight[range]) {
                let src = &data[(o * in_len + i) * inner..][..inner];
                for (r, &s) in row.iter_mut().zip(src) {
                    *r += w * s;
                }
            }
        }
    }
    result
}
