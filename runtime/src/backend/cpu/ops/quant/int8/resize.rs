//! `QResize`: a linear or cubic resize of 8-bit values into 8-bit values, with the float
//! `Resize`'s own per-axis taps (coordinate transform, weights, `exclude_outside`,
//! antialiasing), so the two sample alike.
//!
//! Resizes of the last two axes only (every model's) run the `qresize` kernel, planes split
//! over threads. Any other set of axes takes the general path here: every resampled axis in
//! turn in `f64` on the centred values, as the float path's general case does.

use super::super::super::shape::resize::{
    axis_taps, plan, resample_axis, resampled_axes, AxisTaps,
};
use super::super::super::{Inputs, Outputs};
use super::{bytes_of, kernel_error};
use crate::backend::cpu::parallel::{for_each_chunk_mut, worker_count};
use crate::ir::ops::quant::{QResize, Quant8};
use crate::ir::ops::shape::resize::ResizePlan;
use crate::tensor::{byte_len, numel};
use crate::{DType, Result};
use mote_kernels::cpu::qresize::{qresize as kernel, QResizeParams, Taps};

/// Below this many output bytes per thread, waking a worker costs more than it saves.
const MIN_OUTPUTS_PER_THREAD: usize = 1 << 15;

pub(in crate::backend::cpu::ops::quant) fn qresize(
    q: &QResize,
    ins: &Inputs<'_>,
    out: &mut Outputs,
) -> Result<()> {
    let x = ins.get(0)?;
    let bytes = bytes_of("QResize", &x, q.x)?;
    let plan = plan(ins, &q.resize, x.shape)?;
    let axes = resampled_axes(&plan, x.shape);
    let rank = x.shape.len();
    if axes.iter().all(|&a| a + 2 >= rank) {
        planes(q, &plan, &axes, x.shape, bytes, ins.threads(), out)
    } else {
        axis_by_axis(q, &plan, &axes, x.shape, bytes, out)
    }
}

/// `Q_y(v)` as `QuantizeLinear` computes it: `v / scale` rounded half to even, plus the zero
/// point, saturated; as the stored byte.
fn quantize_value(v: f32, y: Quant8) -> u8 {
    let (lo, hi) = y.range();
    let q = ((v / y.scale).round_ties_even() as i64 + y.zero_point as i64).clamp(lo as _, hi as _);
    q as u8
}

/// `x.scale / y.scale`, the factor from centred input units to output units.
fn multiplier(q: &QResize) -> f32 {
    (q.x.scale as f64 / q.y.scale as f64) as f32
}

/// The resize as planes of the last two axes (a missing axis counts as length 1), by the
/// kernel.
fn planes(
    q: &QResize,
    plan: &ResizePlan,
    axes: &[usize],
    shape: &[usize],
    bytes: &[u8],
    threads: usize,
    out: &mut Outputs,
) -> Result<()> {
    let rank = shape.len();
    // (input length, output length, taps) of the rows and of the columns.
    let axis = |from_end: usize| -> Result<(usize, usize, AxisTaps)> {
        if rank < from_end {
            return Ok((1, 1, identity(1)));
        }
        let a = rank - from_end;
        let (in_len, out_len) = (shape[a], plan.out_shape[a]);
        let taps = if axes.contains(&a) {
            let roi = plan.roi.as_ref().map(|r| r[a]);
            axis_taps(&q.resize, in_len, out_len, plan.scales[a], roi)?
        } else {
            identity(in_len)
        };
        Ok((in_len, out_len, taps))
    };
    let (in_h, out_h, rows) = axis(2)?;
    let (in_w, out_w, cols) = axis(1)?;
    let (row_weights, col_weights) = (single(&rows.weight), single(&cols.weight));
    let (rows, cols) = (view(&rows, &row_weights), view(&cols, &col_weights));
    let planes = numel(&shape[..rank.saturating_sub(2)]);
    let (in_len, out_len) = (in_h * in_w, out_h * out_w);
    let y = out.alloc_uninit(0, q.y.dtype(), &plan.out_shape)?;
    if y.bytes.is_empty() {
        return Ok(());
    }
    let params = QResizeParams {
        planes,
        in_h,
        in_w,
        out_h,
        out_w,
        x_signed: q.x.signed,
        x_zero_point: q.x.zero_point,
        multiplier: multiplier(q),
        y_signed: q.y.signed,
        y_zero_point: q.y.zero_point,
        fill: quantize_value(q.resize.extrapolation_value, q.y),
    };
    let workers = worker_count(threads, planes, y.bytes.len(), MIN_OUTPUTS_PER_THREAD);
    for_each_chunk_mut(y.bytes, out_len, workers, |first, chunk| {
        let count = chunk.len() / out_len;
        let p = QResizeParams {
            planes: count,
            ..params
        };
        let input = bytes
            .get(first * in_len..(first + count) * in_len)
            .ok_or_else(|| crate::Error::internal("QResize: planes outside the input"))?;
        kernel(&p, &rows, &cols, input, chunk).map_err(|e| kernel_error("QResize", e))
    })
}

/// An axis that is not resampled: each position reads itself.
fn identity(len: usize) -> AxisTaps {
    AxisTaps {
        n: 1,
        index: (0..len).collect(),
        weight: vec![1.0; len],
        outside: vec![false; len],
    }
}

/// The weights as the kernel takes them (the float path's fast linear resize rounds them to
/// `f32` too).
fn single(weights: &[f64]) -> Vec<f32> {
    weights.iter().map(|&w| w as f32).collect()
}

fn view<'a>(taps: &'a AxisTaps, weight: &'a [f32]) -> Taps<'a> {
    Taps {
        n: taps.n,
        index: &taps.index,
        weight,
        outside: &taps.outside,
    }
}

/// The general path: each resampled axis in turn, in `f64`, on `x − x.zero_point`, then one
/// scaling and rounding. A position outside the region of interest is NaN while resampling (the
/// values are finite otherwise, and a NaN stays confined to the slice it marks: later axes
/// never mix along the axis that marked it) and becomes `Q_y(extrapolation_value)`, as the
/// float path's extrapolated positions do.
fn axis_by_axis(
    q: &QResize,
    plan: &ResizePlan,
    axes: &[usize],
    shape: &[usize],
    bytes: &[u8],
    out: &mut Outputs,
) -> Result<()> {
    // Intermediate results are at most max(input, output) along every dim; refuse sizes whose
    // f64 copy could not even be addressed, as the float path does.
    let largest: Vec<usize> = shape
        .iter()
        .zip(&plan.out_shape)
        .map(|(&a, &b)| a.max(b))
        .collect();
    byte_len(DType::F64, &largest)?;
    let centred = |b: u8| {
        let v = if q.x.signed { b as i8 as i32 } else { b as i32 };
        (v - q.x.zero_point) as f64
    };
    let mut data: Vec<f64> = bytes.iter().map(|&b| centred(b)).collect();
    let mut shape = shape.to_vec();
    for &axis in axes {
        let (in_len, out_len) = (shape[axis], plan.out_shape[axis]);
        let roi = plan.roi.as_ref().map(|r| r[axis]);
        let taps = axis_taps(&q.resize, in_len, out_len, plan.scales[axis], roi)?;
        data = resample_axis(&data, &shape, axis, &taps, f64::NAN);
        shape[axis] = out_len;
    }
    let fill = quantize_value(q.resize.extrapolation_value, q.y);
    let m = q.x.scale as f64 / q.y.scale as f64;
    let (lo, hi) = q.y.range();
    let y = out.alloc_uninit(0, q.y.dtype(), &shape)?;
    for (o, &v) in y.bytes.iter_mut().zip(&data) {
        *o = if v.is_nan() {
            fill
        } else {
            ((v * m).round_ties_even() as i64 + q.y.zero_point as i64).clamp(lo as _, hi as _) as u8
        };
    }
    Ok(())
}
