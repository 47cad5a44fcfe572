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
    // The rows of `P` some output row reads: `oy·sh + ky·dh` for even `ky`.
    let mut needed = vec![false; rows];
    for oy in 0..out_h {
        for ky in (0..p.kernel_h).step_by(2) {
            needed[oy * p.stride_h + ky * dh] = true;
        }
    }
    let all_needed = needed.iter().all(|&n| n);
    let (kh, kw) = (p.kernel_h, p.kernel_w);
    let (in_plane, taps, out_plane) = (p.in_h * p.in_w, kh * kw, out_h * out_w);
    // Pair taps: `(offset from the output row's base, weight pair)` for ky = 0, 2, 4, ...
    let mut offsets = Vec::with_capacity(kh.div_ceil(2) * kw);
    for ky in (0..kh).step_by(2) {
        for kx in 0..kw {
            offsets.push(layout.tap(ky, kx));
        }
    }
    let mut pairs = vec![0u32; offsets.len()];
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
        let w = &q.w[c * taps..(c + 1) * taps];
        // Row by row, not by dividing a flat index: a division per tap per channel cost a
        // sixth of the time on small planes.
        let mut slots = pairs.iter_mut();
        for ky in (0..kh).step_by(2) {
            let (row, below) = (
                &w[ky * kw..(ky + 1) * kw],
                w.get((ky + 1) * kw..(ky + 2) * kw),
            );
            for (kx, slot) in slots.by_ref().take(kw).enumerate() {
                *slot = pair(row[kx], below.map_or(0, |b| b[kx]));
            }
        }
        let (bias, scale) = (q.bias.get(c).copied().unwrap_or(0), q.scale[c]);
        let range = c * out_plane..(c + 1) * out_plane;
        let plane = Plane {
            layout: &layout,
            pairs: pair_plane,
            out_h,
            out_w,
        };
        // SAFETY: `L`'s ISA per the caller; `plane` was filled for this layout; the output
        // pointers cover `out_plane` elements (`validate` checked y's length).
        unsafe {
            match &mut y {
                QDepthwiseOut::U8 {
                    y,
                    zero_point,
                    lo,
                    hi,
                    ..
                } => {
                    let k = L::consts(bias, scale, *zero_point, *lo, *hi);
                    let dst = Dst::U8(y[range].as_mut_ptr());
                    plane.run::<L>(kh, kw, &offsets, &pairs, &k, dst);
                }
                QDepthwiseOut::F32 { y } => {
                    let k = L::consts(bias, scale, 0, 0, 0);
                    let dst = Dst::F32(y[range].as_mut_ptr());
                    plane.run::<L>(kh, kw, &offsets, &pairs, &k, dst);
                }
            }
        }
    }
    Ok(())
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
    out_h: usize,
    out_w: usize,
}

impl Plane<'_> {
    /// Picks the loop for the kernel size and output type.
    ///
    /// # Safety
    ///
    /// `L`'s ISA is available; the layout was built for this geometry with `L::LANES`, so every
    /// `base + offset + ox` load lies inside the pair plane (see `padded.rs`); `dst` is valid
    /// for `out_h · out_w` elements.
    #[inline(always)]
    unsafe fn run<L: QLanes>(
        &self,
        kh: usize,
        kw: usize,
        offsets: &[usize],
        pairs: &[u32],
        k: &L::K,
        dst: Dst,
    ) {
        // SAFETY: per this function's contract.
        unsafe {
            match (kh, kw, dst) {
                (3, 3, Dst::U8(d)) => {
                    self.rows_fixed::<L, 2, 3, false>(offsets, pairs, k, d.cast())
                }
                (3, 3, Dst::F32(d)) => {
                    self.rows_fixed::<L, 2, 3, true>(offsets, pairs, k, d.cast())
                }
                (5, 5, Dst::U8(d)) => {
                    self.rows_fixed::<L, 3, 5, false>(offsets, pairs, k, d.cast())
                }
                (5, 5, Dst::F32(d)) => {
                    self.rows_fixed::<L, 3, 5, true>(offsets, pairs, k, d.cast())
                }
                (_, _, Dst::U8(d)) => self.rows_generic::<L, false>(offsets, pairs, k, d.cast()),
                (_, _, Dst::F32(d)) => self.rows_generic::<L, true>(offsets, pairs, k, d.cast()),
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
            for oy in 0..self.out_h {
                let base = self.pairs.as_ptr().add(self.layout.output_row(oy));
                let mut ox = 0;
                while ox < ow {
                    let mut acc = [L::zero(); NP];
                    for p in 0..NP {
                        for kx in 0..KW {
                            acc[p] = acc[p].madd(base.add(off[p][kx] + ox), w[p][kx]);
                        }
                    }
                    let mut total = acc[0];
                    for a in &acc[1..] {
                        total = total.add(*a);
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
            for oy in 0..self.out_h {
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
