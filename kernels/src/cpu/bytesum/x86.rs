//! `vpsadbw` row sums: the absolute differences of 8 bytes from zero, summed into a 64-bit
//! lane, are their sum. Signed bytes are flipped to `b + 128` first and each row corrected by
//! `128 · row_len`.

use super::validate;
use crate::KernelError;
use std::arch::x86_64::*;

/// AVX-512 BW [`super::ByteSumsFn`]: 64 bytes per step, the row's tail as one masked load.
#[cfg(feature = "avx512")]
pub(super) fn byte_sums_avx512(
    x: &[u8],
    row_len: usize,
    signed: bool,
    sums: &mut [i64],
) -> Result<(), KernelError> {
    validate(x, row_len, sums)?;
    // SAFETY: reachable only through the kernel table and `variants()`, which check that the
    // CPU supports `Isa::Avx512` (F, BW, VL) first; `validate` made `x` exactly
    // `sums.len()` rows of `row_len` bytes, and every load below stays inside its row.
    unsafe { run_avx512(x, row_len, signed, sums) };
    Ok(())
}

#[target_feature(enable = "avx512f,avx512bw")]
#[cfg(feature = "avx512")]
unsafe fn run_avx512(x: &[u8], row_len: usize, signed: bool, sums: &mut [i64]) {
    let flip = _mm512_set1_epi8(if signed { i8::MIN } else { 0 });
    let zero = _mm512_setzero_si512();
    for (r, sum) in sums.iter_mut().enumerate() {
        let row = &x[r * row_len..(r + 1) * row_len];
        let mut acc = zero;
        let mut chunks = row.chunks_exact(64);
        for chunk in chunks.by_ref() {
            // SAFETY: `chunk` holds 64 bytes.
            let v = unsafe { _mm512_loadu_si512(chunk.as_ptr().cast()) };
            acc = _mm512_add_epi64(acc, _mm512_sad_epu8(_mm512_xor_si512(v, flip), zero));
        }
        let tail = chunks.remainder();
        if !tail.is_empty() {
            let lanes: __mmask64 = (1u64 << tail.len()) - 1; // `tail.len() < 64`.
                                                             // SAFETY: the masked load reads only the `tail.len()` bytes of `tail` (masked-off
                                                             // bytes are not accessed); masked-off lanes are zeroed again after the flip.
            let v = unsafe { _mm512_maskz_loadu_epi8(lanes, tail.as_ptr().cast()) };
            let v = _mm512_maskz_mov_epi8(lanes, _mm512_xor_si512(v, flip));
            acc = _mm512_add_epi64(acc, _mm512_sad_epu8(v, zero));
        }
        *sum = _mm512_reduce_add_epi64(acc) - correction(signed, row_len);
    }
}

/// AVX2 [`super::ByteSumsFn`]: 32 bytes per step, the row's tail byte by byte.
pub(super) fn byte_sums_avx2(
    x: &[u8],
    row_len: usize,
    signed: bool,
    sums: &mut [i64],
) -> Result<(), KernelError> {
    validate(x, row_len, sums)?;
    // SAFETY: reachable only through the kernel table and `variants()`, which check that the
    // CPU supports `Isa::Avx2` first; `validate` made `x` whole rows.
    unsafe { run_avx2(x, row_len, signed, sums) };
    Ok(())
}

#[target_feature(enable = "avx2")]
unsafe fn run_avx2(x: &[u8], row_len: usize, signed: bool, sums: &mut [i64]) {
    let flip_byte = if signed { 0x80u8 } else { 0 };
    let flip = _mm256_set1_epi8(flip_byte as i8);
    let zero = _mm256_setzero_si256();
    for (r, sum) in sums.iter_mut().enumerate() {
        let row = &x[r * row_len..(r + 1) * row_len];
        let mut acc = zero;
        let mut chunks = row.chunks_exact(32);
        for chunk in chunks.by_ref() {
            // SAFETY: `chunk` holds 32 bytes.
            let v = unsafe { _mm256_loadu_si256(chunk.as_ptr().cast()) };
            acc = _mm256_add_epi64(acc, _mm256_sad_epu8(_mm256_xor_si256(v, flip), zero));
        }
        let mut lanes = [0i64; 4];
        // SAFETY: `lanes` holds 32 bytes.
        unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), acc) };
        let tail: i64 = chunks
            .remainder()
            .iter()
            .map(|&b| i64::from(b ^ flip_byte))
            .sum();
        *sum = lanes.iter().sum::<i64>() + tail - correction(signed, row_len);
    }
}

/// What the flip added to a row: 128 per byte for `i8` rows.
fn correction(signed: bool, row_len: usize) -> i64 {
    if signed {
        128 * row_len as i64
    } else {
        0
    }
}
