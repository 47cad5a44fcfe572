//! Fast paths for the resizes models use: the last two axes (the rows and columns of each
//! plane) resampled, every other axis unchanged, no extrapolated positions.
//!
//! The per-axis taps come from [`axis_taps`], the same code as the general path, so the
//! coordinate and rounding rules cannot drift apart; only how they are applied differs:
//!
//! - **Nearest** (every position reads exactly one input position; any numeric dtype): each
//!   output row is a gather of one input row (for integer upscales, every element repeated
//!   `s` times), and an output row that reads the same input row as the one above it is a
//!   copy of that row. Pure copies: the general path's result for finite values, and the
//!   right one where its weighted sum `1·x + 0·y` is not (`-0` becomes `+0`, an infinite
//!   neighbour `y` gives NaN).
//! - **Linear** (two taps per position; f32): every needed input row is interpolated along
//!   the columns into a scratch plane once, then each output row blends two scratch rows, a
//!   loop the compiler vectorises. Computed in f32 rather than f64, so results differ from
//!   the general path by a few ulps.
//!
//! Planes are independent and split over threads; every plane is computed by the same code
//! whatever the split, so results do not depend on the thread count.

use super::{axis_taps, resampled_axes, AxisTaps};
use crate::backend::cpu::ops::Outputs;
use crate::backend::cpu::parallel::{for_each_chunk_mut, worker_count};
use crate::ir::ops::shape::resize::ResizePlan;
use crate::ir::ops::shape::ResizeAttrs;
use crate::tensor::{numel, TensorView};
use crate::{DType, Error, Result};

/// Below this many output elements per thread, waking a worker costs more than it saves.
const MIN_OUTPUTS_PER_THREAD: usize = 1 << 15;

/// How one axis samples its input, per output position.
enum Sampling {
    /// One input position each.
    Nearest(Vec<usize>),
    /// Two input positions each, with their weights.
    TwoTap(Vec<([usize; 2], [f32; 2])>),
}

impl Sampling {
    /// The sampling of `taps`, or `None` when no fast path applies to it.
    fn of(taps: &AxisTaps) -> Option<Sampling> {
        if taps.outside.iter().any(|&o| o) {
            return None;
        }
        let positions = taps
            .index
            .chunks_exact(taps.n)
            .zip(taps.weight.chunks_exact(taps.n));
        // Exactly one weight 1, the others 0.
        let one_hot = |(index, weight): (&[usize], &[f64])| {
            let mut picked = None;
            for (&i, &w) in index.iter().zip(weight) {
                if w == 1.0 && picked.is_none() {
                    picked = Some(i);
                } else if w != 0.0 {
                    return None;
                }
            }
            picked
        };
        if let Some(index) = positions.clone().map(one_hot).collect::<Option<Vec<_>>>() {
            return Some(Sampling::Nearest(index));
        }
        if taps.n != 2 {
            return None;
        }
        let pairs = positions
            .map(|(i, w)| ([i[0], i[1]], [w[0] as f32, w[1] as f32]))
            .collect();
        Some(Sampling::TwoTap(pairs))
    }

    /// An axis that is not resampled.
    fn identity(len: usize) -> Sampling {
        Sampling::Nearest((0..len).collect())
    }

    /// The same sampling as two taps (a nearest position reads itself with weight 1 and 0).
    fn into_two_tap(self) -> Vec<([usize; 2], [f32; 2])> {
        match self {
            Sampling::Nearest(index) => index.into_iter().map(|i| ([i, i], [1.0, 0.0])).collect(),
            Sampling::TwoTap(pairs) => pairs,
        }
    }

    /// Whether every input position read is below `len`.
    fn reads_within(&self, len: usize) -> bool {
        match self {
            Sampling::Nearest(index) => index.iter().all(|&i| i < len),
            Sampling::TwoTap(pairs) => pairs.iter().all(|(i, _)| i[0] < len && i[1] < len),
        }
    }
}

/// The geometry of a resize of planes: `planes` planes of `in_h x in_w` become `out_h x out_w`.
#[derive(Clone, Copy)]
struct Planes {
    planes: usize,
    in_h: usize,
    in_w: usize,
    out_h: usize,
    out_w: usize,
}

impl Planes {
    /// Checks that `src` and `dst` hold exactly the planes, so the loops cannot index out.
    fn check<T>(&self, src: &[T], dst: &[T]) -> Result<()> {
        if src.len() != self.planes * self.in_len() || dst.len() != self.planes * self.out_len() {
            return Err(Error::internal(format!(
                "Resize of {} planes {}x{} -> {}x{}: {} input and {} output elements",
                self.planes,
                self.in_h,
                self.in_w,
                self.out_h,
                self.out_w,
                src.len(),
                dst.len()
            )));
        }
        Ok(())
    }

    fn in_len(&self) -> usize {
        self.in_h * self.in_w
    }

    fn out_len(&self) -> usize {
        self.out_h * self.out_w
    }
}

/// Resizes `x` into output 0 when a fast path applies; `Ok(false)` (nothing written) when
/// it does not.
pub(super) fn resize(
    x: TensorView<'_>,
    plan: &ResizePlan,
    attrs: &ResizeAttrs,
    threads: usize,
    out: &mut Outputs,
) -> Result<bool> {
    let rank = x.shape.len();
    if rank < 2 || numel(x.shape) == 0 || numel(&plan.out_shape) == 0 {
        return Ok(false);
    }
    let (h, w) = (rank - 2, rank - 1);
    let resampled = resampled_axes(plan, x.shape);
    if resampled.iter().any(|&axis| axis != h && axis != w) {
        return Ok(false);
    }
    let sampling = |axis: usize| -> Result<Option<Sampling>> {
        if !resampled.contains(&axis) {
            return Ok(Some(Sampling::identity(x.shape[axis])));
        }
        let roi = plan.roi.as_ref().map(|r| r[axis]);
        let taps = axis_taps(
            attrs,
            x.shape[axis],
            plan.out_shape[axis],
            plan.scales[axis],
            roi,
        )?;
        Ok(Sampling::of(&taps))
    };
    let (Some(rows), Some(cols)) = (sampling(h)?, sampling(w)?) else {
        return Ok(false);
    };
    let geometry = Planes {
        planes: numel(&x.shape[..h]),
        in_h: x.shape[h],
        in_w: x.shape[w],
        out_h: plan.out_shape[h],
        out_w: plan.out_shape[w],
    };
    if !rows.reads_within(geometry.in_h) || !cols.reads_within(geometry.in_w) {
        return Err(Error::internal("Resize taps read outside the input"));
    }
    let workers = worker_count(
        threads,
        geometry.planes,
        geometry.planes * geometry.out_len(),
        MIN_OUTPUTS_PER_THREAD,
    );
    match (rows, cols) {
        (Sampling::Nearest(rows), Sampling::Nearest(cols)) => {
            crate::with_numeric_type!(x.dtype, T => {
                let src = x.as_slice::<T>()?;
                let mut y = out.alloc_uninit(0, x.dtype, &plan.out_shape)?;
                nearest(src, y.as_mut_slice::<T>()?, geometry, &rows, &cols, workers)?;
                Ok(true)
            }, _ => Ok(false))
        }
        (rows, cols) if x.dtype == DType::F32 => {
            let (rows, cols) = (rows.into_two_tap(), cols.into_two_tap());
            let src = x.as_slice::<f32>()?;
            let mut y = out.alloc_uninit(0, x.dtype, &plan.out_shape)?;
            linear(
                src,
                y.as_mut_slice::<f32>()?,
                geometry,
                &rows,
                &cols,
                workers,
            )?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Nearest-neighbour resize of every plane of `src` into `dst`: output `(y, x)` is input
/// `(rows[y], cols[x])`.
fn nearest<T: Copy + Send + Sync>(
    src: &[T],
    dst: &mut [T],
    g: Planes,
    rows: &[usize],
    cols: &[usize],
    workers: usize,
) -> Result<()> {
    g.check(src, dst)?;
    let columns = Columns::of(cols, g.in_w);
    for_each_chunk_mut(dst, g.out_len(), workers, |first, chunk| {
        for (p, plane) in chunk.chunks_exact_mut(g.out_len()).enumerate() {
            let input = &src[(first + p) * g.in_len()..][..g.in_len()];
            for (y, &r) in rows.iter().enumerate() {
                if y > 0 && rows[y - 1] == r {
                    // Upscaling repeats rows: copy the row just written.
                    plane.copy_within((y - 1) * g.out_w..y * g.out_w, y * g.out_w);
                } else {
                    let row = &mut plane[y * g.out_w..][..g.out_w];
                    columns.gather(&input[r * g.in_w..][..g.in_w], row);
                }
            }
        }
        Ok(())
    })
}

/// How one output row of a nearest resize is read from its input row.
enum Columns<'a> {
    /// Every input element `s` times in turn (integer upscales, and copies for `s` = 1).
    Repeat(usize),
    /// Output `x` is input `cols[x]`.
    Gather(&'a [usize]),
}

impl<'a> Columns<'a> {
    fn of(cols: &'a [usize], in_w: usize) -> Columns<'a> {
        let s = cols.len() / in_w;
        if s >= 1 && cols.len() == s * in_w && cols.iter().enumerate().all(|(x, &c)| c == x / s) {
            Columns::Repeat(s)
        } else {
            Columns::Gather(cols)
        }
    }

    fn gather<T: Copy>(&self, input: &[T], output: &mut [T]) {
        match *self {
            Columns::Repeat(1) => output.copy_from_slice(input),
            Columns::Repeat(2) => repeat_each::<T, 2>(input, output),
            Columns::Repeat(4) => repeat_each::<T, 4>(input, output),
            Columns::Repeat(8) => repeat_each::<T, 8>(input, output),
            Columns::Repeat(s) => {
                for (run, &v) in output.chunks_exact_mut(s).zip(input) {
                    run.fill(v);
                }
            }
            Columns::Gather(cols) => {
                for (o, &c) in output.iter_mut().zip(cols) {
                    *o = input[c];
                }
            }
        }
    }
}

/// `output` = every element of `input` `S` times; a constant `S` lets the compiler turn the
/// repeat into vector shuffles.
#[inline(always)]
fn repeat_each<T: Copy, const S: usize>(input: &[T], output: &mut [T]) {
    for (run, &v) in output.chunks_exact_mut(S).zip(input) {
        run.copy_from_slice(&[v; S]);
    }
}

/// Bilinear (any two-tap) resize of every plane of `src` into `dst`: output `(y, x)` is the
/// blend of the input rows `rows[y]` of the blend of the input columns `cols[x]`.
fn linear(
    src: &[f32],
    dst: &mut [f32],
    g: Planes,
    rows: &[([usize; 2], [f32; 2])],
    cols: &[([usize; 2], [f32; 2])],
    workers: usize,
) -> Result<()> {
    g.check(src, dst)?;
    // Input rows no output row reads (downscales) are never interpolated.
    let mut needed = vec![false; g.in_h];
    for (i, _) in rows {
        needed[i[0]] = true;
        needed[i[1]] = true;
    }
    for_each_chunk_mut(dst, g.out_len(), workers, |first, chunk| {
        // The input rows of one plane interpolated along the columns: `in_h x out_w`.
        let mut scratch = vec![0.0f32; g.in_h * g.out_w];
        for (p, plane) in chunk.chunks_exact_mut(g.out_len()).enumerate() {
            let input = &src[(first + p) * g.in_len()..][..g.in_len()];
            let scratch_rows = scratch.chunks_exact_mut(g.out_w);
            for ((row, interpolated), &needed) in
                input.chunks_exact(g.in_w).zip(scratch_rows).zip(&needed)
            {
                if needed {
                    for (o, &([c0, c1], [w0, w1])) in interpolated.iter_mut().zip(cols) {
                        *o = w0 * row[c0] + w1 * row[c1];
                    }
                }
            }
            for (out_row, &([r0, r1], [w0, w1])) in plane.chunks_exact_mut(g.out_w).zip(rows) {
                let above = &scratch[r0 * g.out_w..][..g.out_w];
                let below = &scratch[r1 * g.out_w..][..g.out_w];
                for ((o, &a), &b) in out_row.iter_mut().zip(above).zip(below) {
                    *o = w0 * a + w1 * b;
                }
            }
        }
        Ok(())
    })
}
