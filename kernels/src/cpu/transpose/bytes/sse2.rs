//! The 16×16 byte block on x86-64: four rounds of `punpcklbw`/`punpckhbw` over the sixteen
//! rows. SSE2 is part of the x86-64 baseline, so this needs no feature detection.
//!
//! Why four rounds of the same interleave transpose: interleaving rows `i` and `i + 8` sends
//! element `(r, c)` (4-bit row and column indices) to row `2·(r mod 8) + c₃` and column
//! `2·(c mod 8) + r₃`: each round shifts one bit of the column index into the row index and
//! one bit of the row index into the column index. After four rounds they have traded places.

use std::arch::x86_64::{
    __m128i, _mm_loadu_si128, _mm_storeu_si128, _mm_unpackhi_epi8, _mm_unpacklo_epi8,
};

/// The 16×16 block at `(i, j)` of `x` (row length `ldx`) into `(j, i)` of `y` (row length
/// `ldy`).
///
/// # Panics
/// If the block is not inside `x` or its transpose not inside `y` (callers pass whole blocks).
#[inline(always)]
pub(super) fn block16(x: &[u8], ldx: usize, i: usize, j: usize, y: &mut [u8], ldy: usize) {
    // The bounds of the last row of each side cover the whole block.
    assert!((i + 15) * ldx + j + 16 <= x.len() && (j + 15) * ldy + i + 16 <= y.len());
    let mut r = [zero(); 16];
    for (k, row) in r.iter_mut().enumerate() {
        // SAFETY: row `i + k` of the block, 16 bytes from column `j`, is inside `x` (asserted:
        // `(i + k)·ldx + j + 16 <= (i + 15)·ldx + j + 16`); unaligned loads are allowed.
        *row = unsafe { _mm_loadu_si128(x.as_ptr().add((i + k) * ldx + j).cast()) };
    }
    for _ in 0..4 {
        let mut t = r;
        for k in 0..8 {
            // SAFETY: SSE2 is in the x86-64 baseline.
            unsafe {
                t[2 * k] = _mm_unpacklo_epi8(r[k], r[k + 8]);
                t[2 * k + 1] = _mm_unpackhi_epi8(r[k], r[k + 8]);
            }
        }
        r = t;
    }
    for (k, row) in r.iter().enumerate() {
        // SAFETY: row `j + k` of the result, 16 bytes from column `i`, is inside `y` (asserted
        // as above).
        unsafe { _mm_storeu_si128(y.as_mut_ptr().add((j + k) * ldy + i).cast(), *row) };
    }
}

#[inline(always)]
fn zero() -> __m128i {
    // SAFETY: SSE2 is in the x86-64 baseline.
    unsafe { std::arch::x86_64::_mm_setzero_si128() }
}
