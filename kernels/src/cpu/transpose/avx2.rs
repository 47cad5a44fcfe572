//! The transpose on AVX2: 8×8 blocks in 8 `ymm` registers; the edges (at most 7 rows and 7
//! columns) element by element, which measured faster than masked blocks (`vmaskmovps`
//! stores are slow: 97×33 took 665 ns with them, 465 ns without).
//!
//! The block transpose: `unpack{lo,hi}_ps` interleaves row pairs, `unpack{lo,hi}_pd` row
//! quadruples (every 128-bit lane now holds one column of four rows), and `permute2f128`
//! joins the two halves of each column: 24 shuffles per 64 elements.

use std::arch::x86_64::*;

use super::body::{self, At, Block};
use super::{validate, TransposeParams};
use crate::cpu::{CpuFeatures, Isa};
use crate::KernelError;

/// [`super::TransposeFn`] on AVX2 (8×8 blocks).
pub(crate) fn transpose(p: &TransposeParams, x: &[f32], y: &mut [f32]) -> Result<(), KernelError> {
    validate(p, x, y)?;
    if !CpuFeatures::detect().supports(Isa::Avx2) {
        return Err(KernelError::unsupported(
            "transpose_f32_avx2: this CPU lacks Avx2",
        ));
    }
    // SAFETY: the CPU supports Isa::Avx2 (checked just above; the kernel table and the
    // variants list only offer this variant where it does).
    unsafe { run(p, x, y) };
    Ok(())
}

#[target_feature(enable = "avx2,fma")]
unsafe fn run(p: &TransposeParams, x: &[f32], y: &mut [f32]) {
    // SAFETY: the features are enabled on this function, and its caller checked the CPU.
    let b = unsafe { Avx2Block::new_unchecked() };
    body::transpose(b, p, x, y)
}

/// Witness that the CPU has AVX2 + FMA ([`Isa::Avx2`]).
#[derive(Clone, Copy, Debug)]
struct Avx2Block(());

const N: usize = 8;

impl Avx2Block {
    /// # Safety
    /// The running CPU must support [`Isa::Avx2`].
    #[inline(always)]
    unsafe fn new_unchecked() -> Self {
        Avx2Block(())
    }

    /// Row `k` of the result is column `k` of `r`.
    #[inline(always)]
    fn transpose8(self, r: [__m256; N]) -> [__m256; N] {
        // SAFETY: a witness exists only where the CPU has these instructions; no memory access.
        unsafe {
            // Lane L of t[2k] / t[2k + 1]: elements 4L, 4L + 1 / 4L + 2, 4L + 3 of rows 2k
            // and 2k + 1, interleaved.
            let mut t = [_mm256_setzero_ps(); N];
            for k in 0..N / 2 {
                t[2 * k] = _mm256_unpacklo_ps(r[2 * k], r[2 * k + 1]);
                t[2 * k + 1] = _mm256_unpackhi_ps(r[2 * k], r[2 * k + 1]);
            }
            // Lane L of u[4g + c]: element 4L + c of rows 4g .. 4g + 4.
            let mut u = [_mm256_setzero_ps(); N];
            for g in 0..N / 4 {
                let a = _mm256_castps_pd(t[4 * g]);
                let b = _mm256_castps_pd(t[4 * g + 1]);
                let c = _mm256_castps_pd(t[4 * g + 2]);
                let d = _mm256_castps_pd(t[4 * g + 3]);
                u[4 * g] = _mm256_castpd_ps(_mm256_unpacklo_pd(a, c));
                u[4 * g + 1] = _mm256_castpd_ps(_mm256_unpackhi_pd(a, c));
                u[4 * g + 2] = _mm256_castpd_ps(_mm256_unpacklo_pd(b, d));
                u[4 * g + 3] = _mm256_castpd_ps(_mm256_unpackhi_pd(b, d));
            }
            // Column 4L + c: lane L of u[c] (rows 0..4), then lane L of u[4 + c] (rows 4..8).
            let mut out = [_mm256_setzero_ps(); N];
            for c in 0..4 {
                out[c] = _mm256_permute2f128_ps::<0x20>(u[c], u[4 + c]);
                out[4 + c] = _mm256_permute2f128_ps::<0x31>(u[c], u[4 + c]);
            }
            out
        }
    }
}

// SAFETY (every `unsafe` block below): an `Avx2Block` exists only where the CPU has the
// instructions; each load or store touches the first 8 elements of a slice checked to hold
// them.
impl Block for Avx2Block {
    const N: usize = N;

    #[inline(always)]
    fn full(self, x: &[f32], y: &mut [f32], at: At) {
        let mut r = [unsafe { _mm256_setzero_ps() }; N];
        for (k, r) in r.iter_mut().enumerate() {
            let row = &x[at.x + k * at.x_stride..][..N];
            *r = unsafe { _mm256_loadu_ps(row.as_ptr()) };
        }
        for (k, v) in self.transpose8(r).into_iter().enumerate() {
            let row = &mut y[at.y + k * at.y_stride..][..N];
            unsafe { _mm256_storeu_ps(row.as_mut_ptr(), v) };
        }
    }

    #[inline(always)]
    fn partial(self, x: &[f32], y: &mut [f32], at: At, rows: usize, cols: usize) {
        body::scalar_block(x, y, at, rows, cols)
    }
}
