//! The vectorised quantized depthwise body, written once over [`QLanes`] and instantiated by
//! each ISA's `#[target_feature]` wrapper.
//!
//! Per channel:
//! 1. the plane is written as `i16` `(x − zx)` into a padded, stride-split *row plane* `S`
//!    (geometry of [`PaddedLayout`]: padding is 0 there, which is exactly "the tap reads the
//!    zero point"; the padding is written once per call, each channel overwrites the image);
//! 2. the *pair plane* `P` interleaves padded rows `r` and `r + dilation_h` of `S`
//!    (`P[r][k] = S[r][k] | S[r + dh][k] << 16`), for the rows `r` that start a pair of kernel
//!    rows of some output row;
//! 3. each output vector is `Σ_pairs Σ_kx madd(P[tap], (w[ky][kx], w[ky+1][kx]))` — full-vector
//!    loads at fixed offsets of consecutive output columns (a missing last kernel row gets
//!    weight 0) — then converted and stored (the last vector of a row in part).
//!
//! Integer sums are exact (wrapping), so the result is bit-identical to the reference whatever
//! the order; 3×3 and 5×5 kernels get unrolled loops with the weights in registers.

use std::cell::Cell;
use std::ops::Range;

use super::lanes::QLanes;
use super::{QDepthwise, QDepthwiseOut};
use crate::cpu::depthwise::padded::PaddedLayout;
use crate::KernelError;

/// Runs a call that passed [`super::validate`] with output size `(out_h, out_w)`.
///
/// # Safety
///
/// The CPU supports `L`'s ISA, and `q`/`y` passed [`super::validate`].
#[inline(always)]
pub(crate) unsafe fn qdepthwise<L: QLanes>(
    q: &QDepthwise<'_>,
    out_h: usize,
    out_w: usize,
    y: QDepthwiseOut<'_>,
) -> Result<(), KernelError> {
    let p = &q.params;
    if p.channels == 0 || out_h == 0 || out_w == 0 {
        return Ok(());
    }
    let layout = PaddedLayout::new(p.window(out_h, out_w), L::LANES)?;
    let (rows, row_len, dh) = (layout.rows(), layout.row_len(), p.dilation_h);
    let s_len = rows
        .checked_add(dh)
        .and_then(|r| r.checked_mul(row_len))
        .ok_or_else(|| KernelError::invalid("qdepthwise: padded plane overflows usize"))?;
    let p_len = layout.len();
    let mut guard = Scratch::take(s_len, p_len);
    let (s_plane, pair_plane) = guard.planes(s_len, p_len);
    s_plane.fill(0);
    let runs = row_runs(q, out_h);
    // The rows of `P` some output row reads: `oy·sh + ky·dh` for the first kernel row of each
    // of its pairs.
    let mut needed = vec![false; rows];
    for run in &runs {
        for oy in run.rows.clone() {
            for i in 0..run.pairs {
                needed[oy * p.stride_h + (run.ky_lo + 2 * i) * dh] = true;
            }
        }
    }
    let all_needed = needed.iter().all(|&n| n);
    let (kh, kw) = (p.kernel_h, p.kernel_w);
    let (in_plane, taps, out_plane) = (p.in_h * p.in_w, kh * kw, out_h * out_w);
    // Pair taps by the parity of their first kernel row: `(offset from the output row's
    // base, weight pair)` for ky = parity, parity + 2, ... A run starting at `ky_lo` uses the
    // entries of parity `ky_lo % 2` from pair `ky_lo / 2` on.
    let offsets: [Vec<usize>; 2] = [0, 1].map(|parity| {
        (parity..kh)
            .step_by(2)
            .flat_map(|ky| (0..kw).map(move |kx| (ky, kx)))
            .map(|(ky, kx)| layout.tap(ky, kx))
            .collect()
    });
    // Weight pairs of parity 0 (kernel rows 0, 2, ...) come first in each channel's table.
    let even_pairs = kh.div_ceil(2) * kw;
    let mut y = y;
    for c in 0..p.channels {
        fill_rows(q, &layout, &q.x[c * in_plane..(c + 1) * in_plane], s_plane);
        if all_needed {
            // One long loop rather than one short loop per row (small planes).
            pair_rows(s_plane, dh * row_len, pair_plane);
        } else {
            for (r, _) in needed.iter().enumerate().filter(|(_, &n)| n) {
                let rows = &s_plane[r * row_len..(r + dh + 1) * row_len];
                pair_rows(
                    rows,
                    dh * row_len,
                    &mut pair_plane[r * row_len..(r + 1) * row_len],
                );
            }
        }
        let channel_pairs = &q.w_pairs[c * taps..(c + 1) * taps];
        let pairs = channel_pairs.split_at(even_pairs);
        let pairs = [pairs.0, pairs.1];
        let (bias, scale) = (q.bias.get(c).copied().unwrap_or(0), q.scale[c]);
        let range = c * out_plane..(c + 1) * out_plane;
        let plane = Plane {
            layout: &layout,
            pairs: pair_plane,
            out_w,
            kw,
        };
        let (zero_point, lo, hi) = match &y {
            QDepthwiseOut::U8 {
                zero_point, lo, hi, ..
            } => (*zero_point, *lo, *hi),
            QDepthwiseOut::F32 { .. } => (0, 0, 0),
        };
        // SAFETY: `L`'s ISA per the caller.
        let k = unsafe { L::consts(bias, scale, zero_point, lo, hi) };
        let dst = match &mut y {
            QDepthwiseOut::U8 { y, .. } => Dst::U8(y[range].as_mut_ptr()),
            QDepthwiseOut::F32 { y } => Dst::F32(y[range].as_mut_ptr()),
        };
        for run in &runs {
            let (parity, first) = (run.ky_lo % 2, run.ky_lo / 2 * kw);
            let taps = first..first + run.pairs * kw;
            // SAFETY: `L`'s ISA per the caller; `plane` was filled for this layout, with every
            // pair row this run reads (`needed`); the output pointer covers `out_plane`
            // elements (`validate` checked y's length); `taps` lies inside both tables
            // (`row_runs`).
            unsafe {
                plane.run::<L>(
                    run.rows.clone(),
                    &offsets[parity][taps.clone()],
                    &pairs[parity][taps],
                    &k,
                    dst,
                )
            };
        }
    }
    Ok(())
}

/// Consecutive output rows whose kernel rows reach the image in the same way: rows
/// `ky_lo..ky_lo + 2·pairs` of the kernel (the last one possibly past the image or the kernel)
/// are the ones computed. Kernel rows that only read top or bottom padding are skipped: on the
/// short planes of mobile networks (2 or 3 image rows under a 5×5 kernel), most of them are.
#[derive(Clone, Debug, PartialEq, Eq)]
struct RowRun {
    rows: Range<usize>,
    ky_lo: usize,
    pairs: usize,
}

/// The output rows of `q` grouped into [`RowRun`]s, top to bottom.
fn row_runs(q: &QDepthwise<'_>, out_h: usize) -> Vec<RowRun> {
    let p = &q.params;
    let mut runs: Vec<RowRun> = Vec::new();
    for oy in 0..out_h {
        // Kernel row `ky` reads padded row `base + ky·dh`, the image when it lies in
        // `pad_top .. pad_top + in_h`.
        let base = oy * p.stride_h;
        let ky_lo = p.pad_top.saturating_sub(base).div_ceil(p.dilation_h);
        let ky_hi = (p.pad_top + p.in_h)
            .saturating_sub(base)
            .div_ceil(p.dilation_h)
            .min(p.kernel_h);
        let (ky_lo, pairs) = if ky_hi > ky_lo {
            (ky_lo, (ky_hi - ky_lo).div_ceil(2))
        } else {
            (0, 0) // Only padding: the output is the bias.
        };
        match runs.last_mut() {
            Some(run) if run.ky_lo == ky_lo && run.pairs == pairs => run.rows.end = oy + 1,
            _ => runs.push(RowRun {
                rows: oy..oy + 1,
                ky_lo,
                pairs,
            }),
        }
    }
    runs
}

/// `dst[i] = pair(s[i], s[i + distance])` for every `i` of `dst` (`s` holds at least
/// `dst.len() + distance` elements): padded rows paired with the rows `dilation_h` below.
#[inline(always)]
fn pair_rows(s: &[i16], distance: usize, dst: &mut [u32]) {
    let (top, bottom) = (&s[..dst.len()], &s[distance..distance + dst.len()]);
    for ((d, &t), &b) in dst.iter_mut().zip(top).zip(bottom) {
        *d = pair(t, b);
    }
}

/// Two `i16` as one `u32`, `low` in the low half.
#[inline(always)]
fn pair(low: i16, high: i16) -> u32 {
    low as u16 as u32 | (high as u16 as u32) << 16
}

/// One channel's output plane.
#[derive(Clone, Copy)]
enum Dst {
    U8(*mut u8),
    F32(*mut f32),
}

/// One channel, its pair plane filled.
struct Plane<'a> {
    layout: &'a PaddedLayout,
    pairs: &'a [u32],
    out_w: usize,
    kw: usize,
}

impl Plane<'_> {
    /// Output rows `rows`, each the sum over the pair taps `offsets` (`kw` per pair of kernel
    /// rows) with weights `pairs`; picks the loop for the kernel width, pair count and output
    /// type.
    ///
    /// # Safety
    ///
    /// `L`'s ISA is available; the layout was built for this geometry with `L::LANES`, so every
    /// `base + offset + ox` load lies inside the pair plane (see `padded.rs`); `dst` is valid
    /// for `out_h · out_w` elements.
    #[inline(always)]
    unsafe fn run<L: QLanes>(
        &self,
        rows: Range<usize>,
        offsets: &[usize],
        pairs: &[u32],
        k: &L::K,
        dst: Dst,
    ) {
        // SAFETY: per this function's contract.
        unsafe {
            match dst {
                Dst::U8(d) => self.run_typed::<L, false>(rows, offsets, pairs, k, d),
                Dst::F32(d) => self.run_typed::<L, true>(rows, offsets, pairs, k, d.cast()),
            }
        }
    }

    /// [`Plane::run`] for one output type (`dst` is `*mut f32` if `F32`, else `*mut u8`).
    ///
    /// # Safety
    ///
    /// As for [`Plane::run`].
    #[inline(always)]
    unsafe fn run_typed<L: QLanes, const F32: bool>(
        &self,
        rows: Range<usize>,
        offsets: &[usize],
        pairs: &[u32],
        k: &L::K,
        d: *mut u8,
    ) {
        let np = offsets.len() / self.kw;
        // SAFETY: per this function's contract.
        unsafe {
            match (self.kw, np) {
                (3, 1) => self.rows_fixed::<L, 1, 3, F32>(rows, offsets, pairs, k, d),
                (3, 2) => self.rows_fixed::<L, 2, 3, F32>(rows, offsets, pairs, k, d),
                (5, 1) => self.rows_fixed::<L, 1, 5, F32>(rows, offsets, pairs, k, d),
                (5, 2) => self.rows_fixed::<L, 2, 5, F32>(rows, offsets, pairs, k, d),
                (5, 3) => self.rows_fixed::<L, 3, 5, F32>(rows, offsets, pairs, k, d),
                _ => self.rows_generic::<L, F32>(rows, offsets, pairs, k, d),
            }
        }
    }

    /// `NP` pairs of kernel rows × `KW` columns, unrolled, weights in registers, one
    /// accumulator per pair. `dst` is `*mut f32` if `F32`, else `*mut u8`.
    ///
    /// # Safety
    ///
    /// As for [`Plane::run`]; `offsets`/`pairs` hold `NP · KW` entries.
    #[inline(always)]
    unsafe fn rows_fixed<L: QLanes, const NP: usize, const KW: usize, const F32: bool>(
        &self,
        rows: Range<usize>,
        offsets: &[usize],
        pairs: &[u32],
        k: &L::K,
        dst: *mut u8,
    ) {
        debug_assert_eq!(offsets.len(), NP * KW);
        // SAFETY: per this function's contract.
        unsafe {
            let mut w = [[L::weights(0); KW]; NP];
            let mut off = [[0usize; KW]; NP];
            for p in 0..NP {
                for kx in 0..KW {
                    w[p][kx] = L::weights(pairs[p * KW + kx]);
                    off[p][kx] = offsets[p * KW + kx];
                }
            }
            let ow = self.out_w;
            let full = ow / L::LANES * L::LANES;
            for oy in rows.clone() {
                let base = self.pairs.as_ptr().add(self.layout.output_row(oy));
                let mut ox = 0;
                while ox < ow {
                    // Two accumulators per pair (even and odd kernel columns): the chains of
                    // dependent multiply-adds are half as long, which matters on short planes
                    // where little other work hides their latency.
                    let mut acc = [[L::zero(); 2]; NP];
                    for p in 0..NP {
                        for kx in 0..KW {
                            let a = &mut acc[p][kx % 2];
                            *a = a.madd(base.add(off[p][kx] + ox), w[p][kx]);
                        }
                    }
                    let mut total = acc[0][0].add(acc[0][1]);
                    for a in &acc[1..] {
                        total = total.add(a[0].add(a[1]));
                    }
                    let n = if ox < full { L::LANES } else { ow - ox };
                    store::<L, F32>(total, k, dst, oy * ow + ox, n);
                    ox += L::LANES;
                }
            }
        }
    }

    /// Any kernel size, from the tap tables, four accumulators round-robin.
    ///
    /// # Safety
    ///
    /// As for [`Plane::run`].
    #[inline(always)]
    unsafe fn rows_generic<L: QLanes, const F32: bool>(
        &self,
        rows: Range<usize>,
        offsets: &[usize],
        pairs: &[u32],
        k: &L::K,
        dst: *mut u8,
    ) {
        // SAFETY: per this function's contract.
        unsafe {
            let mut w = Vec::with_capacity(pairs.len());
            for &pw in pairs {
                w.push(L::weights(pw));
            }
            let ow = self.out_w;
            let full = ow / L::LANES * L::LANES;
            for oy in rows.clone() {
                let base = self.pairs.as_ptr().add(self.layout.output_row(oy));
                let mut ox = 0;
                while ox < ow {
                    let mut acc = [L::zero(); 4];
                    for (i, (&o, &wv)) in offsets.iter().zip(&w).enumerate() {
                        acc[i % 4] = acc[i % 4].madd(base.add(o + ox), wv);
                    }
                    let total = acc[0].add(acc[1]).add(acc[2].add(acc[3]));
                    let n = if ox < full { L::LANES } else { ow - ox };
                    store::<L, F32>(total, k, dst, oy * ow + ox, n);
                    ox += L::LANES;
                }
            }
        }
    }
}

/// Stores `n` lanes of `acc` at element `at` of `dst` (`f32` elements if `F32`, else bytes).
///
/// # Safety
///
/// `L`'s ISA; `dst` valid for `at + n` elements of its type.
#[inline(always)]
unsafe fn store<L: QLanes, const F32: bool>(acc: L, k: &L::K, dst: *mut u8, at: usize, n: usize) {
    // SAFETY: per this function's contract.
    unsafe {
        if F32 {
            acc.store_f32(k, dst.cast::<f32>().add(at), n);
        } else {
            acc.store_q8(k, dst.add(at), n);
        }
    }
}

/// Writes `plane` (`in_h × in_w` raw bytes) as `i16` `(x − zx)` into the image positions of the
/// padded, stride-split row plane `s` (rows `layout.rows() + dilation_h`; image rows and columns
/// no output reads are skipped).
#[inline(always)]
fn fill_rows(q: &QDepthwise<'_>, layout: &PaddedLayout, plane: &[u8], s: &mut [i16]) {
    let p = &q.params;
    let row_len = layout.row_len();
    let s_rows = s.len() / row_len;
    let image_rows = s_rows.saturating_sub(p.pad_top).min(p.in_h);
    let phase_len = row_len / p.stride_w;
    for iy in 0..image_rows {
        let r = iy + p.pad_top;
        let row = &mut s[r * row_len..(r + 1) * row_len];
        let src = &plane[iy * p.in_w..(iy + 1) * p.in_w];
        if q.x_signed {
            copy_row::<true>(src, q.x_zero_point, p.stride_w, p.pad_left, phase_len, row);
        } else {
            copy_row::<false>(src, q.x_zero_point, p.stride_w, p.pad_left, phase_len, row);
        }
    }
}

/// `(x − zx)` as `i16` (fits: both within one 8-bit type's range).
#[inline(always)]
fn centred<const SIGNED: bool>(b: u8, zx: i32) -> i16 {
    let v = if SIGNED { b as i8 as i16 } else { b as i16 };
    v - zx as i16
}

/// One image row into the image positions of one padded row (padded column `c` in phase
/// `c % stride` at index `c / stride`).
#[inline(always)]
fn copy_row<const SIGNED: bool>(
    src: &[u8],
    zx: i32,
    stride: usize,
    left: usize,
    phase_len: usize,
    row: &mut [i16],
) {
    match stride {
        1 => {
            let dst = &mut row[left.min(phase_len)..];
            for (d, &b) in dst.iter_mut().zip(src) {
                *d = centred::<SIGNED>(b, zx);
            }
        }
        2 => {
            // Even image columns land in phase `left % 2` from index `left / 2`, odd ones in
            // the other phase from `(left + 1) / 2`.
            let (phase0, phase1) = row.split_at_mut(phase_len);
            let (evens, odds) = if left % 2 == 0 {
                (tail(phase0, left / 2), tail(phase1, left / 2))
            } else {
                (tail(phase1, left / 2), tail(phase0, left.div_ceil(2)))
            };
            let pairs = (src.len() / 2).min(evens.len()).min(odds.len());
            for ((two, e), o) in src[..2 * pairs]
                .chunks_exact(2)
                .zip(&mut evens[..pairs])
                .zip(&mut odds[..pairs])
            {
                *e = centred::<SIGNED>(two[0], zx);
                *o = centred::<SIGNED>(two[1], zx);
            }
            // The odd last element, or columns one phase has no room for (never read).
            for (i, &b) in src.iter().enumerate().skip(2 * pairs) {
                let dst = if i % 2 == 0 { &mut *evens } else { &mut *odds };
                if let Some(d) = dst.get_mut(i / 2) {
                    *d = centred::<SIGNED>(b, zx);
                }
            }
        }
        _ => {
            for (ix, &b) in src.iter().enumerate() {
                let c = left + ix;
                if c / stride >= phase_len {
                    break; // Never read.
                }
                row[(c % stride) * phase_len + c / stride] = centred::<SIGNED>(b, zx);
            }
        }
    }
}

/// `s[i..]`, empty when `i` is past the end (a padding wider than the row).
fn tail(s: &mut [i16], i: usize) -> &mut [i16] {
    let i = i.min(s.len());
    &mut s[i..]
}

thread_local! {
    /// The calling thread's row and pair planes, kept between calls (a fresh allocation of a
    /// large plane per call costs page faults comparable to the convolution itself).
    static SCRATCH: Cell<(Vec<i16>, Vec<u32>)> = const { Cell::new((Vec::new(), Vec::new())) };
}

/// The calling thread's planes, borrowed for one call and handed back on drop (a guard, not a
/// closure: a closure would not inherit the caller's target features).
struct Scratch(Vec<i16>, Vec<u32>);

impl Scratch {
    fn take(s_len: usize, p_len: usize) -> Self {
        let (mut s, mut p) = SCRATCH.with(Cell::take);
        if s.len() < s_len {
            s.resize(s_len, 0);
        }
        if p.len() < p_len {
            p.resize(p_len, 0);
        }
        Scratch(s, p)
    }

    fn planes(&mut self, s_len: usize, p_len: usize) -> (&mut [i16], &mut [u32]) {
        (&mut self.0[..s_len], &mut self.1[..p_len])
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let planes = (std::mem::take(&mut self.0), std::mem::take(&mut self.1));
        SCRATCH.with(|slot| slot.set(planes));
    }
}
