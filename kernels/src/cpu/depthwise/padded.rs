//! One input plane copied into a padded, stride-split scratch plane, so a sliding-window kernel
//! (depthwise convolution, pooling) computes every output row with full-vector loads and no
//! border cases.
//!
//! * **Padding is materialised** with the caller's value (0 for sums, `-inf` for maxima): every
//!   tap of every output position reads a real element. It is written once per call; each
//!   plane then only overwrites the image positions.
//! * **Each row is split into `stride_w` phases**: padded column `c` is stored in phase
//!   `c % stride_w` at index `c / stride_w`. Tap offset `t` of output column `ox` reads padded
//!   column `ox·stride_w + t`, i.e. phase `t % stride_w`, index `ox + t / stride_w`: consecutive
//!   output columns read consecutive elements, so a stride-2 window is a stride-1 window over
//!   the phases (no gathers or shuffles in the inner loop; the split is paid once per input
//!   element here).
//! * **Slack past the end of each phase**, so the last vector of a row (computed in full, stored
//!   in part) reads inside the plane.
//!
//! Bound: with `oxv = round_up(out_w, lanes)`, a load at output column `ox < oxv` (a multiple of
//! `lanes`) for tap offset `t <= (kernel_w - 1)·dilation_w` reads indices up to
//! `oxv - 1 + t / stride_w < phase_len` of one phase of one padded row `< rows`: inside
//! [`PaddedLayout::len`].

use std::cell::Cell;

use crate::KernelError;

/// The window geometry along both axes, as the kernels see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) in_h: usize,
    pub(crate) in_w: usize,
    pub(crate) out_h: usize,
    pub(crate) out_w: usize,
    pub(crate) kernel_h: usize,
    pub(crate) kernel_w: usize,
    pub(crate) stride_h: usize,
    pub(crate) stride_w: usize,
    pub(crate) dilation_h: usize,
    pub(crate) dilation_w: usize,
    pub(crate) pad_top: usize,
    pub(crate) pad_left: usize,
}

/// Where each padded row and phase lives in the scratch plane.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PaddedLayout {
    window: Window,
    /// Padded rows held: the ones some output row reads.
    rows: usize,
    /// Elements per phase.
    phase_len: usize,
    /// `stride_w · phase_len`.
    row_len: usize,
}

impl PaddedLayout {
    /// The layout for `window` with vectors of `lanes`; `Err` if a size overflows. Requires
    /// `out_h, out_w >= 1` and strides, dilations, kernel sizes `>= 1`.
    pub(crate) fn new(window: Window, lanes: usize) -> Result<Self, KernelError> {
        let w = window;
        let overflow = || KernelError::invalid(format!("padded plane of {w:?} overflows usize"));
        let span = |n: usize, step: usize, k: usize, dil: usize| {
            (n - 1)
                .checked_mul(step)?
                .checked_add((k - 1).checked_mul(dil)?)?
                .checked_add(1)
        };
        let rows = span(w.out_h, w.stride_h, w.kernel_h, w.dilation_h).ok_or_else(overflow)?;
        let widest_tap = (w.kernel_w - 1)
            .checked_mul(w.dilation_w)
            .ok_or_else(overflow)?;
        let phase_len = w
            .out_w
            .checked_next_multiple_of(lanes)
            .and_then(|v| v.checked_add(widest_tap / w.stride_w))
            .ok_or_else(overflow)?;
        let row_len = phase_len.checked_mul(w.stride_w).ok_or_else(overflow)?;
        rows.checked_mul(row_len).ok_or_else(overflow)?;
        Ok(Self {
            window,
            rows,
            phase_len,
            row_len,
        })
    }

    /// Elements of the scratch plane.
    pub(crate) fn len(&self) -> usize {
        self.rows * self.row_len
    }

    /// Padded rows held (the ones some output row reads).
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Elements per padded row (`stride_w` phases).
    pub(crate) fn row_len(&self) -> usize {
        self.row_len
    }

    /// Distance between the padded rows of consecutive kernel rows.
    pub(crate) fn kernel_row(&self) -> usize {
        self.window.dilation_h * self.row_len
    }

    /// Offset of output row `oy`'s first tap row.
    pub(crate) fn output_row(&self, oy: usize) -> usize {
        oy * self.window.stride_h * self.row_len
    }

    /// Offset, from an output row's base, of tap `(ky, kx)` for output column 0.
    pub(crate) fn tap(&self, ky: usize, kx: usize) -> usize {
        let w = &self.window;
        let (t, s) = (kx * w.dilation_w, w.stride_w);
        ky * w.dilation_h * self.row_len + (t % s) * self.phase_len + t / s
    }

    /// Offset of phase `p` within a padded row.
    pub(crate) fn phase(&self, p: usize) -> usize {
        p * self.phase_len
    }

    /// Fills `scratch[..self.len()]` with the padding value. Once per call: [`Self::copy_image`]
    /// writes the same (image) positions for every plane, so the padding stays in place.
    pub(crate) fn pad(&self, scratch: &mut [f32], pad: f32) {
        scratch[..self.len()].fill(pad);
    }

    /// Writes `plane` (`in_h × in_w`, row-major) into the image positions of the padded,
    /// phase-split `scratch` (image rows and columns no output reads are skipped).
    #[inline(always)]
    pub(crate) fn copy_image(&self, plane: &[f32], scratch: &mut [f32]) {
        let w = &self.window;
        let image_rows = self.rows.saturating_sub(w.pad_top).min(w.in_h);
        for iy in 0..image_rows {
            let r = iy + w.pad_top;
            let row = &mut scratch[r * self.row_len..(r + 1) * self.row_len];
            self.copy_row(&plane[iy * w.in_w..(iy + 1) * w.in_w], row);
        }
    }

    /// One image row into the image positions of one padded row.
    #[inline(always)]
    fn copy_row(&self, src: &[f32], row: &mut [f32]) {
        let (s, left, len) = (self.window.stride_w, self.window.pad_left, self.phase_len);
        match s {
            1 => {
                // Columns past `row_len` are never read.
                let dst = from(row, left);
                let n = src.len().min(dst.len());
                dst[..n].copy_from_slice(&src[..n]);
            }
            2 => {
                // Even image columns land in phase `left % 2` from index `left / 2`, odd ones in
                // the other phase from `(left + 1) / 2`.
                let (phase0, phase1) = row.split_at_mut(len);
                let (evens, odds) = if left % 2 == 0 {
                    (from(phase0, left / 2), from(phase1, left / 2))
                } else {
                    (from(phase1, left / 2), from(phase0, left.div_ceil(2)))
                };
                deinterleave(src, evens, odds);
            }
            _ => {
                for (ix, &v) in src.iter().enumerate() {
                    let c = left + ix;
                    if c / s >= len {
                        break; // Never read.
                    }
                    row[(c % s) * len + c / s] = v;
                }
            }
        }
    }
}

/// `s[i..]`, empty when `i` is past the end (a padding wider than the row).
fn from(s: &mut [f32], i: usize) -> &mut [f32] {
    let i = i.min(s.len());
    &mut s[i..]
}

/// `evens[i] = src[2i]`, `odds[i] = src[2i + 1]` as far as each destination reaches (a plain
/// loop the compiler vectorises with the caller's target features).
#[inline(always)]
fn deinterleave(src: &[f32], evens: &mut [f32], odds: &mut [f32]) {
    let pairs = (src.len() / 2).min(evens.len()).min(odds.len());
    let (evens_head, odds_head) = (&mut evens[..pairs], &mut odds[..pairs]);
    for ((pair, e), o) in src[..2 * pairs]
        .chunks_exact(2)
        .zip(evens_head)
        .zip(odds_head)
    {
        *e = pair[0];
        *o = pair[1];
    }
    // The odd last element, or the pairs one destination has no room for (never read).
    for (i, &v) in src.iter().enumerate().skip(2 * pairs) {
        let dst = if i % 2 == 0 { &mut *evens } else { &mut *odds };
        if let Some(d) = dst.get_mut(i / 2) {
            *d = v;
        }
    }
}

thread_local! {
    /// The calling thread's scratch plane, kept between calls: a fresh allocation of a large
    /// plane per call costs page faults comparable to the convolution itself.
    static SCRATCH: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// The calling thread's scratch buffer, borrowed for one kernel call and handed back on drop.
///
/// A guard rather than a `with(|buf| ...)` closure: a closure is a function of its own, which
/// would not inherit the caller's `#[target_feature]`s and so would not inline the
/// intrinsics of the body it wraps.
pub(crate) struct Scratch(Vec<f32>);

impl Scratch {
    /// At least `len` elements with unspecified (initialised) contents. A nested call (a
    /// fused activation that uses a window kernel itself) gets a fresh buffer.
    pub(crate) fn take(len: usize) -> Self {
        let mut buf = SCRATCH.with(Cell::take);
        if buf.len() < len {
            buf.resize(len, 0.0);
        }
        Scratch(buf)
    }

    /// The buffer.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.0);
        // Keep the larger of this buffer and one a nested call may have left behind.
        SCRATCH.with(|slot| {
            let other = slot.take();
            slot.set(if other.len() > buf.len() { other } else { buf });
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(
        in_w: usize,
        out_w: usize,
        kernel_w: usize,
        stride_w: usize,
        pad_left: usize,
    ) -> Window {
        Window {
            in_h: 1,
            in_w,
            out_h: 1,
            out_w,
            kernel_h: 1,
            kernel_w,
            stride_h: 1,
            stride_w,
            dilation_h: 1,
            dilation_w: 1,
            pad_top: 0,
            pad_left,
        }
    }

    /// Every tap of every output column reads the padded column it should, for strides 1..=3
    /// and both parities of the left padding.
    #[test]
    fn taps_read_their_padded_column() {
        for stride in 1..=3 {
            for pad_left in 0..3 {
                let (in_w, k) = (11, 3);
                let out_w = (in_w + 2 * pad_left - k) / stride + 1;
                let layout =
                    PaddedLayout::new(window(in_w, out_w, k, stride, pad_left), 4).unwrap();
                let src: Vec<f32> = (0..in_w).map(|i| i as f32 + 1.0).collect();
                let mut scratch = vec![f32::NAN; layout.len()];
                layout.pad(&mut scratch, 0.0);
                layout.copy_image(&src, &mut scratch);
                for ox in 0..out_w {
                    for kx in 0..k {
                        let c = (ox * stride + kx) as isize - pad_left as isize;
                        let want = if (0..in_w as isize).contains(&c) {
                            c as f32 + 1.0
                        } else {
                            0.0
                        };
                        assert_eq!(
                            scratch[layout.tap(0, kx) + ox],
                            want,
                            "s{stride} p{pad_left} ox{ox} kx{kx}"
                        );
                    }
                }
            }
        }
    }
}
