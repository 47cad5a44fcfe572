//! The few integer-vector operations the quantized depthwise body needs, behind one trait, so
//! the body is written once (`#[inline(always)]`, generic over [`QLanes`]) and instantiated
//! inside each ISA's `#[target_feature]` function, where the intrinsics inline.
//!
//! A vector holds `LANES` `i32` accumulators for consecutive output columns. Its input is a
//! *pair plane*: each `u32` is two `i16` (low half: a tap of kernel row `ky`, high half: the
//! same tap of row `ky + 1`), so one multiply-add of pairs applies two kernel rows.
//!
//! Every method is `unsafe`: the caller promises that the CPU has the type's ISA and, for loads
//! and stores, that the pointer is valid for the lanes touched.

#[cfg(target_arch = "aarch64")]
use std::arch::aarch64::*;
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Per-channel constants of the output conversion, as vectors.
#[derive(Clone, Copy)]
pub(crate) struct Consts<I, F> {
    pub(crate) bias: I,
    pub(crate) scale: F,
    pub(crate) zero_point: I,
    /// `lo − zero_point` and `hi − zero_point`, the bounds of the float before rounding:
    /// clamping there gives the integers the reference's clamp to ±65536, rounding, `+ zp` and
    /// clamp to `[lo, hi]` give (rounding is monotonic, the bounds are integers within ±383),
    /// with no integer clamp.
    pub(crate) fmin: F,
    pub(crate) fmax: F,
}

/// `LANES` `i32` accumulators.
///
/// # Safety
///
/// Implementations may only be used on a CPU with their ISA; pointers must be valid for
/// `LANES` (or the given `n`) elements.
pub(crate) unsafe trait QLanes: Copy {
    /// Lanes per vector (at most 16).
    const LANES: usize;
    /// A weight pair in the form [`QLanes::madd`] takes.
    type W: Copy;
    /// The output conversion's constants.
    type K: Copy;

    /// All zero.
    unsafe fn zero() -> Self;
    /// `pair` (low `i16`: first row's weight, high: second row's) in every lane.
    unsafe fn weights(pair: u32) -> Self::W;
    /// `self + lo(p[i])·lo(w) + hi(p[i])·hi(w)` per lane `i`, wrapping, `p` unaligned.
    unsafe fn madd(self, p: *const u32, w: Self::W) -> Self;
    /// `self + b`, wrapping.
    unsafe fn add(self, b: Self) -> Self;
    /// The output conversion's constants.
    unsafe fn consts(bias: i32, scale: f32, zero_point: i32, lo: i32, hi: i32) -> Self::K;
    /// The first `n <= LANES` lanes converted as `QDepthwiseOut::U8` (low byte of the
    /// clamped `i32`) to `dst`.
    unsafe fn store_q8(self, k: &Self::K, dst: *mut u8, n: usize);
    /// The first `n <= LANES` lanes as `(acc + bias) as f32 * scale` to `dst`.
    unsafe fn store_f32(self, k: &Self::K, dst: *mut f32, n: usize);
}

/// AVX-512 F + BW: 16 lanes.
#[cfg(target_arch = "x86_64")]
unsafe impl QLanes for __m512i {
    const LANES: usize = 16;
    type W = __m512i;
    type K = Consts<__m512i, __m512>;

    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: AVX-512 F per the trait contract.
        unsafe { _mm512_setzero_si512() }
    }
    #[inline(always)]
    unsafe fn weights(pair: u32) -> __m512i {
        // SAFETY: AVX-512 F per the trait contract.
        unsafe { _mm512_set1_epi32(pair as i32) }
    }
    #[inline(always)]
    unsafe fn madd(self, p: *const u32, w: __m512i) -> Self {
        // SAFETY: AVX-512 BW per the trait contract; `p` is readable for 64 bytes.
        unsafe { _mm512_add_epi32(self, _mm512_madd_epi16(_mm512_loadu_si512(p.cast()), w)) }
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        // SAFETY: AVX-512 F per the trait contract.
        unsafe { _mm512_add_epi32(self, b) }
    }
    #[inline(always)]
    unsafe fn consts(bias: i32, scale: f32, zero_point: i32, lo: i32, hi: i32) -> Self::K {
        // SAFETY: AVX-512 F per the trait contract.
        unsafe {
            Consts {
                bias: _mm512_set1_epi32(bias),
                scale: _mm512_set1_ps(scale),
                zero_point: _mm512_set1_epi32(zero_point),
                fmin: _mm512_set1_ps((lo - zero_point) as f32),
                fmax: _mm512_set1_ps((hi - zero_point) as f32),
            }
        }
    }
    #[inline(always)]
    unsafe fn store_q8(self, k: &Self::K, dst: *mut u8, n: usize) {
        // SAFETY: AVX-512 F per the trait contract; the masked store touches `n` bytes.
        unsafe {
            let f = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(self, k.bias)), k.scale);
            let f = _mm512_min_ps(_mm512_max_ps(f, k.fmin), k.fmax);
            // Round to nearest even: the MXCSR default, which Rust code never changes.
            let i = _mm512_add_epi32(_mm512_cvtps_epi32(f), k.zero_point);
            _mm512_mask_cvtepi32_storeu_epi8(dst.cast(), mask16(n), i);
        }
    }
    #[inline(always)]
    unsafe fn store_f32(self, k: &Self::K, dst: *mut f32, n: usize) {
        // SAFETY: AVX-512 F per the trait contract; the masked store touches `n` elements.
        unsafe {
            let f = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(self, k.bias)), k.scale);
            _mm512_mask_storeu_ps(dst, mask16(n), f);
        }
    }
}

/// AVX-512 F + BW + VNNI: [`__m512i`] with the multiply-add fused into one `vpdpwssd`.
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
#[derive(Clone, Copy)]
pub(crate) struct Vnni(__m512i);

#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
unsafe impl QLanes for Vnni {
    const LANES: usize = 16;
    type W = __m512i;
    type K = Consts<__m512i, __m512>;

    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: AVX-512 F per the trait contract.
        unsafe { Vnni(<__m512i as QLanes>::zero()) }
    }
    #[inline(always)]
    unsafe fn weights(pair: u32) -> __m512i {
        // SAFETY: AVX-512 F per the trait contract.
        unsafe { <__m512i as QLanes>::weights(pair) }
    }
    #[inline(always)]
    unsafe fn madd(self, p: *const u32, w: __m512i) -> Self {
        // SAFETY: AVX-512 VNNI per the trait contract; `p` is readable for 64 bytes.
        // `vpdpwssd` adds both products to the accumulator modulo 2^32, as `vpmaddwd` +
        // `vpaddd` do, so the results are the same bits.
        unsafe { Vnni(_mm512_dpwssd_epi32(self.0, _mm512_loadu_si512(p.cast()), w)) }
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        // SAFETY: AVX-512 F per the trait contract.
        unsafe { Vnni(_mm512_add_epi32(self.0, b.0)) }
    }
    #[inline(always)]
    unsafe fn consts(bias: i32, scale: f32, zero_point: i32, lo: i32, hi: i32) -> Self::K {
        // SAFETY: AVX-512 F per the trait contract.
        unsafe { <__m512i as QLanes>::consts(bias, scale, zero_point, lo, hi) }
    }
    #[inline(always)]
    unsafe fn store_q8(self, k: &Self::K, dst: *mut u8, n: usize) {
        // SAFETY: forwarded contract.
        unsafe { self.0.store_q8(k, dst, n) }
    }
    #[inline(always)]
    unsafe fn store_f32(self, k: &Self::K, dst: *mut f32, n: usize) {
        // SAFETY: forwarded contract.
        unsafe { self.0.store_f32(k, dst, n) }
    }
}

/// The first `n <= 16` lanes.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn mask16(n: usize) -> __mmask16 {
    ((1u32 << n) - 1) as __mmask16
}

/// AVX2: 8 lanes.
#[cfg(target_arch = "x86_64")]
unsafe impl QLanes for __m256i {
    const LANES: usize = 8;
    type W = __m256i;
    type K = Consts<__m256i, __m256>;

    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: AVX per the trait contract.
        unsafe { _mm256_setzero_si256() }
    }
    #[inline(always)]
    unsafe fn weights(pair: u32) -> __m256i {
        // SAFETY: AVX per the trait contract.
        unsafe { _mm256_set1_epi32(pair as i32) }
    }
    #[inline(always)]
    unsafe fn madd(self, p: *const u32, w: __m256i) -> Self {
        // SAFETY: AVX2 per the trait contract; `p` is readable for 32 bytes.
        unsafe { _mm256_add_epi32(self, _mm256_madd_epi16(_mm256_loadu_si256(p.cast()), w)) }
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        // SAFETY: AVX2 per the trait contract.
        unsafe { _mm256_add_epi32(self, b) }
    }
    #[inline(always)]
    unsafe fn consts(bias: i32, scale: f32, zero_point: i32, lo: i32, hi: i32) -> Self::K {
        // SAFETY: AVX per the trait contract.
        unsafe {
            Consts {
                bias: _mm256_set1_epi32(bias),
                scale: _mm256_set1_ps(scale),
                zero_point: _mm256_set1_epi32(zero_point),
                fmin: _mm256_set1_ps((lo - zero_point) as f32),
                fmax: _mm256_set1_ps((hi - zero_point) as f32),
            }
        }
    }
    #[inline(always)]
    unsafe fn store_q8(self, k: &Self::K, dst: *mut u8, n: usize) {
        // SAFETY: AVX2 per the trait contract; `n` bytes are written.
        unsafe {
            let f = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(self, k.bias)), k.scale);
            let f = _mm256_min_ps(_mm256_max_ps(f, k.fmin), k.fmax);
            // Round to nearest even: the MXCSR default.
            let i = _mm256_add_epi32(_mm256_cvtps_epi32(f), k.zero_point);
            // Low byte of each lane: bytes 0, 4, 8, 12 of each 128-bit half, then the halves'
            // first dwords together.
            let b = _mm256_shuffle_epi8(
                i,
                _mm256_setr_epi8(
                    0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12, -1,
                    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                ),
            );
            let b = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0));
            let b = _mm256_castsi256_si128(b);
            if n == 8 {
                _mm_storel_epi64(dst.cast(), b);
            } else {
                let mut buf = [0u8; 16];
                _mm_storeu_si128(buf.as_mut_ptr().cast(), b);
                std::ptr::copy_nonoverlapping(buf.as_ptr(), dst, n);
            }
        }
    }
    #[inline(always)]
    unsafe fn store_f32(self, k: &Self::K, dst: *mut f32, n: usize) {
        // SAFETY: AVX per the trait contract; `n` elements are written.
        unsafe {
            let f = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(self, k.bias)), k.scale);
            if n == 8 {
                _mm256_storeu_ps(dst, f);
            } else {
                let mut buf = [0f32; 8];
                _mm256_storeu_ps(buf.as_mut_ptr(), f);
                std::ptr::copy_nonoverlapping(buf.as_ptr(), dst, n);
            }
        }
    }
}

/// NEON: 8 lanes in two `int32x4_t` (`vld2` splits 8 pairs into their two rows).
#[cfg(target_arch = "aarch64")]
#[derive(Clone, Copy)]
pub(crate) struct Neon8(int32x4_t, int32x4_t);

#[cfg(target_arch = "aarch64")]
unsafe impl QLanes for Neon8 {
    const LANES: usize = 8;
    type W = (int16x8_t, int16x8_t);
    type K = Consts<int32x4_t, float32x4_t>;

    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: NEON per the trait contract.
        unsafe { Neon8(vdupq_n_s32(0), vdupq_n_s32(0)) }
    }
    #[inline(always)]
    unsafe fn weights(pair: u32) -> Self::W {
        // SAFETY: NEON per the trait contract.
        unsafe {
            (
                vdupq_n_s16(pair as u16 as i16),
                vdupq_n_s16((pair >> 16) as u16 as i16),
            )
        }
    }
    #[inline(always)]
    unsafe fn madd(self, p: *const u32, w: Self::W) -> Self {
        // SAFETY: NEON per the trait contract; `p` is readable for 8 pairs (32 bytes).
        unsafe {
            // Little-endian pairs: `.0` gets the low halves (first row), `.1` the high ones.
            let x = vld2q_s16(p.cast());
            let lo = vmlal_s16(self.0, vget_low_s16(x.0), vget_low_s16(w.0));
            let hi = vmlal_high_s16(self.1, x.0, w.0);
            Neon8(
                vmlal_s16(lo, vget_low_s16(x.1), vget_low_s16(w.1)),
                vmlal_high_s16(hi, x.1, w.1),
            )
        }
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        // SAFETY: NEON per the trait contract.
        unsafe { Neon8(vaddq_s32(self.0, b.0), vaddq_s32(self.1, b.1)) }
    }
    #[inline(always)]
    unsafe fn consts(bias: i32, scale: f32, zero_point: i32, lo: i32, hi: i32) -> Self::K {
        // SAFETY: NEON per the trait contract.
        unsafe {
            Consts {
                bias: vdupq_n_s32(bias),
                scale: vdupq_n_f32(scale),
                zero_point: vdupq_n_s32(zero_point),
                fmin: vdupq_n_f32((lo - zero_point) as f32),
                fmax: vdupq_n_f32((hi - zero_point) as f32),
            }
        }
    }
    #[inline(always)]
    unsafe fn store_q8(self, k: &Self::K, dst: *mut u8, n: usize) {
        // SAFETY: NEON per the trait contract; `n` bytes are written.
        unsafe {
            let q = |a: int32x4_t| {
                let f = vmulq_f32(vcvtq_f32_s32(vaddq_s32(a, k.bias)), k.scale);
                let f = vminq_f32(vmaxq_f32(f, k.fmin), k.fmax);
                vaddq_s32(vcvtnq_s32_f32(f), k.zero_point)
            };
            let (a, b) = (q(self.0), q(self.1));
            let bytes = vmovn_s16(vcombine_s16(vmovn_s32(a), vmovn_s32(b)));
            if n == 8 {
                vst1_s8(dst.cast(), bytes);
            } else {
                let mut buf = [0i8; 8];
                vst1_s8(buf.as_mut_ptr(), bytes);
                std::ptr::copy_nonoverlapping(buf.as_ptr().cast(), dst, n);
            }
        }
    }
    #[inline(always)]
    unsafe fn store_f32(self, k: &Self::K, dst: *mut f32, n: usize) {
        // SAFETY: NEON per the trait contract; `n` elements are written.
        unsafe {
            let f0 = vmulq_f32(vcvtq_f32_s32(vaddq_s32(self.0, k.bias)), k.scale);
            let f1 = vmulq_f32(vcvtq_f32_s32(vaddq_s32(self.1, k.bias)), k.scale);
            let mut buf = [0f32; 8];
            vst1q_f32(buf.as_mut_ptr(), f0);
            vst1q_f32(buf.as_mut_ptr().add(4), f1);
            std::ptr::copy_nonoverlapping(buf.as_ptr(), dst, n);
        }
    }
}
