//! The transcendental building blocks, written once over [`Simd`] and compiled per ISA.
//!
//! Each function is `#[inline(always)]` so it lands inside its caller's `#[target_feature]`
//! entry point. The bounds quoted are the maximum errors measured against the oracle by
//! `tests.rs::measured_error_bounds` (every 4099th `f32` bit pattern over the whole line, plus
//! 200 001 points of `[-12, 12]`; identical on AVX-512 and AVX2); relative errors are over
//! results of magnitude >= 1e-30. The looser bounds the tests enforce are in `tests.rs`.

use super::simd::Simd;

/// Inputs are clamped to `[EXP_LO, EXP_HI]`: below, `eˣ` rounds to +0 (`e^-104 < 2^-150`);
/// above, it overflows to +∞ (`e^89 > f32::MAX`), which `ldexp` reproduces.
const EXP_LO: f32 = -104.0;
const EXP_HI: f32 = 89.0;
/// ln 2 split so that `n · LN2_HI` is exact for every `n` the clamp allows (Cody–Waite).
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// Cephes `expf`: `e^r ≈ 1 + r + r²·P(r)` on `|r| <= ln2/2`.
const EXP_P: [f32; 6] = [
    1.987_569_1e-4,
    1.398_199_9e-3,
    8.333_452e-3,
    4.166_579_6e-2,
    1.666_666_5e-1,
    // Cephes' 5.0000001201e-1, which is 0.5 in f32.
    0.5,
];

/// `eˣ`, max relative error 1.2e-7 (≈1 ulp) where the result is a normal float; exact ±0/+∞ at
/// the ends; NaN stays NaN.
///
/// Range reduction `x = n·ln2 + r`, `|r| <= ln2/2`, a degree-6 polynomial for `e^r`, and the
/// exponent `n` applied with [`Simd::ldexp`].
#[inline(always)]
pub(crate) fn exp<S: Simd>(s: S, x: S::V) -> S::V {
    // `x` second: a NaN input survives both clamps.
    let x = s.min(s.splat(EXP_HI), s.max(s.splat(EXP_LO), x));
    let n = s.round(s.mul(x, s.splat(std::f32::consts::LOG2_E)));
    let r = s.fnma(n, s.splat(LN2_HI), x);
    let r = s.fnma(n, s.splat(LN2_LO), r);
    let p = horner(s, r, &EXP_P);
    let e_r = s.add(s.fma(p, s.mul(r, r), r), s.splat(1.0));
    s.ldexp(e_r, n)
}

/// `1 / (1 + e⁻ˣ)`, max absolute error 1.2e-7 and relative error 2.5e-7, also in the far
/// negative tail (no `1 - …` cancellation): with `e = e^-|x| <= 1`, it is `1/(1+e)` for
/// `x >= 0` and `e/(1+e)` below.
#[inline(always)]
pub(crate) fn sigmoid<S: Simd>(s: S, x: S::V) -> S::V {
    let one = s.splat(1.0);
    let e = exp(s, s.sub(s.splat(0.0), s.abs(x)));
    let r = s.div(one, s.add(one, e));
    // NaN fails `>=` and takes `e · r`, which is NaN too.
    s.select(s.ge(x, s.splat(0.0)), r, s.mul(e, r))
}

/// Below this `|x|`, `tanh x` rounds to `x` itself (`x³/3` is under half an ulp of `x`); the
/// rational form would instead lose subnormal inputs to underflow.
const TANH_TINY: f32 = 4e-4;
/// `tanh` is ±1 in `f32` beyond 9.02; the rational form is clamped there.
const TANH_CLAMP: f32 = 9.0;
/// Odd numerator `x·P(x²)` and even denominator `Q(x²)` of the minimax rational for `tanh` on
/// `[-9, 9]` (Eigen's `generic_fast_tanh_float`, also MLAS's), highest degree first.
const TANH_P: [f32; 7] = [
    -2.760_768_5e-16,
    2.000_188e-13,
    -8.604_672e-11,
    5.122_297e-8,
    1.485_722_4e-5,
    6.372_619_3e-4,
    4.893_524_6e-3,
];
const TANH_Q: [f32; 4] = [1.198_258_4e-6, 1.185_347_1e-4, 2.268_434_7e-3, 4.893_525e-3];

/// `tanh x`, max absolute error 1.8e-7 and relative error 3.6e-7 (odd rational, so small
/// arguments keep full relative accuracy); NaN stays NaN.
#[inline(always)]
pub(crate) fn tanh<S: Simd>(s: S, x: S::V) -> S::V {
    let xc = s.min(s.splat(TANH_CLAMP), s.max(s.splat(-TANH_CLAMP), x));
    let t = odd_rational(s, xc, &TANH_P, &TANH_Q);
    let t = s.min(s.splat(1.0), s.max(s.splat(-1.0), t));
    s.select(s.lt(s.abs(x), s.splat(TANH_TINY)), x, t)
}

/// `erf` is ±1 in `f32` beyond 3.92; the rational form is clamped at 4.
const ERF_CLAMP: f32 = 4.0;
/// Numerator `x·P(x²)` and denominator `Q(x²)` of the rational for `erf` on `[-4, 4]` (Eigen's
/// `generic_fast_erf_float`, also XLA's), highest degree first.
const ERF_P: [f32; 7] = [
    -2.726_142_3e-10,
    2.770_681_4e-8,
    -2.101_024e-6,
    -5.692_506_4e-5,
    -7.349_906_3e-4,
    -2.954_600_5e-3,
    -1.609_603_3e-2,
];
const ERF_Q: [f32; 5] = [
    -1.456_607_2e-5,
    -2.133_740_6e-4,
    -1.682_827e-3,
    -7.373_329e-3,
    -1.426_474e-2,
];

/// The error function, max absolute error 1.8e-7 and relative error 3.6e-7 (odd rational, so
/// accurate near 0 too); exactly ±1 from |x| = 4 on, so `1 + erf` cancels to 0 as it should;
/// NaN stays NaN.
#[inline(always)]
pub(crate) fn erf<S: Simd>(s: S, x: S::V) -> S::V {
    let xc = s.min(s.splat(ERF_CLAMP), s.max(s.splat(-ERF_CLAMP), x));
    let e = odd_rational(s, xc, &ERF_P, &ERF_Q);
    s.min(s.splat(1.0), s.max(s.splat(-1.0), e))
}

/// `x · P(x²) / Q(x²)` with both polynomials by Horner, highest degree first.
#[inline(always)]
fn odd_rational<S: Simd>(s: S, x: S::V, p: &[f32], q: &[f32]) -> S::V {
    let x2 = s.mul(x, x);
    s.div(s.mul(x, horner(s, x2, p)), horner(s, x2, q))
}

/// `Σ c[i]·t^(len-1-i)`: Horner's scheme with one FMA per coefficient.
#[inline(always)]
fn horner<S: Simd>(s: S, t: S::V, c: &[f32]) -> S::V {
    let mut acc = s.splat(c[0]);
    for &k in &c[1..] {
        acc = s.fma(acc, t, s.splat(k));
    }
    acc
}
