//! AVX2 + FMA micro-kernel: a `6×16` tile of `C` in 12 `ymm` accumulators.
//!
//! Why `6×16`: with 16 `ymm` registers, 12 accumulators + 2 `B` vectors + 1 broadcast fit with
//! one to spare; each depth step is 8 loads for 12 FMAs, and 12 independent chains cover the
//! FMA latency. (The classic BLIS Haswell shape.)

use std::arch::x86_64::*;

use super::driver::MicroKernel;
use super::TileShape;

/// The AVX2 `6×16` micro-kernel.
pub(crate) struct Avx2x6x16;

const MR: usize = 6;
const NR: usize = 16;

impl MicroKernel for Avx2x6x16 {
    const TILE: TileShape = TileShape {
        mr: MR,
        nr: NR,
        kc: 256,
    };
    const MC: usize = 120;
    const NC: usize = 4096;

    unsafe fn tile(
        kc: usize,
        a: &[f32],
        b: &[f32],
        c: *mut f32,
        ldc: usize,
        alpha: f32,
        beta: f32,
    ) {
        debug_assert!(a.len() >= kc * MR && b.len() >= kc * NR);
        debug_assert!(crate::cpu::CpuFeatures::detect().supports(crate::cpu::Isa::Avx2));
        // SAFETY: the panel lengths and the C tile are the caller's contract; the kernel table
        // hands this kernel out only on CPUs with AVX2 and FMA.
        unsafe { kernel(kc, a.as_ptr(), b.as_ptr(), c, ldc, alpha, beta) }
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn kernel(
    kc: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    alpha: f32,
    beta: f32,
) {
    let mut acc = [[_mm256_setzero_ps(); 2]; MR];
    for l in 0..kc {
        // SAFETY: `l < kc`, so `b + l·NR .. + NR` and `a + l·MR .. + MR` are inside the panels.
        unsafe {
            let bp = b.add(l * NR);
            let (b0, b1) = (_mm256_loadu_ps(bp), _mm256_loadu_ps(bp.add(8)));
            let ap = a.add(l * MR);
            for (r, row) in acc.iter_mut().enumerate() {
                let x = _mm256_broadcast_ss(&*ap.add(r));
                row[0] = _mm256_fmadd_ps(x, b0, row[0]);
                row[1] = _mm256_fmadd_ps(x, b1, row[1]);
            }
        }
    }
    let (va, vb) = (_mm256_set1_ps(alpha), _mm256_set1_ps(beta));
    for (r, row) in acc.iter().enumerate() {
        // SAFETY: the caller guarantees `MR` rows of `NR` writable floats at stride `ldc`.
        unsafe {
            let out = c.add(r * ldc);
            for (h, &v) in row.iter().enumerate() {
                let p = out.add(8 * h);
                let v = if beta == 0.0 {
                    _mm256_mul_ps(va, v)
                } else {
                    _mm256_fmadd_ps(vb, _mm256_loadu_ps(p), _mm256_mul_ps(va, v))
                };
                _mm256_storeu_ps(p, v);
            }
        }
    }
}
