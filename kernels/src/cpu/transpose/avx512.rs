//! The transpose on AVX-512: 16×16 blocks in 16 `zmm` registers, masked loads and stores on
//! the edges (so the edges are blocks too, not scalar loops).
//!
//! The block transpose is the usual four rounds: `unpack{lo,hi}_ps` interleaves row pairs,
//! `unpack{lo,hi}_pd` row quadruples (within each 128-bit lane, every lane now holds one column
//! of four rows), and two rounds of `shuffle_f32x4` transpose the 4×4 grid of 128-bit lanes.
//! 64 shuffles per 256 elements: the block stays below the load and store ports' cost.

use std::arch::x86_64::*;

use super::body::{self, At, Block};
use super::{validate, TransposeParams};
use crate::cpu::{CpuFeatures, Isa};
use crate::KernelError;

/// [`super::TransposeFn`] on AVX-512 (16×16 blocks).
pub(crate) fn transpose(p: &TransposeParams, x: &[f32], y: &mut [f32]) -> Result<(), KernelError> {
    validate(p, x, y)?;
    if !CpuFeatures::detect().supports(Isa::Avx512) {
        return Err(KernelError::unsupported(
            "transpose_f32_avx512: this CPU lacks Avx512",
        ));
    }
    // SAFETY: the CPU supports Isa::Avx512 (checked just above; the kernel table and the
    // variants list only offer this variant where it does).
    unsafe { run(p, x, y) };
    Ok(())
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
unsafe fn run(p: &TransposeParams, x: &[f32], y: &mut [f32]) {
    // SAFETY: the features are enabled on this function, and its caller checked the CPU.
    let b = unsafe { Avx512Block::new_unchecked() };
    body::transpose(b, p, x, y)
}

/// Witness that the CPU has AVX-512 F/BW/VL ([`Isa::Avx512`]).
#[derive(Clone, Copy, Debug)]
struct Avx512Block(());

const N: usize = 16;

impl Avx512Block {
    /// # Safety
    /// The running CPU must support [`Isa::Avx512`].
    #[inline(always)]
    unsafe fn new_unchecked() -> Self {
        Avx512Block(())
    }

    /// The mask of the low `len` (`<= 16`) lanes.
    #[inline(always)]
    fn low_lanes(len: usize) -> __mmask16 {
        ((1u32 << len) - 1) as __mmask16
    }

    /// Row `k` of the result is column `k` of `r`.
    #[inline(always)]
    fn transpose16(self, r: [__m512; N]) -> [__m512; N] {
        // SAFETY: a witness exists only where the CPU has these instructions; no memory access.
        unsafe {
            // Lane L of t[2k] / t[2k + 1]: elements 4L, 4L + 1 / 4L + 2, 4L + 3 of rows 2k
            // and 2k + 1, interleaved.
            let mut t = [_mm512_setzero_ps(); N];
            for k in 0..N / 2 {
                t[2 * k] = _mm512_unpacklo_ps(r[2 * k], r[2 * k + 1]);
                t[2 * k + 1] = _mm512_unpackhi_ps(r[2 * k], r[2 * k + 1]);
            }
            // Lane L of u[4g + c]: element 4L + c of rows 4g .. 4g + 4.
            let mut u = [_mm512_setzero_ps(); N];
            for g in 0..N / 4 {
                let a = _mm512_castps_pd(t[4 * g]);
                let b = _mm512_castps_pd(t[4 * g + 1]);
                let c = _mm512_castps_pd(t[4 * g + 2]);
                let d = _mm512_castps_pd(t[4 * g + 3]);
                u[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
                u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
                u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
                u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
            }
            // Column 4L + c is lane L of u[c], u[4 + c], u[8 + c], u[12 + c]: transpose those
            // four vectors' 4×4 grid of lanes (0x88 picks lanes 0 and 2 of each operand, 0xdd
            // lanes 1 and 3).
            let mut out = [_mm512_setzero_ps(); N];
            for c in 0..4 {
                let v0 = _mm512_shuffle_f32x4::<0x88>(u[c], u[4 + c]);
                let v1 = _mm512_shuffle_f32x4::<0xdd>(u[c], u[4 + c]);
                let v2 = _mm512_shuffle_f32x4::<0x88>(u[8 + c], u[12 + c]);
                let v3 = _mm512_shuffle_f32x4::<0xdd>(u[8 + c], u[12 + c]);
                out[c] = _mm512_shuffle_f32x4::<0x88>(v0, v2);
                out[4 + c] = _mm512_shuffle_f32x4::<0x88>(v1, v3);
                out[8 + c] = _mm512_shuffle_f32x4::<0xdd>(v0, v2);
                out[12 + c] = _mm512_shuffle_f32x4::<0xdd>(v1, v3);
            }
            out
        }
    }
}

// SAFETY (every `unsafe` block below): an `Avx512Block` exists only where the CPU has the
// instructions; each load or store touches the first 16 elements of a slice checked to hold
// them, or, masked, only the first `len` elements of a slice of `len`.
impl Block for Avx512Block {
    const N: usize = N;

    #[inline(always)]
    fn full(self, x: &[f32], y: &mut [f32], at: At) {
        let mut r = [unsafe { _mm512_setzero_ps() }; N];
        for (k, r) in r.iter_mut().enumerate() {
            let row = &x[at.x + k * at.x_stride..][..N];
            *r = unsafe { _mm512_loadu_ps(row.as_ptr()) };
        }
        for (k, v) in self.transpose16(r).into_iter().enumerate() {
            let row = &mut y[at.y + k * at.y_stride..][..N];
            unsafe { _mm512_storeu_ps(row.as_mut_ptr(), v) };
        }
    }

    #[inline(always)]
    fn partial(self, x: &[f32], y: &mut [f32], at: At, rows: usize, cols: usize) {
        // Rows past `rows` stay zero; they land in lanes past `rows`, which are not stored.
        let mut r = [unsafe { _mm512_setzero_ps() }; N];
        for (k, r) in r.iter_mut().take(rows).enumerate() {
            let row = &x[at.x + k * at.x_stride..][..cols];
            *r = unsafe { _mm512_maskz_loadu_ps(Self::low_lanes(cols), row.as_ptr()) };
        }
        for (k, v) in self.transpose16(r).into_iter().take(cols).enumerate() {
            let row = &mut y[at.y + k * at.y_stride..][..rows];
            unsafe { _mm512_mask_storeu_ps(row.as_mut_ptr(), Self::low_lanes(rows), v) };
        }
    }
}
