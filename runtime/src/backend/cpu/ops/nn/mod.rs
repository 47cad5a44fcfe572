//! CPU evaluation of convolutions, pooling and channel normalizations.
//!
//! Float ops compute in `f32` (f16, bf16 and f64 tensors are converted on the way in and out);
//! statistics (means, variances, averages) accumulate in `f64`. `MaxPool` alone runs on the
//! input's own type, since it only compares.
//!
//! Work is split across `ins.threads()` threads over independent output blocks (output
//! channels, planes), so every element is computed by the same code in the same order whatever
//! the thread count: results do not depend on it.

mod causal_conv;
mod conv;
mod conv_transpose;
mod deform_conv;
mod depthwise;
pub(super) mod epilogue;
mod norm;
mod pool;

use super::{Inputs, Outputs};
use crate::backend::cpu::parallel;
use crate::ir::ops::NnOp;
use crate::tensor::{numel, strides_of, TensorView};
use crate::{DType, Error, Result};
use std::borrow::Cow;

pub(super) fn eval(op: &NnOp, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    match op {
        NnOp::Conv(attrs) => conv::conv(attrs, ins, out),
        NnOp::FusedConv(attrs) => conv::fused_conv(attrs, ins, out),
        NnOp::ConvTranspose(attrs) => conv_transpose::conv_transpose(attrs, ins, out),
        NnOp::Col2Im(attrs) => conv_transpose::col2im(attrs, ins, out),
        NnOp::Pool(attrs) => pool::pool(attrs, ins, out),
        NnOp::GlobalPool(kind) => pool::global_pool(*kind, ins, out),
        NnOp::BatchNorm(attrs) => norm::batch_norm(attrs, ins, out),
        NnOp::InstanceNorm { epsilon } => norm::instance_norm(*epsilon, ins, out),
        NnOp::GroupNorm(attrs) => norm::group_norm(attrs, ins, out),
        NnOp::Lrn(attrs) => norm::lrn(attrs, ins, out),
        NnOp::MeanVarianceNorm { axes } => norm::mean_variance_norm(axes, ins, out),
        NnOp::DeformConv(attrs) => deform_conv::deform_conv(attrs, ins, out),
        NnOp::CausalConv { silu } => causal_conv::causal_conv(*silu, ins, out),
    }
}

/// A float tensor's elements as `f32`: borrowed when it is `f32`, converted otherwise.
fn f32_data<'a>(op: &str, v: &TensorView<'a>) -> Result<Cow<'a, [f32]>> {
    match v.dtype {
        DType::F32 => Ok(Cow::Borrowed(v.as_slice::<f32>()?)),
        DType::F16 | DType::BF16 | DType::F64 => Ok(Cow::Owned(v.to_f32_vec()?)),
        d => Err(Error::unsupported(op, format!("dtype {d}"))),
    }
}

/// Checks that `v` has the float type `expected` (the type of the op's first input).
fn same_dtype(op: &str, what: &str, v: &TensorView<'_>, expected: DType) -> Result<()> {
    if v.dtype != expected {
        crate::bail!(
            dtype,
            "{op}: {what} is {} where {expected} is expected",
            v.dtype
        );
    }
    Ok(())
}

/// Produces output `i` of `dtype` and `shape` from `fill`, which writes it as `f32` into a
/// zeroed buffer (the output itself when `dtype` is f32, a scratch buffer converted after
/// otherwise).
fn f32_output(
    out: &mut Outputs,
    i: usize,
    dtype: DType,
    shape: &[usize],
    fill: impl FnOnce(&mut [f32]) -> Result<()>,
) -> Result<()> {
    if dtype == DType::F32 {
        return fill(out.alloc_typed::<f32>(i, shape)?);
    }
    convert_output(out, i, dtype, shape, fill)
}

/// [`f32_output`] for a `fill` that writes every element: the buffer is not zeroed first.
fn f32_output_overwrite(
    out: &mut Outputs,
    i: usize,
    dtype: DType,
    shape: &[usize],
    fill: impl FnOnce(&mut [f32]) -> Result<()>,
) -> Result<()> {
    if dtype == DType::F32 {
        return fill(out.alloc_uninit(i, dtype, shape)?.as_mut_slice::<f32>()?);
    }
    convert_output(out, i, dtype, shape, fill)
}

/// `fill` into a zeroed f32 scratch buffer, then converted into output `i` of `dtype`.
fn convert_output(
    out: &mut Outputs,
    i: usize,
    dtype: DType,
    shape: &[usize],
    fill: impl FnOnce(&mut [f32]) -> Result<()>,
) -> Result<()> {
    let mut scratch = vec![0f32; numel(shape)];
    fill(&mut scratch)?;
    match dtype {
        DType::F64 => convert_into(out.alloc_typed::<f64>(i, shape)?, &scratch, |v| v as f64),
        DType::F16 => convert_into(
            out.alloc_typed::<half::f16>(i, shape)?,
            &scratch,
            half::f16::from_f32,
        ),
        DType::BF16 => convert_into(
            out.alloc_typed::<half::bf16>(i, shape)?,
            &scratch,
            half::bf16::from_f32,
        ),
        d => return Err(Error::internal(format!("f32 computation for a {d} output"))),
    }
    Ok(())
}

fn convert_into<T>(dst: &mut [T], src: &[f32], f: impl Fn(f32) -> T) {
    dst.iter_mut().zip(src).for_each(|(d, &s)| *d = f(s));
}

/// Fewer output elements than this per extra thread are not worth a thread spawn: a scoped
/// spawn costs tens of microseconds, about what a small conv layer takes in total (measured on
/// PP-OCR cls, where 4096 made two threads four times slower than one).
const MIN_ELEMENTS_PER_THREAD: usize = 1 << 16;

/// Threads worth using on `len` output elements in units of `unit_len` elements, for
/// [`parallel::for_each_chunk_mut`] and [`parallel::for_each_unit_mut`].
fn workers_for(threads: usize, len: usize, unit_len: usize) -> usize {
    let units = len.checked_div(unit_len).unwrap_or(0);
    parallel::worker_count(threads, units, len, MIN_ELEMENTS_PER_THREAD)
}

/// `dst[o] = src[o + offset]` for every `o` where that is inside `src` (the rest of `dst` is
/// left as it is), for row-major N-d arrays; copies whole rows of the last axis at a time.
fn copy_window<T: Copy>(
    src: &[T],
    src_shape: &[usize],
    dst: &mut [T],
    dst_shape: &[usize],
    offset: &[isize],
) {
    let Some(last) = dst_shape.len().checked_sub(1) else {
        return;
    };
    let (src_strides, row_len) = (strides_of(src_shape), dst_shape[last]);
    if row_len == 0 {
        return;
    }
    // Destination columns whose source column is inside the source row.
    let lo = (-offset[last]).clamp(0, row_len as isize) as usize;
    let hi =
        (src_shape[last] as isize - offset[last]).clamp(lo as isize, row_len as isize) as usize;
    for (r, row) in dst.chunks_exact_mut(row_len).enumerate() {
        // Coordinates of this row in dst, outer axes only, row-major.
        let mut rest = r;
        let mut base = Some(0usize);
        for d in (0..last).rev() {
            let coord = (rest % dst_shape[d]) as isize + offset[d];
            rest /= dst_shape[d];
            base = base
                .filter(|_| coord >= 0 && (coord as usize) < src_shape[d])
                .map(|b| b + coord as usize * src_strides[d]);
        }
        if let (Some(base), true) = (base, lo < hi) {
            let start = (base as isize + lo as isize + offset[last]) as usize;
            row[lo..hi].copy_from_slice(&src[start..start + (hi - lo)]);
        }
    }
}

/// A kernel's argument error: our own validation should have caught it first.
fn kernel_error(op: &str, e: mote_kernels::KernelError) -> Error {
    Error::internal(format!("{op}: kernel rejected its arguments: {e}"))
}

/// `[N, C, spatial...]` of an NCHW-style input, with a clear error for anything smaller.
fn batch_channels(op: &str, shape: &[usize], min_rank: usize) -> Result<(usize, usize, usize)> {
    if shape.len() < min_rank.max(2) {
        crate::bail!(
            shape,
            "{op} needs an input of rank at least {}, got {shape:?}",
            min_rank.max(2)
        );
    }
    Ok((shape[0], shape[1], numel(&shape[2..])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_window_handles_offsets_both_ways() {
        // src 2×3, dst 3×2 shifted by (-1, 1): row 0 is padding, rows 1..3 read src rows 0..2.
        let src = [1., 2., 3., 4., 5., 6.];
        let mut dst = [0f32; 6];
        copy_window(&src, &[2, 3], &mut dst, &[3, 2], &[-1, 1]);
        assert_eq!(dst, [0., 0., 2., 3., 5., 6.]);
        let mut dst = [0f32; 4];
        copy_window(&src, &[2, 3], &mut dst, &[1, 4], &[1, -1]);
        assert_eq!(dst, [0., 4., 5., 6.]);
    }
}
