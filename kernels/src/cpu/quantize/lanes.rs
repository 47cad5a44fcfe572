//! The `f32` / `i32` vector operations the quantize family needs, behind one trait, so the
//! bodies are written once (`#[inline(always)]`, generic over [`QVec`]) and instantiated inside
//! each ISA's `#[target_feature]` function, where the intrinsics inline.
//!
//! Every method is `unsafe`: the caller promises that the CPU has the type's ISA and, for loads
//! and stores, that the pointer is valid for `LANES` elements.

#[cfg(target_arch = "aarch64")]
use std::arch::aarch64::*;
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// The widest vector of any implementation, in lanes (sizes the tails' stack buffers).
pub(crate) const MAX_LANES: usize = 16;

/// A vector of `LANES` `f32`, with its `i32` counterpart [`QVec::I`].
///
/// # Safety
///
/// Implementations may only be used on a CPU with their ISA; pointers must be valid for
/// `LANES` elements.
pub(crate) unsafe trait QVec: Copy {
    /// Lanes per vector (at most [`MAX_LANES`]).
    const LANES: usize;
    /// `LANES` `i32`.
    type I: Copy;

    /// Every lane `v`.
    unsafe fn splat(v: f32) -> Self;
    /// Every lane `v`.
    unsafe fn splat_i(v: i32) -> Self::I;
    /// `LANES` elements from `p` (unaligned).
    unsafe fn load(p: *const f32) -> Self;
    /// All lanes to `p` (unaligned).
    unsafe fn store(self, p: *mut f32);
    /// `LANES` bytes from `p`, each widened to `i32` as `i8` if `signed`, else as `u8`.
    unsafe fn load_bytes(p: *const u8, signed: bool) -> Self::I;
    /// The low byte of each lane to `p` (`LANES` bytes).
    unsafe fn store_bytes(v: Self::I, p: *mut u8);
    /// `a − b`, wrapping.
    unsafe fn sub_i(a: Self::I, b: Self::I) -> Self::I;
    /// Each lane converted (round to nearest even, as `as f32`).
    unsafe fn to_f32(v: Self::I) -> Self;
    /// `self + b`.
    unsafe fn add(self, b: Self) -> Self;
    /// `self − b`.
    unsafe fn sub(self, b: Self) -> Self;
    /// `self · b`.
    unsafe fn mul(self, b: Self) -> Self;
    /// `self / b` (correctly rounded).
    unsafe fn div(self, b: Self) -> Self;
    /// `max(self, b)` for non-NaN lanes (either zero of ±0).
    unsafe fn max(self, b: Self) -> Self;
    /// `min(self, b)` for non-NaN lanes (either zero of ±0).
    unsafe fn min(self, b: Self) -> Self;
    /// `clamp(round_half_even(self) + zero_point, lo, hi)` with NaN → 0 before the `+`: the
    /// family's `Q` (lanes are clamped to ±65536 first, which changes no result).
    unsafe fn quantize(self, zero_point: Self::I, lo: Self::I, hi: Self::I) -> Self::I;
    /// `round_half_even(clamp(self, fmin, fmax)) + zero_point` for lanes that are not NaN: with
    /// `fmin = lo − zero_point` and `fmax = hi − zero_point` (integers), the same as
    /// [`QVec::quantize`] (rounding is monotonic), in four operations instead of eight.
    unsafe fn quantize_finite(self, fmin: Self, fmax: Self, zero_point: Self::I) -> Self::I;
}

/// AVX-512 F + BW: 16 lanes.
#[cfg(target_arch = "x86_64")]
unsafe impl QVec for __m512 {
    const LANES: usize = 16;
    type I = __m512i;

    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        // SAFETY: AVX-512 F per the trait contract.
        unsafe { _mm512_set1_ps(v) }
    }
    #[inline(always)]
    unsafe fn splat_i(v: i32) -> __m512i {
        // SAFETY: AVX-512 F per the trait contract.
        unsafe { _mm512_set1_epi32(v) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: AVX-512 F; `p` readable for 16 lanes per the trait contract.
        unsafe { _mm512_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: AVX-512 F; `p` writable for 16 lanes per the trait contract.
        unsafe { _mm512_storeu_ps(p, self) }
    }
    #[inline(always)]
    unsafe fn load_bytes(p: *const u8, signed: bool) -> __m512i {
        // SAFETY: AVX-512 F; `p` readable for 16 bytes per the trait contract.
        unsafe {
            let b = _mm_loadu_si128(p.cast());
            if signed {
                _mm512_cvtepi8_epi32(b)
            } else {
                _mm512_cvtepu8_epi32(b)
            }
        }
    }
    #[inline(always)]
    unsafe fn store_bytes(v: __m512i, p: *mut u8) {
        // SAFETY: AVX-512 F; `p` writable for 16 bytes per the trait contract.
        unsafe { _mm_storeu_si128(p.cast(), _mm512_cvtepi32_epi8(v)) }
    }
    #[inline(always)]
    unsafe fn sub_i(a: __m512i, b: __m512i) -> __m512i {
        // SAFETY: AVX-512 F per the trait contract.
        unsafe { _mm512_sub_epi32(a, b) }
    }
    #[inline(always)]
    unsafe fn to_f32(v: __m512i) -> Self {
        // SAFETY: AVX-512 F per the trait contract.
        unsafe { _mm512_cvtepi32_ps(v) }
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        // SAFETY: AVX-512 F per the trait contract.
        unsafe { _mm512_add_ps(self, b) }
    }
    #[inline(always)]
    unsafe fn sub(self, b: Self) -> Self {
        // SAFETY: AVX-512 F per the trait contract.
        unsafe { _mm512_sub_ps(self, b) }
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        // SAFETY: AVX-512 F per the trait contract.
        unsafe { _mm512_mul_ps(self, b) }
    }
    #[inline(always)]
    unsafe fn div(self, b: Self) -> Self {
        // SAFETY: AVX-512 F per the trait contract.
        unsafe { _mm512_div_ps(self, b) }
    }
    #[inline(always)]
    unsafe fn max(self, b: Self) -> Self {
        // SAFETY: AVX-512 F per the trait contract.
        unsafe { _mm512_max_ps(self, b) }
    }
    #[inline(always)]
    unsafe fn min(self, b: Self) -> Self {
        // SAFETY: AVX-512 F per the trait contract.
        unsafe { _mm512_min_ps(self, b) }
    }
    #[inline(always)]
    unsafe fn quantize(self, zero_point: __m512i, lo: __m512i, hi: __m512i) -> __m512i {
        // SAFETY: AVX-512 F per the trait contract.
        unsafe {
            // NaN lanes to +0 (the scalar `as i32` gives 0), then into ±65536.
            let ordered = _mm512_cmp_ps_mask::<_CMP_ORD_Q>(self, self);
            let v = _mm512_maskz_mov_ps(ordered, self);
            let v = _mm512_min_ps(
                _mm512_max_ps(v, _mm512_set1_ps(-65536.0)),
                _mm512_set1_ps(65536.0),
            );
            // Round to nearest even: the MXCSR default, which Rust code never changes.
            let i = _mm512_add_epi32(_mm512_cvtps_epi32(v), zero_point);
            _mm512_min_epi32(_mm512_max_epi32(i, lo), hi)
        }
    }
    #[inline(always)]
    unsafe fn quantize_finite(self, fmin: Self, fmax: Self, zero_point: __m512i) -> __m512i {
        // SAFETY: AVX-512 F per the trait contract.
        unsafe {
            let v = _mm512_min_ps(_mm512_max_ps(self, fmin), fmax);
            _mm512_add_epi32(_mm512_cvtps_epi32(v), zero_point)
        }
    }
}

/// AVX2: 8 lanes.
#[cfg(target_arch = "x86_64")]
unsafe impl QVec for __m256 {
    const LANES: usize = 8;
    type I = __m256i;

    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        // SAFETY: AVX per the trait contract.
        unsafe { _mm256_set1_ps(v) }
    }
    #[inline(always)]
    unsafe fn splat_i(v: i32) -> __m256i {
        // SAFETY: AVX per the trait contract.
        unsafe { _mm256_set1_epi32(v) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: AVX; `p` readable for 8 lanes per the trait contract.
        unsafe { _mm256_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: AVX; `p` writable for 8 lanes per the trait contract.
        unsafe { _mm256_storeu_ps(p, self) }
    }
    #[inline(always)]
    unsafe fn load_bytes(p: *const u8, signed: bool) -> __m256i {
        // SAFETY: AVX2; `p` readable for 8 bytes per the trait contract.
        unsafe {
            let b = _mm_loadl_epi64(p.cast());
            if signed {
                _mm256_cvtepi8_epi32(b)
            } else {
                _mm256_cvtepu8_epi32(b)
            }
        }
    }
    #[inline(always)]
    unsafe fn store_bytes(v: __m256i, p: *mut u8) {
        // SAFETY: AVX2; `p` writable for 8 bytes per the trait contract.
        unsafe {
            // Low byte of each lane: bytes 0, 4, 8, 12 of each 128-bit half, then the halves'
            // first dwords together.
            let b = _mm256_shuffle_epi8(
                v,
                _mm256_setr_epi8(
                    0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12, -1,
                    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                ),
            );
            let b = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0));
            _mm_storel_epi64(p.cast(), _mm256_castsi256_si128(b));
        }
    }
    #[inline(always)]
    unsafe fn sub_i(a: __m256i, b: __m256i) -> __m256i {
        // SAFETY: AVX2 per the trait contract.
        unsafe { _mm256_sub_epi32(a, b) }
    }
    #[inline(always)]
    unsafe fn to_f32(v: __m256i) -> Self {
        // SAFETY: AVX per the trait contract.
        unsafe { _mm256_cvtepi32_ps(v) }
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        // SAFETY: AVX per the trait contract.
        unsafe { _mm256_add_ps(self, b) }
    }
    #[inline(always)]
    unsafe fn sub(self, b: Self) -> Self {
        // SAFETY: AVX per the trait contract.
        unsafe { _mm256_sub_ps(self, b) }
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        // SAFETY: AVX per the trait contract.
        unsafe { _mm256_mul_ps(self, b) }
    }
    #[inline(always)]
    unsafe fn div(self, b: Self) -> Self {
        // SAFETY: AVX per the trait contract.
        unsafe { _mm256_div_ps(self, b) }
    }
    #[inline(always)]
    unsafe fn max(self, b: Self) -> Self {
        // SAFETY: AVX per the trait contract.
        unsafe { _mm256_max_ps(self, b) }
    }
    #[inline(always)]
    unsafe fn min(self, b: Self) -> Self {
        // SAFETY: AVX per the trait contract.
        unsafe { _mm256_min_ps(self, b) }
    }
    #[inline(always)]
    unsafe fn quantize(self, zero_point: __m256i, lo: __m256i, hi: __m256i) -> __m256i {
        // SAFETY: AVX2 per the trait contract.
        unsafe {
            // NaN lanes to +0 (the scalar `as i32` gives 0), then into ±65536.
            let v = _mm256_and_ps(self, _mm256_cmp_ps::<_CMP_ORD_Q>(self, self));
            let v = _mm256_min_ps(
                _mm256_max_ps(v, _mm256_set1_ps(-65536.0)),
                _mm256_set1_ps(65536.0),
            );
            // Round to nearest even: the MXCSR default.
            let i = _mm256_add_epi32(_mm256_cvtps_epi32(v), zero_point);
            _mm256_min_epi32(_mm256_max_epi32(i, lo), hi)
        }
    }
    #[inline(always)]
    unsafe fn quantize_finite(self, fmin: Self, fmax: Self, zero_point: __m256i) -> __m256i {
        // SAFETY: AVX per the trait contract.
        unsafe {
            let v = _mm256_min_ps(_mm256_max_ps(self, fmin), fmax);
            _mm256_add_epi32(_mm256_cvtps_epi32(v), zero_point)
        }
    }
}

/// NEON: 4 lanes.
#[cfg(target_arch = "aarch64")]
unsafe impl QVec for float32x4_t {
    const LANES: usize = 4;
    type I = int32x4_t;

    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        // SAFETY: NEON per the trait contract.
        unsafe { vdupq_n_f32(v) }
    }
    #[inline(always)]
    unsafe fn splat_i(v: i32) -> int32x4_t {
        // SAFETY: NEON per the trait contract.
        unsafe { vdupq_n_s32(v) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: NEON; `p` readable for 4 lanes per the trait contract.
        unsafe { vld1q_f32(p) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: NEON; `p` writable for 4 lanes per the trait contract.
        unsafe { vst1q_f32(p, self) }
    }
    #[inline(always)]
    unsafe fn load_bytes(p: *const u8, signed: bool) -> int32x4_t {
        // SAFETY: NEON; `p` readable for 4 bytes per the trait contract.
        unsafe {
            let word = vdup_n_u32(p.cast::<u32>().read_unaligned());
            if signed {
                let b = vreinterpret_s8_u32(word);
                vmovl_s16(vget_low_s16(vmovl_s8(b)))
            } else {
                let b = vreinterpret_u8_u32(word);
                vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(vmovl_u8(b))))
            }
        }
    }
    #[inline(always)]
    unsafe fn store_bytes(v: int32x4_t, p: *mut u8) {
        // SAFETY: NEON; `p` writable for 4 bytes per the trait contract.
        unsafe {
            let h = vmovn_s32(v);
            let b = vmovn_s16(vcombine_s16(h, h));
            let word = vget_lane_u32::<0>(vreinterpret_u32_s8(b));
            p.cast::<u32>().write_unaligned(word);
        }
    }
    #[inline(always)]
    unsafe fn sub_i(a: int32x4_t, b: int32x4_t) -> int32x4_t {
        // SAFETY: NEON per the trait contract.
        unsafe { vsubq_s32(a, b) }
    }
    #[inline(always)]
    unsafe fn to_f32(v: int32x4_t) -> Self {
        // SAFETY: NEON per the trait contract.
        unsafe { vcvtq_f32_s32(v) }
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        // SAFETY: NEON per the trait contract.
        unsafe { vaddq_f32(self, b) }
    }
    #[inline(always)]
    unsafe fn sub(self, b: Self) -> Self {
        // SAFETY: NEON per the trait contract.
        unsafe { vsubq_f32(self, b) }
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        // SAFETY: NEON per the trait contract.
        unsafe { vmulq_f32(self, b) }
    }
    #[inline(always)]
    unsafe fn div(self, b: Self) -> Self {
        // SAFETY: NEON per the trait contract.
        unsafe { vdivq_f32(self, b) }
    }
    #[inline(always)]
    unsafe fn max(self, b: Self) -> Self {
        // SAFETY: NEON per the trait contract.
        unsafe { vmaxq_f32(self, b) }
    }
    #[inline(always)]
    unsafe fn min(self, b: Self) -> Self {
        // SAFETY: NEON per the trait contract.
        unsafe { vminq_f32(self, b) }
    }
    #[inline(always)]
    unsafe fn quantize(self, zero_point: int32x4_t, lo: int32x4_t, hi: int32x4_t) -> int32x4_t {
        // SAFETY: NEON per the trait contract.
        unsafe {
            // `vmax`/`vmin` keep NaN and `vcvtn` turns NaN into 0, like the scalar `as i32`.
            let v = vminq_f32(vmaxq_f32(self, vdupq_n_f32(-65536.0)), vdupq_n_f32(65536.0));
            let i = vaddq_s32(vcvtnq_s32_f32(v), zero_point);
            vminq_s32(vmaxq_s32(i, lo), hi)
        }
    }
    #[inline(always)]
    unsafe fn quantize_finite(
        self,
        fmin: float32x4_t,
        fmax: float32x4_t,
        zero_point: int32x4_t,
    ) -> int32x4_t {
        // SAFETY: NEON per the trait contract.
        unsafe {
            vaddq_s32(
                vcvtnq_s32_f32(vminq_f32(vmaxq_f32(self, fmin), fmax)),
                zero_point,
            )
        }
    }
}
