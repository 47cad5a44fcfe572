//! [`Simd`] for AVX-512 (F + BW + VL, with AVX2 and FMA): 16 lanes, masked tails.

use std::arch::x86_64::*;

use super::Simd;

/// Witness that the CPU has AVX-512 F/BW/VL, AVX2 and FMA ([`crate::cpu::Isa::Avx512`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx512(());

impl Avx512 {
    /// # Safety
    /// The running CPU must support [`crate::cpu::Isa::Avx512`].
    #[inline(always)]
    pub(crate) unsafe fn new_unchecked() -> Self {
        Avx512(())
    }

    /// The mask of the low `min(len, 16)` lanes.
    #[inline(always)]
    fn low_lanes(len: usize) -> __mmask16 {
        if len >= 16 {
            !0
        } else {
            (1u16 << len) - 1
        }
    }
}

// SAFETY (every `unsafe` block below): an `Avx512` value exists only if its `unsafe`
// constructor's contract holds, so the CPU supports every intrinsic used here; the memory
// accesses are bounds-checked (`load`/`store`) or masked to the slice's length (`*_tail`).
impl Simd for Avx512 {
    type V = __m512;
    type M = __mmask16;
    const LANES: usize = 16;

    #[inline(always)]
    fn splat(self, v: f32) -> __m512 {
        unsafe { _mm512_set1_ps(v) }
    }
    #[inline(always)]
    fn load(self, src: &[f32]) -> __m512 {
        assert!(src.len() >= 16);
        unsafe { _mm512_loadu_ps(src.as_ptr()) }
    }
    #[inline(always)]
    fn store(self, dst: &mut [f32], v: __m512) {
        assert!(dst.len() >= 16);
        unsafe { _mm512_storeu_ps(dst.as_mut_ptr(), v) }
    }
    #[inline(always)]
    fn load_tail(self, src: &[f32]) -> __m512 {
        // Masked-off lanes are neither read nor able to fault.
        unsafe { _mm512_maskz_loadu_ps(Self::low_lanes(src.len()), src.as_ptr()) }
    }
    #[inline(always)]
    fn store_tail(self, dst: &mut [f32], v: __m512) {
        unsafe { _mm512_mask_storeu_ps(dst.as_mut_ptr(), Self::low_lanes(dst.len()), v) }
    }

    #[inline(always)]
    fn add(self, a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_add_ps(a, b) }
    }
    #[inline(always)]
    fn sub(self, a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_sub_ps(a, b) }
    }
    #[inline(always)]
    fn mul(self, a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_mul_ps(a, b) }
    }
    #[inline(always)]
    fn div(self, a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_div_ps(a, b) }
    }
    #[inline(always)]
    fn fma(self, a: __m512, b: __m512, c: __m512) -> __m512 {
        unsafe { _mm512_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    fn fnma(self, a: __m512, b: __m512, c: __m512) -> __m512 {
        unsafe { _mm512_fnmadd_ps(a, b, c) }
    }
    #[inline(always)]
    fn max(self, a: __m512, b: __m512) -> __m512 {
        // `vmaxps` is exactly `a > b ? a : b`.
        unsafe { _mm512_max_ps(a, b) }
    }
    #[inline(always)]
    fn min(self, a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_min_ps(a, b) }
    }
    #[inline(always)]
    fn abs(self, a: __m512) -> __m512 {
        unsafe { _mm512_abs_ps(a) }
    }
    #[inline(always)]
    fn round(self, a: __m512) -> __m512 {
        unsafe { _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(a) }
    }
    #[inline(always)]
    fn ldexp(self, p: __m512, n: __m512) -> __m512 {
        // `vscalefps` scales with one rounding, over the whole exponent range.
        unsafe { _mm512_scalef_ps(p, n) }
    }

    #[inline(always)]
    fn lt(self, a: __m512, b: __m512) -> __mmask16 {
        unsafe { _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, b) }
    }
    #[inline(always)]
    fn ge(self, a: __m512, b: __m512) -> __mmask16 {
        unsafe { _mm512_cmp_ps_mask::<_CMP_GE_OQ>(a, b) }
    }
    #[inline(always)]
    fn select(self, m: __mmask16, a: __m512, b: __m512) -> __m512 {
        // `blend(k, x, y)` takes `y` where `k` is set.
        unsafe { _mm512_mask_blend_ps(m, b, a) }
    }

    #[inline(always)]
    fn reduce_add(self, a: __m512) -> f32 {
        unsafe { _mm512_reduce_add_ps(a) }
    }
    #[inline(always)]
    fn reduce_max(self, a: __m512) -> f32 {
        unsafe { _mm512_reduce_max_ps(a) }
    }
}
