//! The handful of `f32` vector operations the sliding-window kernels (depthwise convolution and
//! pooling) need, behind one trait, so each kernel body is written once
//! (`#[inline(always)]`, generic over [`F32Lanes`]) and instantiated inside each ISA's
//! `#[target_feature]` function, where the intrinsics inline.
//!
//! Every method is `unsafe`: the caller promises that the CPU has the vector type's ISA and,
//! for loads and stores, that the pointer is valid for the lanes touched.

#[cfg(target_arch = "aarch64")]
use std::arch::aarch64::*;
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// The widest vector any implementation has, in lanes (sizes the stack buffers of the
/// partial loads and stores).
const MAX_LANES: usize = 16;

/// A vector of `LANES` `f32`s.
///
/// # Safety
///
/// Implementations may only be used on a CPU with their ISA (see each `impl`); load and store
/// pointers must be valid for `LANES` (or the given `n`) elements.
pub(crate) unsafe trait F32Lanes: Copy {
    /// Lanes per vector (at most 16).
    const LANES: usize;

    /// Every lane `v`.
    unsafe fn splat(v: f32) -> Self;
    /// `LANES` elements from `p` (unaligned).
    unsafe fn load(p: *const f32) -> Self;
    /// Writes all lanes to `p` (unaligned).
    unsafe fn store(self, p: *mut f32);
    /// `self · b + acc`, fused where the ISA has FMA.
    unsafe fn mul_add(self, b: Self, acc: Self) -> Self;
    /// `self + b`.
    unsafe fn add(self, b: Self) -> Self;
    /// `self · b`.
    unsafe fn mul(self, b: Self) -> Self;
    /// `self / b` (correctly rounded).
    unsafe fn div(self, b: Self) -> Self;
    /// `max(self, lo)` per lane; a NaN lane of `self` stays NaN (`lo` is never NaN).
    unsafe fn at_least(self, lo: Self) -> Self;
    /// `min(self, hi)` per lane; a NaN lane of `self` stays NaN (`hi` is never NaN).
    unsafe fn at_most(self, hi: Self) -> Self;
    /// `max(self, x)` per lane where a NaN lane of `x` leaves `self` unchanged (`self` is never
    /// NaN): the running maximum of a pooling window, which skips NaN inputs.
    unsafe fn max_skipping_nan(self, x: Self) -> Self;

    /// The first `n < LANES` lanes from `p`, the others `fill`.
    #[inline(always)]
    unsafe fn load_first(p: *const f32, n: usize, fill: f32) -> Self {
        debug_assert!(n <= Self::LANES && Self::LANES <= MAX_LANES);
        let mut buf = [fill; MAX_LANES];
        // SAFETY: the caller makes `p` valid for `n` reads; `n <= LANES <= MAX_LANES`.
        unsafe {
            std::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), n);
            Self::load(buf.as_ptr())
        }
    }

    /// Writes the first `n < LANES` lanes to `p`.
    #[inline(always)]
    unsafe fn store_first(self, p: *mut f32, n: usize) {
        debug_assert!(n <= Self::LANES && Self::LANES <= MAX_LANES);
        let mut buf = [0.0; MAX_LANES];
        // SAFETY: the caller makes `p` valid for `n` writes; `buf` holds `LANES` elements.
        unsafe {
            self.store(buf.as_mut_ptr());
            std::ptr::copy_nonoverlapping(buf.as_ptr(), p, n);
        }
    }

    /// The lanes, in order (for horizontal reductions, once per plane).
    #[inline(always)]
    unsafe fn to_array(self) -> [f32; MAX_LANES] {
        let mut buf = [0.0; MAX_LANES];
        // SAFETY: `buf` holds `MAX_LANES >= LANES` elements.
        unsafe { self.store(buf.as_mut_ptr()) };
        buf
    }
}

/// AVX-512 F: 16 lanes. Needs `avx512f` (the kernels enable `Isa::Avx512`'s full set).
#[cfg(target_arch = "x86_64")]
// SAFETY: every method uses AVX-512 F intrinsics only, which the trait's contract requires.
unsafe impl F32Lanes for __m512 {
    const LANES: usize = 16;

    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        // SAFETY: ISA and pointers as the trait contract requires.
        unsafe { _mm512_set1_ps(v) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: ISA and pointers as the trait contract requires.
        unsafe { _mm512_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: ISA and pointers as the trait contract requires.
        unsafe { _mm512_storeu_ps(p, self) }
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, acc: Self) -> Self {
        // SAFETY: ISA and pointers as the trait contract requires.
        unsafe { _mm512_fmadd_ps(self, b, acc) }
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        // SAFETY: ISA and pointers as the trait contract requires.
        unsafe { _mm512_add_ps(self, b) }
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        // SAFETY: ISA and pointers as the trait contract requires.
        unsafe { _mm512_mul_ps(self, b) }
    }
    #[inline(always)]
    unsafe fn div(self, b: Self) -> Self {
        // SAFETY: ISA and pointers as the trait contract requires.
        unsafe { _mm512_div_ps(self, b) }
    }
    // `vmaxps`/`vminps` return their second operand when either is NaN: put `self` second to
    // keep its NaN, first to skip it.
    #[inline(always)]
    unsafe fn at_least(self, lo: Self) -> Self {
        // SAFETY: ISA and pointers as the trait contract requires.
        unsafe { _mm512_max_ps(lo, self) }
    }
    #[inline(always)]
    unsafe fn at_most(self, hi: Self) -> Self {
        // SAFETY: ISA and pointers as the trait contract requires.
        unsafe { _mm512_min_ps(hi, self) }
    }
    #[inline(always)]
    unsafe fn max_skipping_nan(self, x: Self) -> Self {
        // SAFETY: ISA and pointers as the trait contract requires.
        unsafe { _mm512_max_ps(x, self) }
    }
    #[inline(always)]
    unsafe fn load_first(p: *const f32, n: usize, fill: f32) -> Self {
        // Masked-off lanes are not read (no fault past the end).
        // SAFETY: ISA and pointers as the trait contract requires.
        unsafe { _mm512_mask_loadu_ps(_mm512_set1_ps(fill), first_lanes(n), p) }
    }
    #[inline(always)]
    unsafe fn store_first(self, p: *mut f32, n: usize) {
        // SAFETY: ISA and pointers as the trait contract requires.
        unsafe { _mm512_mask_storeu_ps(p, first_lanes(n), self) }
    }
}

/// The mask of the first `n <= 16` lanes.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn first_lanes(n: usize) -> __mmask16 {
    debug_assert!(n <= 16);
    ((1u32 << n) - 1) as __mmask16
}

/// AVX2 + FMA: 8 lanes. Needs `avx2` and `fma`.
#[cfg(target_arch = "x86_64")]
// SAFETY: every method uses AVX / FMA intrinsics only, which the trait's contract requires.
unsafe impl F32Lanes for __m256 {
    const LANES: usize = 8;

    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        // SAFETY: ISA and pointers as the trait contract requires.
        // SAFETY: ISA and pointers as the trait contract requires.
        unsafe { _mm256_set1_ps(v) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: ISA and pointers as the trait contract requires.
        unsafe { _mm256_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: ISA and pointers as the trait contract requires.
        unsafe { _mm256_storeu_ps(p, self) }
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, acc: Self) -> Self {
        // SAFETY: ISA and pointers as the trait contract requires.
        unsafe { _mm256_fmadd_ps(self, b, acc) }
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        // SAFETY: ISA and pointers as the trait contract requires.
        unsafe { _mm256_add_ps(self, b) }
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        // SAFETY: ISA and pointers as the trait contract requires.
        unsafe { _mm256_mul_ps(self, b) }
    }
    #[inline(always)]
    unsafe fn div(self, b: Self) -> Self {
        // SAFETY: ISA and pointers as the trait contract requires.
        unsafe { _mm256_div_ps(self, b) }
    }
    // Operand order as for `__m512`: the second operand wins when either is NaN.
    #[inline(always)]
    unsafe fn at_least(self, lo: Self) -> Self {
        // SAFETY: ISA and pointers as the trait contract requires.
        unsafe { _mm256_max_ps(lo, self) }
    }
    #[inline(always)]
    unsafe fn at_most(self, hi: Self) -> Self {
        // SAFETY: ISA and pointers as the trait contract requires.
        unsafe { _mm256_min_ps(hi, self) }
    }
    #[inline(always)]
    unsafe fn max_skipping_nan(self, x: Self) -> Self {
        // SAFETY: ISA and pointers as the trait contract requires.
        unsafe { _mm256_max_ps(x, self) }
    }
}

/// NEON: 4 lanes.
#[cfg(target_arch = "aarch64")]
// SAFETY: every method uses NEON intrinsics only, which the trait's contract requires.
unsafe impl F32Lanes for float32x4_t {
    const LANES: usize = 4;

    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        // SAFETY: ISA and pointers as the trait contract requires.
        unsafe { vdupq_n_f32(v) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: ISA and pointers as the trait contract requires.
        unsafe { vld1q_f32(p) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: ISA and pointers as the trait contract requires.
        unsafe { vst1q_f32(p, self) }
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, acc: Self) -> Self {
        // SAFETY: ISA and pointers as the trait contract requires.
        unsafe { vfmaq_f32(acc, self, b) }
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        // SAFETY: ISA and pointers as the trait contract requires.
        unsafe { vaddq_f32(self, b) }
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        // SAFETY: ISA and pointers as the trait contract requires.
        unsafe { vmulq_f32(self, b) }
    }
    #[inline(always)]
    unsafe fn div(self, b: Self) -> Self {
        // SAFETY: ISA and pointers as the trait contract requires.
        unsafe { vdivq_f32(self, b) }
    }
    // `fmax`/`fmin` propagate NaN; `fmaxnm` returns the number when one operand is NaN.
    #[inline(always)]
    unsafe fn at_least(self, lo: Self) -> Self {
        // SAFETY: ISA and pointers as the trait contract requires.
        unsafe { vmaxq_f32(self, lo) }
    }
    #[inline(always)]
    unsafe fn at_most(self, hi: Self) -> Self {
        // SAFETY: ISA and pointers as the trait contract requires.
        unsafe { vminq_f32(self, hi) }
    }
    #[inline(always)]
    unsafe fn max_skipping_nan(self, x: Self) -> Self {
        // SAFETY: ISA and pointers as the trait contract requires.
        unsafe { vmaxnmq_f32(self, x) }
    }
}
