//! [`Simd`] for aarch64 NEON: 4 lanes; tails through a zero-padded stack buffer.

use std::arch::aarch64::*;

use super::Simd;

/// Witness that the CPU has NEON ([`crate::cpu::Isa::Neon`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Neon(());

impl Neon {
    /// # Safety
    /// The running CPU must support [`crate::cpu::Isa::Neon`].
    #[inline(always)]
    pub(crate) unsafe fn new_unchecked() -> Self {
        Neon(())
    }
}

// SAFETY (every `unsafe` block below): a `Neon` value exists only if its `unsafe` constructor's
// contract holds, so the CPU supports every intrinsic used here; loads and stores touch 4
// elements of a slice checked to hold at least 4, or of a local buffer.
impl Simd for Neon {
    type V = float32x4_t;
    type M = uint32x4_t;
    const LANES: usize = 4;

    #[inline(always)]
    fn splat(self, v: f32) -> float32x4_t {
        unsafe { vdupq_n_f32(v) }
    }
    #[inline(always)]
    fn load(self, src: &[f32]) -> float32x4_t {
        assert!(src.len() >= 4);
        unsafe { vld1q_f32(src.as_ptr()) }
    }
    #[inline(always)]
    fn store(self, dst: &mut [f32], v: float32x4_t) {
        assert!(dst.len() >= 4);
        unsafe { vst1q_f32(dst.as_mut_ptr(), v) }
    }
    #[inline(always)]
    fn load_tail(self, src: &[f32]) -> float32x4_t {
        let mut buf = [0.0f32; 4];
        let n = src.len().min(4);
        buf[..n].copy_from_slice(&src[..n]);
        self.load(&buf)
    }
    #[inline(always)]
    fn store_tail(self, dst: &mut [f32], v: float32x4_t) {
        let mut buf = [0.0f32; 4];
        self.store(&mut buf, v);
        let n = dst.len().min(4);
        dst[..n].copy_from_slice(&buf[..n]);
    }

    #[inline(always)]
    fn add(self, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        unsafe { vaddq_f32(a, b) }
    }
    #[inline(always)]
    fn sub(self, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        unsafe { vsubq_f32(a, b) }
    }
    #[inline(always)]
    fn mul(self, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        unsafe { vmulq_f32(a, b) }
    }
    #[inline(always)]
    fn div(self, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        unsafe { vdivq_f32(a, b) }
    }
    #[inline(always)]
    fn fma(self, a: float32x4_t, b: float32x4_t, c: float32x4_t) -> float32x4_t {
        unsafe { vfmaq_f32(c, a, b) }
    }
    #[inline(always)]
    fn fnma(self, a: float32x4_t, b: float32x4_t, c: float32x4_t) -> float32x4_t {
        unsafe { vfmsq_f32(c, a, b) }
    }
    #[inline(always)]
    fn max(self, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        // Not `vmaxq_f32`: it returns NaN for a NaN in either operand and +0 for max(+0, -0);
        // a compare and select reproduces `a > b ? a : b` exactly.
        unsafe { vbslq_f32(vcgtq_f32(a, b), a, b) }
    }
    #[inline(always)]
    fn min(self, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        unsafe { vbslq_f32(vcltq_f32(a, b), a, b) }
    }
    #[inline(always)]
    fn abs(self, a: float32x4_t) -> float32x4_t {
        unsafe { vabsq_f32(a) }
    }
    #[inline(always)]
    fn round(self, a: float32x4_t) -> float32x4_t {
        unsafe { vrndnq_f32(a) }
    }
    #[inline(always)]
    fn ldexp(self, p: float32x4_t, n: float32x4_t) -> float32x4_t {
        // 2ⁿ as two factors 2^h · 2^(n-h), h = ⌊n/2⌋, each a normal float for n in [-252, 254].
        unsafe {
            let n = vcvtq_s32_f32(n);
            let h = vshrq_n_s32::<1>(n);
            let scaled = vmulq_f32(p, pow2(h));
            vmulq_f32(scaled, pow2(vsubq_s32(n, h)))
        }
    }

    #[inline(always)]
    fn lt(self, a: float32x4_t, b: float32x4_t) -> uint32x4_t {
        unsafe { vcltq_f32(a, b) }
    }
    #[inline(always)]
    fn ge(self, a: float32x4_t, b: float32x4_t) -> uint32x4_t {
        unsafe { vcgeq_f32(a, b) }
    }
    #[inline(always)]
    fn select(self, m: uint32x4_t, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        unsafe { vbslq_f32(m, a, b) }
    }

    #[inline(always)]
    fn reduce_add(self, a: float32x4_t) -> f32 {
        unsafe { vaddvq_f32(a) }
    }
    #[inline(always)]
    fn reduce_max(self, a: float32x4_t) -> f32 {
        unsafe { vmaxvq_f32(a) }
    }
}

/// 2^e for integer `e` in [-126, 127], by writing the biased exponent.
///
/// # Safety
/// The CPU must support NEON (callers hold a [`Neon`]).
#[inline(always)]
unsafe fn pow2(e: int32x4_t) -> float32x4_t {
    // SAFETY: NEON per this function's contract.
    unsafe { vreinterpretq_f32_s32(vshlq_n_s32::<23>(vaddq_s32(e, vdupq_n_s32(127)))) }
}
