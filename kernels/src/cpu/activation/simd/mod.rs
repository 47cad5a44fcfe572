//! A small portable vocabulary of `f32` vector operations, implemented once per instruction set,
//! so that each activation, softmax and layer-norm body is written once (in [`super::math`] and
//! the families' `kernel.rs`) and compiled per ISA.
//!
//! **Why a token:** each implementation is a zero-sized *witness* type ([`Avx512`], [`Avx2`],
//! [`Neon`]) that can only be created with an `unsafe` constructor whose contract is "this CPU
//! has the features". Holding one proves the intrinsics are legal, so the operations themselves
//! are safe methods. Every method is `#[inline(always)]`: the generic bodies are inlined into the
//! families' `#[target_feature]` entry points, where the intrinsics then inline too.
//!
//! **Semantics every implementation shares bit for bit** (the piecewise-linear activations
//! must equal the scalar reference exactly): [`Simd::max`] is `if a > b { a } else { b }` and
//! [`Simd::min`] is `if a < b { a } else { b }` (x86's `maxps`/`minps`: a NaN in `b`
//! propagates, a NaN in `a` does not), and no operation contracts a multiply and an add unless it
//! is [`Simd::fma`].

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
mod avx512;
#[cfg(target_arch = "aarch64")]
mod neon;

#[cfg(target_arch = "x86_64")]
pub(crate) use avx2::Avx2;
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
pub(crate) use avx512::Avx512;
#[cfg(target_arch = "aarch64")]
pub(crate) use neon::Neon;

/// The widest [`Simd::LANES`]: a stack buffer this long holds any tail.
pub(crate) const MAX_LANES: usize = 16;

/// One instruction set's `f32` vectors (see the module docs for the shared semantics).
pub(crate) trait Simd: Copy {
    /// A vector of [`Simd::LANES`] `f32`s.
    type V: Copy;
    /// A lane mask, as produced by the comparisons.
    type M: Copy;
    /// Lanes per vector.
    const LANES: usize;

    /// Every lane `v`.
    fn splat(self, v: f32) -> Self::V;
    /// The first `LANES` elements of `src`. Panics if `src` is shorter (callers iterate
    /// `chunks_exact(LANES)`, so the check compiles away).
    fn load(self, src: &[f32]) -> Self::V;
    /// Writes the first `LANES` elements of `dst`. Panics if `dst` is shorter.
    fn store(self, dst: &mut [f32], v: Self::V);
    /// The elements of `src` (at most `LANES`: the rest are ignored) in the low lanes, 0 above.
    fn load_tail(self, src: &[f32]) -> Self::V;
    /// The low `min(dst.len(), LANES)` lanes into `dst`.
    fn store_tail(self, dst: &mut [f32], v: Self::V);

    /// `a + b`.
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    /// `a - b`.
    fn sub(self, a: Self::V, b: Self::V) -> Self::V;
    /// `a · b`.
    fn mul(self, a: Self::V, b: Self::V) -> Self::V;
    /// `a / b` (correctly rounded).
    fn div(self, a: Self::V, b: Self::V) -> Self::V;
    /// `a · b + c` with one rounding.
    fn fma(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `c - a · b` with one rounding.
    fn fnma(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `if a > b { a } else { b }` per lane.
    fn max(self, a: Self::V, b: Self::V) -> Self::V;
    /// `if a < b { a } else { b }` per lane.
    fn min(self, a: Self::V, b: Self::V) -> Self::V;
    /// `|a|` (clears the sign bit, NaN included).
    fn abs(self, a: Self::V) -> Self::V;
    /// Round to the nearest integer, ties to even.
    fn round(self, a: Self::V) -> Self::V;
    /// `p · 2ⁿ` for integer-valued `n` in `[-252, 254]`, overflowing to ±∞ and underflowing
    /// (through subnormals) to ±0 as a product would.
    fn ldexp(self, p: Self::V, n: Self::V) -> Self::V;

    /// `a < b` (false when either is NaN).
    fn lt(self, a: Self::V, b: Self::V) -> Self::M;
    /// `a >= b` (false when either is NaN).
    fn ge(self, a: Self::V, b: Self::V) -> Self::M;
    /// Per lane: `a` where `m` is set, else `b`.
    fn select(self, m: Self::M, a: Self::V, b: Self::V) -> Self::V;

    /// The sum of the lanes (in an order of the implementation's choosing).
    fn reduce_add(self, a: Self::V) -> f32;
    /// The largest lane. Which lane wins when some are NaN is up to the implementation (callers
    /// that care detect NaN otherwise: softmax lets it propagate through the sum).
    fn reduce_max(self, a: Self::V) -> f32;
}
