//! AVX-512 micro-kernel: an `8×32` tile of `C` in 16 `zmm` accumulators.
//!
//! Why `8×32`: each depth step loads two 16-lane vectors of `B` and broadcasts 8 values of `A`
//! for 16 FMAs, i.e. 10 loads per 16 FMAs, within the two load ports while both FMA ports stay
//! busy; 16 independent accumulators cover the FMA latency (4 cycles × 2 ports) twice over.
//! Eight rows also divide the channel counts of typical convolutions (16, 24, 32, 48, ...), so
//! the zero-padded edge panel is rarely wasted work. The `B` micro-panel (`kc·32` floats, 32 KiB
//! at `kc = 256`) stays in a 48 KiB L1 while the `A` panels stream from L2.

use std::arch::x86_64::*;

use super::driver::MicroKernel;
use super::TileShape;

/// The AVX-512 `8×32` micro-kernel.
pub(crate) struct Avx512x8x32;

const MR: usize = 8;
const NR: usize = 32;

impl MicroKernel for Avx512x8x32 {
    const TILE: TileShape = TileShape {
        mr: MR,
        nr: NR,
        kc: 256,
    };
    const MC: usize = 128;
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
        debug_assert!(crate::cpu::CpuFeatures::detect().supports(crate::cpu::Isa::Avx512));
        // SAFETY: the panel lengths and the C tile are the caller's contract; the kernel table
        // hands this kernel out only on CPUs with AVX-512 F.
        unsafe { kernel(kc, a.as_ptr(), b.as_ptr(), c, ldc, alpha, beta) }
    }
}

#[target_feature(enable = "avx512f")]
unsafe fn kernel(
    kc: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    alpha: f32,
    beta: f32,
) {
    let mut acc = [[_mm512_setzero_ps(); 2]; MR];
    for l in 0..kc {
        // SAFETY: `l < kc`, so `b + l·NR .. + NR` and `a + l·MR .. + MR` are inside the panels.
        unsafe {
            let bp = b.add(l * NR);
            let (b0, b1) = (_mm512_loadu_ps(bp), _mm512_loadu_ps(bp.add(16)));
            let ap = a.add(l * MR);
            for (r, row) in acc.iter_mut().enumerate() {
                let x = _mm512_set1_ps(*ap.add(r));
                row[0] = _mm512_fmadd_ps(x, b0, row[0]);
                row[1] = _mm512_fmadd_ps(x, b1, row[1]);
            }
        }
    }
    let (va, vb) = (_mm512_set1_ps(alpha), _mm512_set1_ps(beta));
    for (r, row) in acc.iter().enumerate() {
        // SAFETY: the caller guarantees `MR` rows of `NR` writable floats at stride `ldc`.
        unsafe {
            let out = c.add(r * ldc);
            for (h, &v) in row.iter().enumerate() {
                let p = out.add(16 * h);
                let v = if beta == 0.0 {
                    _mm512_mul_ps(va, v)
                } else {
                    _mm512_fmadd_ps(vb, _mm512_loadu_ps(p), _mm512_mul_ps(va, v))
                };
                _mm512_storeu_ps(p, v);
            }
        }
    }
}
