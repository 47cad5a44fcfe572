//! The core's measured FP32 peak: an FMA-throughput loop on the widest vectors this CPU has,
//! with enough independent accumulators to cover the FMA latency on every port. GEMM
//! efficiency is reported against this number (not a datasheet clock).

use std::time::Instant;

use crate::cpu::{CpuFeatures, Isa};

/// FLOP/s of one thread running nothing but independent FMAs (the best burst over about
/// `seconds`, so a busy machine lowers it less), and the instruction set used.
pub fn fma_peak_flops(seconds: f64) -> (f64, &'static str) {
    let f = CpuFeatures::detect();
    let start = Instant::now();
    let mut best = 0.0f64;
    let mut sink = 0.0f32;
    while start.elapsed().as_secs_f64() < seconds {
        let t = Instant::now();
        let (v, flops) = fma_burst(&f);
        best = best.max(flops / t.elapsed().as_secs_f64());
        sink += v;
    }
    std::hint::black_box(sink);
    (best, burst_isa(&f))
}

/// Iterations of one burst: long enough that timer reads are noise.
const ITERS: usize = 1 << 20;

fn burst_isa(f: &CpuFeatures) -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if f.supports(Isa::Avx512) {
            return "avx512";
        }
        if f.supports(Isa::Avx2) {
            return "avx2";
        }
    }
    #[cfg(target_arch = "aarch64")]
    if f.supports(Isa::Neon) {
        return "neon";
    }
    let _ = f;
    "scalar"
}

/// One burst: `(a value to keep the work alive, FLOPs done)`.
fn fma_burst(f: &CpuFeatures) -> (f32, f64) {
    #[cfg(target_arch = "x86_64")]
    {
        use x86::CHAINS_512;
        if f.supports(Isa::Avx512) {
            // SAFETY: AVX-512 F is present (checked just above).
            return (
                unsafe { x86::burst_avx512() },
                (ITERS * CHAINS_512 * 16 * 2) as f64,
            );
        }
        if f.supports(Isa::Avx2) {
            // SAFETY: AVX2 and FMA are present (checked just above).
            return (unsafe { x86::burst_avx2() }, (ITERS * 12 * 8 * 2) as f64);
        }
    }
    let _ = f;
    let mut acc = [1.0f32; 8];
    for _ in 0..ITERS {
        for a in acc.iter_mut() {
            *a = a.mul_add(0.999_999, 1e-7);
        }
    }
    (acc.iter().sum(), (ITERS * 8 * 2) as f64)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::ITERS;
    use std::arch::x86_64::*;

    /// Independent `zmm` FMA chains: 2 ports × 4-cycle latency, doubled for slack, and few
    /// enough to stay in registers with the two operands.
    pub(super) const CHAINS_512: usize = 16;

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn burst_avx512() -> f32 {
        let (m, c) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
        let one = _mm512_set1_ps(1.0);
        // Named accumulators, not an array: LLVM then keeps every chain in a register.
        let (mut a0, mut a1, mut a2, mut a3) = (one, one, one, one);
        let (mut a4, mut a5, mut a6, mut a7) = (one, one, one, one);
        let (mut a8, mut a9, mut a10, mut a11) = (one, one, one, one);
        let (mut a12, mut a13, mut a14, mut a15) = (one, one, one, one);
        for _ in 0..ITERS {
            a0 = _mm512_fmadd_ps(a0, m, c);
            a1 = _mm512_fmadd_ps(a1, m, c);
            a2 = _mm512_fmadd_ps(a2, m, c);
            a3 = _mm512_fmadd_ps(a3, m, c);
            a4 = _mm512_fmadd_ps(a4, m, c);
            a5 = _mm512_fmadd_ps(a5, m, c);
            a6 = _mm512_fmadd_ps(a6, m, c);
            a7 = _mm512_fmadd_ps(a7, m, c);
            a8 = _mm512_fmadd_ps(a8, m, c);
            a9 = _mm512_fmadd_ps(a9, m, c);
            a10 = _mm512_fmadd_ps(a10, m, c);
            a11 = _mm512_fmadd_ps(a11, m, c);
            a12 = _mm512_fmadd_ps(a12, m, c);
            a13 = _mm512_fmadd_ps(a13, m, c);
            a14 = _mm512_fmadd_ps(a14, m, c);
            a15 = _mm512_fmadd_ps(a15, m, c);
        }
        [
            a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15,
        ]
        .iter()
        .map(|&a| _mm512_reduce_add_ps(a))
        .sum()
    }

    /// 12 independent `ymm` FMA chains.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn burst_avx2() -> f32 {
        let (m, c) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
        let mut acc = [_mm256_set1_ps(1.0); 12];
        for _ in 0..ITERS {
            for a in acc.iter_mut() {
                *a = _mm256_fmadd_ps(*a, m, c);
            }
        }
        let mut out = [0.0f32; 8];
        let mut sum = 0.0;
        for a in acc {
            // SAFETY: `out` holds 8 floats.
            unsafe { _mm256_storeu_ps(out.as_mut_ptr(), a) };
            sum += out.iter().sum::<f32>();
        }
        sum
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn peak_is_positive_and_names_an_isa() {
        let (flops, isa) = super::fma_peak_flops(0.01);
        // No speed threshold: under emulation (the NEON run under qemu) or on a loaded machine
        // the measured rate can be anything; it must be a positive, finite rate.
        assert!(flops.is_finite() && flops > 0.0, "{flops}");
        assert!(!isa.is_empty());
    }
}
