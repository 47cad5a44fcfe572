//! AVX-512 `qsoftmax`: up to 16 bytes of a row per register (masked loads and stores at the
//! row's end, so rows of any length cost no scalar tail), `e^(−d·scale)` gathered from the
//! table, the sum reduced once per row.

use super::{range, validate, QSoftmaxParams, QSoftmaxTable, ROUNDER, ROUNDER_BITS};
use crate::KernelError;
use std::arch::x86_64::*;

/// AVX-512 [`super::QSoftmaxFn`].
pub(super) fn qsoftmax_avx512(
    p: &QSoftmaxParams,
    table: &QSoftmaxTable,
    x: &[u8],
    y: &mut [u8],
) -> Result<(), KernelError> {
    validate(p, x, y)?;
    debug_assert!(crate::cpu::CpuFeatures::detect().supports(crate::cpu::Isa::Avx512));
    if x.is_empty() {
        return Ok(());
    }
    // The exps of one row, in whole 16-lane chunks.
    let mut e = vec![0f32; p.row_len.div_ceil(16) * 16];
    // SAFETY: reachable only through the kernel table and `variants()`, which check that
    // `CpuFeatures` supports `Isa::Avx512` (F, BW, VL) first; `validate` made `x` and `y` whole
    // rows of `row_len >= 1`, and `e` covers a row in whole chunks.
    unsafe { run(p, table, x, y, &mut e) };
    Ok(())
}

/// The lanes of a chunk of `len <= 16` bytes.
#[inline(always)]
fn lanes(len: usize) -> u16 {
    if len >= 16 {
        u16::MAX
    } else {
        (1u16 << len) - 1
    }
}

/// # Safety
/// The CPU supports AVX-512 F/BW/VL; `x` and `y` are whole rows of `p.row_len >= 1`; `e` holds
/// `row_len` rounded up to 16.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2")]
unsafe fn run(p: &QSoftmaxParams, table: &QSoftmaxTable, x: &[u8], y: &mut [u8], e: &mut [f32]) {
    let n = p.row_len;
    let (lo, hi) = range(p.y_signed);
    let flip = _mm_set1_epi8(if p.x_signed { i8::MIN } else { 0 });
    let (lo, hi, zero_point) = (
        _mm512_set1_epi32(lo),
        _mm512_set1_epi32(hi),
        _mm512_set1_epi32(p.y_zero_point - ROUNDER_BITS),
    );
    let (cap, rounder) = (_mm512_set1_ps(1024.0), _mm512_set1_ps(ROUNDER));
    for (xr, yr) in x.chunks_exact(n).zip(y.chunks_exact_mut(n)) {
        // Bytes with the sign bit flipped for `i8` (so they order as their values), lanes past
        // the row zeroed after the flip: 0 is the smallest flipped byte.
        let load = |c: usize| {
            let m = lanes(n - c);
            // SAFETY: lanes `c .. c + popcount(m)` are inside the row; masked-off lanes are not
            // read.
            let raw = unsafe { _mm_maskz_loadu_epi8(m, xr.as_ptr().add(c).cast()) };
            (m, _mm_maskz_mov_epi8(m, _mm_xor_si128(raw, flip)))
        };
        let mut max = _mm_setzero_si128();
        for c in (0..n).step_by(16) {
            max = _mm_max_epu8(max, load(c).1);
        }
        max = _mm_max_epu8(max, _mm_srli_si128::<8>(max));
        max = _mm_max_epu8(max, _mm_srli_si128::<4>(max));
        max = _mm_max_epu8(max, _mm_srli_si128::<2>(max));
        max = _mm_max_epu8(max, _mm_srli_si128::<1>(max));
        let max = _mm_broadcastb_epi8(max);
        let mut sum = _mm512_setzero_ps();
        for c in (0..n).step_by(16) {
            let (m, v) = load(c);
            // `max >= v` on the row's lanes: the distance is 0..=255.
            let d = _mm512_cvtepu8_epi32(_mm_subs_epu8(max, v));
            // SAFETY: every index is a byte, inside the 256-entry table; masked-off lanes are
            // not read.
            let ex = unsafe {
                _mm512_mask_i32gather_ps::<4>(_mm512_setzero_ps(), m, d, table.exp.as_ptr())
            };
            sum = _mm512_add_ps(sum, ex);
            // SAFETY: `e` holds whole chunks of the row.
            unsafe { _mm512_storeu_ps(e.as_mut_ptr().add(c), ex) };
        }
        // `sum >= 1`: the maximum contributes e^0.
        let k = _mm512_set1_ps(1.0 / (_mm512_reduce_add_ps(sum) * p.y_scale));
        for c in (0..n).step_by(16) {
            // SAFETY: as above.
            let ex = unsafe { _mm512_loadu_ps(e.as_ptr().add(c)) };
            // As the portable body: capped, rounded half to even into the mantissa's low bits.
            let v = _mm512_add_ps(_mm512_min_ps(_mm512_mul_ps(ex, k), cap), rounder);
            let q = _mm512_add_epi32(_mm512_castps_si512(v), zero_point);
            let q = _mm512_min_epi32(_mm512_max_epi32(q, lo), hi);
            // SAFETY: lanes `c .. c + popcount(mask)` are inside the output row.
            unsafe {
                _mm_mask_storeu_epi8(
                    yr.as_mut_ptr().add(c).cast(),
                    lanes(n - c),
                    _mm512_cvtepi32_epi8(q),
                )
            };
        }
    }
}
