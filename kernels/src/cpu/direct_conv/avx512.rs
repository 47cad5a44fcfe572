//! The direct convolution on AVX-512: a register tile of 12 output channels × 32 output
//! positions of one row (two zmm per channel).
//!
//! Why 12 × 32: the 24 accumulators, the two input vectors and one broadcast weight fit the 32
//! zmm registers, and each step (one input channel, one tap) issues 2 input loads and 12
//! weight broadcasts for 24 FMAs: the FMA ports, not the loads, set the pace. The input vectors
//! are loaded straight from the image with masks that zero the lanes falling in the padding or
//! past the row, so nothing is copied or packed per call. Rows of taps falling in the vertical
//! padding are skipped.

use std::arch::x86_64::*;

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
                let rows = OC_BLOCK.min(w.out_channels() - o0);
                let (ptr, ldc) = c.tile_ptr(o0, col, rows, width).ok_or_else(|| {
                    KernelError::out_of_bounds("direct conv: tile outside C (validated before)")
                })?;
                let tile = Tile {
                    oy,
                    ox,
                    width,
                    rows,
                    bias: bias.map(|b| &b[o0..o0 + rows]),
                };
                // SAFETY: AVX-512 checked above; `validate` checked `x` against `p` and the
                // weights against `p`, `tile_ptr` checked that the `rows × width` tile at `ptr`
                // (row stride `ldc`) lies inside C, and `oy < out_h`, `ox + width <= out_w`.
                unsafe { tile.run(p, x, w.block_data(b), ptr, ldc) };
                apply_to_block(&mut c, o0, rows, col, width, post, activate);
            }
            ox += width;
        }
        j += row_end - row_start;
    }
    Ok(())
}

/// One register tile: output row `oy`, positions `ox .. ox + width` (`width <= 32`), the
/// block's first `rows` channels.
struct Tile<'a> {
    oy: usize,
    ox: usize,
    width: usize,
    rows: usize,
    bias: Option<&'a [f32]>,
}

impl Tile<'_> {
    /// Computes the tile and stores its `rows × width` values at `c` (row stride `ldc`).
    ///
    /// # Safety
    ///
    /// The CPU has AVX-512F; `x` holds the `[in_channels, in_h, in_w]` image of `p`, `w` the
    /// block's `in_channels · kernel_h · kernel_w · OC_BLOCK` weights; `oy` is an output row,
    /// `ox + width <= out_w`, `width <= 32`, `rows <= OC_BLOCK`, `kernel_w <= MAX_KERNEL_W`;
    /// `c .. c + (rows − 1)·ldc + width` is writable.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
    unsafe fn run(&self, p: &DirectConvParams, x: &[f32], w: &[f32], c: *mut f32, ldc: usize) {
        // Lane `l` of tap column `kx` reads input column `ox + l + kx − pad_left`: valid for
        // `l < width` and inside `0 .. in_w`. One 32-bit mask per `kx`, halves per vector.
        let mut masks = [(0u16, 0u16); MAX_KERNEL_W];
        for (kx, mask) in masks.iter_mut().enumerate().take(p.kernel_w) {
            let first = (self.ox + kx) as isize - p.pad_left as isize;
            let lo = (-first).clamp(0, self.width as isize) as u32;
            let hi = (p.in_w as isize - first).clamp(lo as isize, self.width as isize) as u32;
            let bits = lanes_below(hi) & !lanes_below(lo);
            *mask = (bits as u16, (bits >> 16) as u16);
        }
        // Tap rows inside the image: `0 <= oy + ky − pad_top < in_h`.
        let ky_lo = p.pad_top.saturating_sub(self.oy).min(p.kernel_h);
        let ky_hi = (p.in_h + p.pad_top)
            .saturating_sub(self.oy)
            .clamp(ky_lo, p.kernel_h);

        let mut acc = [[_mm512_setzero_ps(); 2]; OC_BLOCK];
        if let Some(bias) = self.bias {
            for (a, &b) in acc.iter_mut().zip(bias) {
                *a = [_mm512_set1_ps(b); 2];
            }
        }
        let plane = p.in_h * p.in_w;
        let x = x.as_ptr();
        let w = w.as_ptr();
        for ic in 0..p.in_channels {
            for ky in ky_lo..ky_hi {
                // SAFETY: `ic < in_channels` and `oy + ky − pad_top < in_h` (the range above):
                // the start of an image row.
                let row = unsafe { x.add(ic * plane + (self.oy + ky - p.pad_top) * p.in_w) };
                let row = row.wrapping_sub(p.pad_left).wrapping_add(self.ox);
                // SAFETY: `(ic, ky)` is a step of the block, in bounds of `w`.
                let taps = unsafe { w.add((ic * p.kernel_h + ky) * p.kernel_w * OC_BLOCK) };
                for (kx, &(m0, m1)) in masks.iter().enumerate().take(p.kernel_w) {
                    let src = row.wrapping_add(kx);
                    // SAFETY: the masks enable only lanes inside this image row (computed
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
