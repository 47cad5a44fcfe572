//! The direct convolution on AVX-512: a register tile of 12 output channels × 32 output
//! positions of one row (two zmm per channel).
//!
//! Why 12 × 32: the 24 accumulators, the two input vectors and one broadcast weight fit the 32
//! zmm registers, and each step (one input channel, one tap) issues 2 input loads and 12
//! weight broadcasts for 24 FMAs: the FMA ports, not the loads, set the pace. The input vectors
//! are loaded straight from the image with masks that zero the lanes falling in the padding or
//! past the row, so nothing is copied or packed per call. Rows of taps falling in the vertical
//! padding are skipped.
//!
//! With a horizontal stride `s > 1`, the tile's lanes read every `s`-th input column: the
//! input rows the call needs are first copied split by column phase (`x[.., c]` to phase
//! `c mod s`, position `c div s`), after which each tap again reads consecutive elements. Only
//! first layers use such strides (3 input channels), so the copy is small.

use std::arch::x86_64::*;
use std::cell::RefCell;
use std::ops::Range;

use super::{reference, validate, DirectConvParams, PackedConvWeights};
use crate::cpu::matmul::post::apply_to_block;
use crate::cpu::matmul::{ColumnBlock, PostOp};
use crate::cpu::{table, CpuFeatures, Isa};
use crate::KernelError;

/// Output channels per register tile: the block weights are packed for.
pub(crate) const OC_BLOCK: usize = 12;
/// f32 lanes of a zmm.
const LANES: usize = 16;
/// Output positions per register tile.
const POSITIONS: usize = 2 * LANES;
/// The widest kernel with precomputed load masks; wider ones (rare) run the reference.
const MAX_KERNEL_W: usize = 16;

/// [`super::DirectConvFn`] on AVX-512.
pub(crate) fn direct_conv(
    p: &DirectConvParams,
    x: &[f32],
    w: &PackedConvWeights,
    mut c: ColumnBlock<'_>,
    post: &[PostOp<'_>],
) -> Result<(), KernelError> {
    let (_, out_w) = validate(p, x, w, &c, post)?;
    if !CpuFeatures::detect().supports(Isa::Avx512) {
        return Err(KernelError::unsupported(
            "direct_conv_f32_avx512: this CPU lacks Avx512",
        ));
    }
    if w.block() != OC_BLOCK || p.kernel_w > MAX_KERNEL_W {
        return reference::direct_conv(p, x, w, c, post);
    }
    let cols = c.columns();
    if cols.is_empty() || w.out_channels() == 0 {
        return Ok(());
    }
    if p.stride_w == 1 {
        return tiles(p, Rows::image(p, x), w, &mut c, cols, post, out_w);
    }
    // A band of output rows at a time: the input rows it reads, split by column phase, stay
    // in L2 while its tiles run.
    let mut buf = SPLIT.with(|cell| cell.take());
    let mut start = cols.start;
    let result = loop {
        if start >= cols.end {
            break Ok(());
        }
        let first_oy = start / out_w;
        let end = cols.end.min((first_oy + SPLIT_BAND_ROWS) * out_w);
        let last_oy = (end - 1) / out_w;
        let rows = (first_oy * p.stride_h)
            .saturating_sub(p.pad_top)
            .min(p.in_h)
            ..(last_oy * p.stride_h + p.kernel_h)
                .saturating_sub(p.pad_top)
                .min(p.in_h);
        let input = Rows::split(p, x, rows, &mut buf);
        if let Err(e) = tiles(p, input, w, &mut c, start..end, post, out_w) {
            break Err(e);
        }
        start = end;
    };
    SPLIT.with(|cell| cell.replace(buf));
    result
}

/// Output rows per band of a strided conv (see [`direct_conv`]): PP-OCR det's first layer
/// reads 3 channels × 17 rows × 640 columns (130 KiB) per band.
const SPLIT_BAND_ROWS: usize = 8;

thread_local! {
    /// The calling thread's buffer for phase-split rows, kept between calls (taken out while
    /// in use).
    static SPLIT: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Every register tile of columns `cols` (inside the block), in output order.
fn tiles(
    p: &DirectConvParams,
    rows: Rows<'_>,
    w: &PackedConvWeights,
    c: &mut ColumnBlock<'_>,
    cols: Range<usize>,
    post: &[PostOp<'_>],
    out_w: usize,
) -> Result<(), KernelError> {
    // The bias is the accumulators' start value; the other post-ops run on each stored tile
    // while it is in L1.
    let (bias, post) = match post.split_first() {
        Some((PostOp::BiasPerRow(b), rest)) => (Some(*b), rest),
        _ => (None, post),
    };
    let activate = table().activate;
    let blocks = w.out_channels().div_ceil(OC_BLOCK);
    let mut j = cols.start;
    while j < cols.end {
        let (oy, row_start) = (j / out_w, j % out_w);
        let row_end = out_w.min(row_start + (cols.end - j));
        let mut ox = row_start;
        while ox < row_end {
            let width = POSITIONS.min(row_end - ox);
            let col = oy * out_w + ox;
            for b in 0..blocks {
                let o0 = b * OC_BLOCK;
                let rows_here = OC_BLOCK.min(w.out_channels() - o0);
                let (ptr, ldc) = c.tile_ptr(o0, col, rows_here, width).ok_or_else(|| {
                    KernelError::out_of_bounds("direct conv: tile outside C (validated before)")
                })?;
                let tile = Tile {
                    oy,
                    ox,
                    width,
                    rows: rows_here,
                    bias: bias.map(|b| &b[o0..o0 + rows_here]),
                    prefetch: b == 0,
                };
                // SAFETY: AVX-512 checked by the caller; `validate` checked `x` and the
                // weights against `p`, and `rows` holds every input row of this block's output
                // rows; `tile_ptr` checked that the `rows × width` tile at `ptr` (row stride
                // `ldc`) lies inside C; `oy < out_h`, `ox + width <= out_w`.
                unsafe { tile.run(p, &rows, w.block_data(b), ptr, ldc) };
                apply_to_block(c, o0, rows_here, col, width, post, activate);
            }
            ox += width;
        }
        j += row_end - row_start;
    }
    Ok(())
}

/// Where tiles read input rows: the image itself, or some of its rows split by column phase.
/// Row `iy` (absolute), phase `φ`, position `j` is `data[ic·channel_stride + (iy − first_row)
/// · row_stride + φ·phase_stride + j]`, holding image column `j·stride_w + φ`.
struct Rows<'a> {
    data: &'a [f32],
    first_row: usize,
    end_row: usize,
    channel_stride: usize,
    row_stride: usize,
    phase_stride: usize,
}

impl<'a> Rows<'a> {
    /// The image as it is (stride 1: one phase).
    fn image(p: &DirectConvParams, x: &'a [f32]) -> Self {
        Rows {
            data: x,
            first_row: 0,
            end_row: p.in_h,
            channel_stride: p.in_h * p.in_w,
            row_stride: p.in_w,
            phase_stride: 0,
        }
    }

    /// Image rows `rows` of every channel copied into `buf`, split by column phase.
    fn split(p: &DirectConvParams, x: &[f32], rows: Range<usize>, buf: &'a mut Vec<f32>) -> Self {
        let s = p.stride_w;
        let phase_stride = p.in_w.div_ceil(s);
        let row_stride = s * phase_stride;
        let channel_stride = rows.len() * row_stride;
        let len = p.in_channels * channel_stride;
        if buf.len() < len {
            buf.resize(len, 0.0);
        }
        for ic in 0..p.in_channels {
            for (r, iy) in rows.clone().enumerate() {
                let src = &x[(ic * p.in_h + iy) * p.in_w..][..p.in_w];
                let dst = &mut buf[ic * channel_stride + r * row_stride..][..row_stride];
                for (phase, dst) in dst.chunks_exact_mut(phase_stride).enumerate() {
                    let column = src.iter().skip(phase).step_by(s);
                    dst.iter_mut().zip(column).for_each(|(d, &v)| *d = v);
                }
            }
        }
        Rows {
            data: &buf[..len],
            first_row: rows.start,
            end_row: rows.end,
            channel_stride,
            row_stride,
            phase_stride,
        }
    }
}

/// One register tile: output row `oy`, positions `ox .. ox + width` (`width <= 32`), the
/// block's first `rows` channels.
struct Tile<'a> {
    oy: usize,
    ox: usize,
    width: usize,
    rows: usize,
    bias: Option<&'a [f32]>,
    /// Whether to prefetch the next output row's new input row.
    prefetch: bool,
}

impl Tile<'_> {
    /// Computes the tile and stores its `rows × width` values at `c` (row stride `ldc`).
    ///
    /// # Safety
    ///
    /// The CPU has AVX-512F; `input` holds every input row (inside the image) that output row
    /// `oy` reads, for the `in_channels` of `p`; `w` the block's `in_channels · kernel_h ·
    /// kernel_w · OC_BLOCK` weights; `oy` is an output row, `ox + width <= out_w`,
    /// `width <= 32`, `rows <= OC_BLOCK`, `kernel_w <= MAX_KERNEL_W`; `c .. c + (rows − 1)·ldc
    /// + width` is writable.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
    unsafe fn run(
        &self,
        p: &DirectConvParams,
        input: &Rows<'_>,
        w: &[f32],
        c: *mut f32,
        ldc: usize,
    ) {
        // Lane `l` of tap column `kx` reads image column `(ox + l)·s + d`, `d = kx − pad_left`:
        // phase `d mod s`, position `ox + l + d div s` there. Valid for `l < width` and
        // positions inside the phase's `⌈(in_w − phase) / s⌉`. One offset (from a row's
        // start) and one 32-bit mask per `kx`, in halves per vector.
        let s = p.stride_w as isize;
        let mut taps_x = [(0isize, 0u16, 0u16); MAX_KERNEL_W];
        for (kx, tap) in taps_x.iter_mut().enumerate().take(p.kernel_w) {
            let d = kx as isize - p.pad_left as isize;
            let phase = d.rem_euclid(s);
            let first = self.ox as isize + d.div_euclid(s);
            let count = (p.in_w as isize - phase + s - 1).div_euclid(s).max(0);
            let lo = (-first).clamp(0, self.width as isize) as u32;
            let hi = (count - first).clamp(lo as isize, self.width as isize) as u32;
            let bits = lanes_below(hi) & !lanes_below(lo);
            let offset = phase * input.phase_stride as isize + first;
            *tap = (offset, bits as u16, (bits >> 16) as u16);
        }
        // Tap rows inside the image: `0 <= oy·stride_h + ky − pad_top < in_h`.
        let top = self.oy * p.stride_h;
        let ky_lo = p.pad_top.saturating_sub(top).min(p.kernel_h);
        let ky_hi = (p.in_h + p.pad_top)
            .saturating_sub(top)
            .clamp(ky_lo, p.kernel_h);
        debug_assert!(
            ky_lo == ky_hi
                || (top + ky_lo - p.pad_top >= input.first_row
                    && top + ky_hi - p.pad_top <= input.end_row)
        );

        let mut acc = [[_mm512_setzero_ps(); 2]; OC_BLOCK];
        if let Some(bias) = self.bias {
            for (a, &b) in acc.iter_mut().zip(bias) {
                *a = [_mm512_set1_ps(b); 2];
            }
        }
        let x = input.data.as_ptr();
        let w = w.as_ptr();
        // The input row the next output row reads first and this one does not: fetched now,
        // one chunk per channel, so its lines arrive while this tile computes. (A conv reads
        // as many row streams as it has input channels, more than the hardware prefetchers
        // track.) Only the first block of output channels asks; the others find it in cache.
        let ahead = (top + p.kernel_h)
            .checked_sub(p.pad_top)
            .filter(|&iy| self.prefetch && iy < input.end_row && iy >= input.first_row)
            .map(|iy| (iy - input.first_row) * input.row_stride);
        for ic in 0..p.in_channels {
            if let Some(offset) = ahead {
                let next = x
                    .wrapping_add(ic * input.channel_stride + offset + self.ox)
                    .wrapping_sub(p.pad_left);
                // Prefetches never fault, whatever the address.
                _mm_prefetch::<_MM_HINT_T0>(next.cast());
                _mm_prefetch::<_MM_HINT_T0>(next.wrapping_add(LANES).cast());
                _mm_prefetch::<_MM_HINT_T0>(next.wrapping_add(2 * LANES).cast());
            }
            for ky in ky_lo..ky_hi {
                let iy = top + ky - p.pad_top - input.first_row;
                // SAFETY: `ic < in_channels` and row `iy` is held (caller's contract).
                let row = unsafe { x.add(ic * input.channel_stride + iy * input.row_stride) };
                // SAFETY: `(ic, ky)` is a step of the block, in bounds of `w`.
                let taps = unsafe { w.add((ic * p.kernel_h + ky) * p.kernel_w * OC_BLOCK) };
                for (kx, &(offset, m0, m1)) in taps_x.iter().enumerate().take(p.kernel_w) {
                    let src = row.wrapping_offset(offset);
                    // SAFETY: the masks enable only lanes inside this row's phase (computed
                    // above); masked-off lanes are not accessed.
                    let (v0, v1) = unsafe {
                        (
                            _mm512_maskz_loadu_ps(m0, src),
                            _mm512_maskz_loadu_ps(m1, src.wrapping_add(LANES)),
                        )
                    };
                    // SAFETY: `kx < kernel_w`: OC_BLOCK weights of this step.
                    let wk = unsafe { taps.add(kx * OC_BLOCK) };
                    for (o, a) in acc.iter_mut().enumerate() {
                        // SAFETY: `o < OC_BLOCK`, inside the step's weights.
                        let b = _mm512_set1_ps(unsafe { *wk.add(o) });
                        a[0] = _mm512_fmadd_ps(b, v0, a[0]);
                        a[1] = _mm512_fmadd_ps(b, v1, a[1]);
                    }
                }
            }
        }
        let store = lanes_below(self.width as u32);
        let (s0, s1) = (store as u16, (store >> 16) as u16);
        for (o, a) in acc.iter().enumerate().take(self.rows) {
            // SAFETY: row `o < rows` of the tile, `width` lanes enabled (caller's contract).
            unsafe {
                let dst = c.add(o * ldc);
                _mm512_mask_storeu_ps(dst, s0, a[0]);
                _mm512_mask_storeu_ps(dst.wrapping_add(LANES), s1, a[1]);
            }
        }
    }
}

/// A mask of lanes `0 .. n` (`n <= 32`).
fn lanes_below(n: u32) -> u32 {
    if n >= 32 {
        u32::MAX
    } else {
        (1u32 << n) - 1
    }
}
