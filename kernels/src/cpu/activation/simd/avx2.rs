//! [`Simd`] for AVX2 + FMA: 8 lanes; tails through a zero-padded stack buffer.

use std::arch::x86_64::*;

use super::Simd;

/// Witness that the CPU has AVX2 and FMA ([`crate::cpu::Isa::Avx2`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx2(());

impl Avx2 {
    /// # Safety
    /// The running CPU must support [`crate::cpu::Isa::Avx2`].
    #[inline(always)]
    pub(crate) unsafe fn new_unchecked() -> Self {
        Avx2(())
    }
}

// SAFETY (every `unsafe` block below): an `Avx2` value exists only if its `unsafe`
// constructor's contract holds, so the CPU supports every intrinsic used here; the unaligned
// loads and stores touch 8 elements of a slice checked to hold at least 8, or of a local buffer.
impl Simd for Avx2 {
    type V = __m256;
    type M = __m256;
    const LANES: usize = 8;

    #[inline(always)]
    fn splat(self, v: f32) -> __m256 {
        unsafe { _mm256_set1_ps(v) }
    }
    #[inline(always)]
    fn load(self, src: &[f32]) -> __m256 {
        assert!(src.len() >= 8);
        unsafe { _mm256_loadu_ps(src.as_ptr()) }
    }
    #[inline(always)]
    fn store(self, dst: &mut [f32], v: __m256) {
        assert!(dst.len() >= 8);
        unsafe { _mm256_storeu_ps(dst.as_mut_ptr(), v) }
    }
    #[inline(always)]
    fn load_tail(self, src: &[f32]) -> __m256 {
        let mut buf = [0.0f32; 8];
        let n = src.len().min(8);
        buf[..n].copy_from_slice(&src[..n]);
        self.load(&buf)
    }
    #[inline(always)]
    fn store_tail(self, dst: &mut [f32], v: __m256) {
        let mut buf = [0.0f32; 8];
        self.store(&mut buf, v);
        let n = dst.len().min(8);
        dst[..n].copy_from_slice(&buf[..n]);
    }

    #[inline(always)]
    fn add(self, a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_add_ps(a, b) }
    }
    #[inline(always)]
    fn sub(self, a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_sub_ps(a, b) }
    }
    #[inline(always)]
    fn mul(self, a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_mul_ps(a, b) }
    }
    #[inline(always)]
    fn div(self, a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_div_ps(a, b) }
    }
    #[inline(always)]
    fn fma(self, a: __m256, b: __m256, c: __m256) -> __m256 {
        unsafe { _mm256_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    fn fnma(self, a: __m256, b: __m256, c: __m256) -> __m256 {
        unsafe { _mm256_fnmadd_ps(a, b, c) }
    }
    #[inline(always)]
    fn max(self, a: __m256, b: __m256) -> __m256 {
        // `vmaxps` is exactly `a > b ? a : b`.
        unsafe { _mm256_max_ps(a, b) }
    }
    #[inline(always)]
    fn min(self, a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_min_ps(a, b) }
    }
    #[inline(always)]
    fn abs(self, a: __m256) -> __m256 {
        unsafe { _mm256_andnot_ps(_mm256_set1_ps(-0.0), a) }
    }
    #[inline(always)]
    fn round(self, a: __m256) -> __m256 {
        unsafe { _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(a) }
    }
    #[inline(always)]
    fn ldexp(self, p: __m256, n: __m256) -> __m256 {
        // 2ⁿ as two factors 2^h · 2^(n-h), h = ⌊n/2⌋, each a normal float for n in [-252, 254].
        unsafe {
            let n = _mm256_cvtps_epi32(n);
            let h = _mm256_srai_epi32::<1>(n);
            let scaled = _mm256_mul_ps(p, pow2(h));
            _mm256_mul_ps(scaled, pow2(_mm256_sub_epi32(n, h)))
        }
    }

    #[inline(always)]
    fn lt(self, a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_cmp_ps::<_CMP_LT_OQ>(a, b) }
    }
    #[inline(always)]
    fn ge(self, a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_cmp_ps::<_CMP_GE_OQ>(a, b) }
    }
    #[inline(always)]
    fn select(self, m: __m256, a: __m256, b: __m256) -> __m256 {
        // `blendv(x, y, m)` takes `y` where `m` is set.
        unsafe { _mm256_blendv_ps(b, a, m) }
    }

    #[inline(always)]
    fn reduce_add(self, a: __m256) -> f32 {
        unsafe {
            let s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps::<1>(a));
            let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)))
        }
    }
    #[inline(always)]
    fn reduce_max(self, a: __m256) -> f32 {
        unsafe {
            let s = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps::<1>(a));
            let s = _mm_max_ps(s, _mm_movehl_ps(s, s));
            _mm_cvtss_f32(_mm_max_ss(s, _mm_movehdup_ps(s)))
        }
    }
}

/// 2^e for integer `e` in [-126, 127], by writing the biased exponent.
///
/// # Safety
/// The CPU must support AVX2 (callers hold an [`Avx2`]).
#[inline(always)]
unsafe fn pow2(e: __m256i) -> __m256 {
    // SAFETY: AVX2 per this function's contract.
    unsafe {
        _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(
            e,
            _mm256_set1_epi32(127),
        )))
    }
}
