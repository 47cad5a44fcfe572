//! The vectorised pooling body, written once over [`F32Lanes`] and instantiated by each ISA's
//! `#[target_feature]` wrapper.
//!
//! 2-D: each plane is copied into the depthwise family's padded, stride-split scratch plane
//! (padding `-inf` for a maximum, `0` for a sum), so every window is a run of full-vector loads
//! at fixed offsets, whatever the stride. The per-window divisor of an average is separable:
//! (row count) · (column count), the column counts precomputed as a vector row. Windows with no
//! in-image tap (possible only with `ceil_mode` or pads as large as the window) are patched to
//! 0 for a maximum afterwards.
//!
//! Global: four independent accumulator vectors per plane (to hide the add latency), then a
//! horizontal reduction.

use super::{GlobalPoolOp, PoolOp, PoolParams};
use crate::cpu::depthwise::lanes::F32Lanes;
use crate::cpu::depthwise::padded::{PaddedLayout, Scratch};
use crate::KernelError;

/// Runs a validated 2-D pooling.
///
/// # Safety
///
/// The CPU supports `V`'s ISA, and the call passed [`super::validate`].
#[inline(always)]
pub(crate) unsafe fn pool2d<V: F32Lanes>(
    p: &PoolParams,
    op: PoolOp,
    x: &[f32],
    y: &mut [f32],
) -> Result<(), KernelError> {
    let (oh, ow) = (p.out_h, p.out_w);
    if p.channels == 0 || oh == 0 || ow == 0 {
        return Ok(());
    }
    let layout = PaddedLayout::new(p.window(), V::LANES)?;
    let (rows, cols) = (p.rows(), p.cols());
    // Per output column: in-image taps and padded-input taps, padded to whole vectors.
    let ow_vectors = ow.next_multiple_of(V::LANES);
    let mut col_inside = vec![0.0f32; ow_vectors];
    let mut col_padded = vec![0.0f32; ow_vectors];
    let mut empty_cols = Vec::new();
    for ox in 0..ow {
        let (inside, padded) = cols.counts(ox);
        (col_inside[ox], col_padded[ox]) = (inside as f32, padded as f32);
        if inside == 0 {
            empty_cols.push(ox);
        }
    }
    let taps: Vec<usize> = (0..p.kernel_h)
        .flat_map(|ky| (0..p.kernel_w).map(move |kx| (ky, kx)))
        .map(|(ky, kx)| layout.tap(ky, kx))
        .collect();
    let pad = match op {
        PoolOp::Max => f32::NEG_INFINITY,
        PoolOp::Average { .. } => 0.0,
    };
    let (in_plane, out_plane) = (p.in_h * p.in_w, oh * ow);
    let mut guard = Scratch::take(layout.len());
    let scratch = &mut guard.as_mut_slice()[..layout.len()];
    layout.pad(scratch, pad);
    for c in 0..p.channels {
        layout.copy_image(&x[c * in_plane..(c + 1) * in_plane], scratch);
        let y = &mut y[c * out_plane..(c + 1) * out_plane];
        for (oy, y_row) in y.chunks_exact_mut(ow).enumerate() {
            let base = scratch[layout.output_row(oy)..].as_ptr();
            let (row_inside, row_padded) = rows.counts(oy);
            match op {
                PoolOp::Max => {
                    // SAFETY: `V`'s ISA per the caller; loads bounded as in `padded.rs`.
                    unsafe { max_row::<V>(base, &taps, y_row) };
                    if row_inside == 0 {
                        y_row.fill(0.0);
                    }
                    for &ox in &empty_cols {
                        y_row[ox] = 0.0;
                    }
                }
                PoolOp::Average { count_include_pad } => {
                    let (col_counts, row_count) = if count_include_pad {
                        (&col_padded, row_padded)
                    } else {
                        (&col_inside, row_inside)
                    };
                    // SAFETY: as above; `col_counts` holds whole vectors up to `ow`.
                    unsafe { average_row::<V>(base, &taps, col_counts, row_count as f32, y_row) };
                }
            }
        }
    }
    Ok(())
}

/// One output row of maxima: `y[ox] = max over taps of base[tap + ox]`.
///
/// # Safety
///
/// `V`'s ISA is available; `base + tap + ox` is readable for `LANES` elements for every tap
/// and every vector start `ox < y.len()` (the padded layout guarantees it).
#[inline(always)]
unsafe fn max_row<V: F32Lanes>(base: *const f32, taps: &[usize], y: &mut [f32]) {
    // SAFETY: per this function's contract.
    unsafe {
        let mut ox = 0;
        while ox < y.len() {
            let mut acc = V::splat(f32::NEG_INFINITY);
            for &t in taps {
                acc = acc.max_skipping_nan(V::load(base.add(t + ox)));
            }
            store(acc, y, ox);
            ox += V::LANES;
        }
    }
}

/// One output row of averages: `y[ox] = Σ taps / (col_counts[ox] · row_count)`.
///
/// # Safety
///
/// As for [`max_row`], and `col_counts` holds `y.len()` rounded up to whole vectors.
#[inline(always)]
unsafe fn average_row<V: F32Lanes>(
    base: *const f32,
    taps: &[usize],
    col_counts: &[f32],
    row_count: f32,
    y: &mut [f32],
) {
    debug_assert!(col_counts.len() >= y.len().next_multiple_of(V::LANES));
    // SAFETY: per this function's contract.
    unsafe {
        let row_count = V::splat(row_count);
        let mut ox = 0;
        while ox < y.len() {
            let mut acc = V::splat(0.0);
            for &t in taps {
                acc = acc.add(V::load(base.add(t + ox)));
            }
            let divisor = V::load(col_counts.as_ptr().add(ox)).mul(row_count);
            store(acc.div(divisor), y, ox);
            ox += V::LANES;
        }
    }
}

/// Stores the vector of output columns `ox..` of `row`: in full, or the part inside the row.
///
/// # Safety
///
/// `V`'s ISA is available and `ox < row.len()`.
#[inline(always)]
unsafe fn store<V: F32Lanes>(v: V, row: &mut [f32], ox: usize) {
    let left = row.len() - ox;
    // SAFETY: `row[ox..]` holds `left` elements; a full store needs `LANES` of them.
    unsafe {
        let dst = row.as_mut_ptr().add(ox);
        if left >= V::LANES {
            v.store(dst);
        } else {
            v.store_first(dst, left);
        }
    }
}

/// Runs a validated global pooling.
///
/// # Safety
///
/// The CPU supports `V`'s ISA, and the call passed [`super::validate_global`].
#[inline(always)]
pub(crate) unsafe fn global_pool<V: F32Lanes>(
    op: GlobalPoolOp,
    plane: usize,
    x: &[f32],
    y: &mut [f32],
) {
    for (src, d) in x.chunks_exact(plane).zip(y) {
        // SAFETY: `V`'s ISA per the caller.
        *d = unsafe {
            match op {
                GlobalPoolOp::Max => reduce::<V, MaxSkippingNan>(src),
                GlobalPoolOp::Average => reduce::<V, Sum>(src) / plane as f32,
            }
        };
    }
}

/// An associative reduction with an identity, on vectors and scalars.
trait Reduction {
    const IDENTITY: f32;
    unsafe fn vector<V: F32Lanes>(acc: V, x: V) -> V;
    fn scalar(acc: f32, x: f32) -> f32;
}

struct Sum;
impl Reduction for Sum {
    const IDENTITY: f32 = 0.0;
    #[inline(always)]
    unsafe fn vector<V: F32Lanes>(acc: V, x: V) -> V {
        // SAFETY: `V`'s ISA per the caller.
        unsafe { acc.add(x) }
    }
    #[inline(always)]
    fn scalar(acc: f32, x: f32) -> f32 {
        acc + x
    }
}

/// The maximum, NaN skipped (`f32::max`); `-inf` for an all-NaN plane.
struct MaxSkippingNan;
impl Reduction for MaxSkippingNan {
    const IDENTITY: f32 = f32::NEG_INFINITY;
    #[inline(always)]
    unsafe fn vector<V: F32Lanes>(acc: V, x: V) -> V {
        // SAFETY: `V`'s ISA per the caller.
        unsafe { acc.max_skipping_nan(x) }
    }
    #[inline(always)]
    fn scalar(acc: f32, x: f32) -> f32 {
        acc.max(x)
    }
}

/// `R` over a whole slice: four accumulators over blocks of four vectors, one over the
/// remaining vectors, a partial load (padded with the identity) for the tail.
///
/// # Safety
///
/// The CPU supports `V`'s ISA.
#[inline(always)]
unsafe fn reduce<V: F32Lanes, R: Reduction>(src: &[f32]) -> f32 {
    let n = V::LANES;
    // SAFETY: every load below reads `n` elements (or the `left` that remain) inside `src`.
    unsafe {
        let p = src.as_ptr();
        let mut acc = [V::splat(R::IDENTITY); 4];
        let mut i = 0;
        while i + 4 * n <= src.len() {
            for (k, a) in acc.iter_mut().enumerate() {
                *a = R::vector(*a, V::load(p.add(i + k * n)));
            }
            i += 4 * n;
        }
        while i + n <= src.len() {
            acc[0] = R::vector(acc[0], V::load(p.add(i)));
            i += n;
        }
        if i < src.len() {
            acc[1] = R::vector(acc[1], V::load_first(p.add(i), src.len() - i, R::IDENTITY));
        }
        let acc = R::vector(R::vector(acc[0], acc[1]), R::vector(acc[2], acc[3]));
        acc.to_array()[..n]
            .iter()
            .fold(R::IDENTITY, |a, &v| R::scalar(a, v))
    }
}
