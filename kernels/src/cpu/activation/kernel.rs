//! The activation loop, written once over [`Simd`]: whole vectors, then the tail as one partial
//! vector (masked on AVX-512, a padded buffer elsewhere), so every element gets the same
//! arithmetic and the same accuracy bound.
//!
//! Each activation's vector arithmetic is a tiny type implementing [`Lanes`] rather than a
//! closure: a closure is a function of its own that does not inherit the entry point's
//! `#[target_feature]`s, so LLVM may keep it — and every intrinsic inside it — out of line (it
//! did: one call per intrinsic). `#[inline(always)]` trait methods are pasted into the entry
//! point, and the loop is monomorphised per activation with the `match` outside it.

use super::math;
use super::simd::Simd;
use super::Activation;

/// `x[i] = act(x[i])` for every element.
#[inline(always)]
pub(crate) fn activate<S: Simd>(s: S, act: Activation, x: &mut [f32]) {
    match act {
        Activation::Relu => map(s, x, Relu),
        Activation::Clip { min, max } => map(s, x, Clip { min, max }),
        Activation::LeakyRelu { alpha } => map(s, x, LeakyRelu { alpha }),
        Activation::HardSigmoid { alpha, beta } => map(s, x, HardSigmoid { alpha, beta }),
        Activation::HardSwish => map(s, x, HardSwish),
        Activation::Sigmoid => map(s, x, Sigmoid),
        Activation::Silu => map(s, x, Silu),
        Activation::Tanh => map(s, x, Tanh),
        Activation::Exp => map(s, x, Exp),
        Activation::Erf => map(s, x, Erf),
        Activation::Gelu => map(s, x, Gelu),
        Activation::GeluTanh => map(s, x, GeluTanh),
    }
}

/// Applies `f` to every vector of `x`, then to the tail as one partial vector.
#[inline(always)]
fn map<S: Simd>(s: S, x: &mut [f32], f: impl Lanes<S>) {
    let mut chunks = x.chunks_exact_mut(S::LANES);
    for chunk in &mut chunks {
        s.store(chunk, f.apply(s, s.load(chunk)));
    }
    let tail = chunks.into_remainder();
    if !tail.is_empty() {
        s.store_tail(tail, f.apply(s, s.load_tail(tail)));
    }
}

/// One activation's arithmetic on one vector.
trait Lanes<S: Simd>: Copy {
    fn apply(self, s: S, v: S::V) -> S::V;
}

#[derive(Clone, Copy)]
struct Relu;
impl<S: Simd> Lanes<S> for Relu {
    /// `max(0, v)` is `0 > v ? 0 : v`: the reference's `v < 0 ? 0 : v`, NaN and -0 included.
    #[inline(always)]
    fn apply(self, s: S, v: S::V) -> S::V {
        s.max(s.splat(0.0), v)
    }
}

#[derive(Clone, Copy)]
struct Clip {
    min: f32,
    max: f32,
}
impl<S: Simd> Lanes<S> for Clip {
    /// `v` second in both: NaN survives, as in the reference.
    #[inline(always)]
    fn apply(self, s: S, v: S::V) -> S::V {
        s.min(s.splat(self.max), s.max(s.splat(self.min), v))
    }
}

#[derive(Clone, Copy)]
struct LeakyRelu {
    alpha: f32,
}
impl<S: Simd> Lanes<S> for LeakyRelu {
    #[inline(always)]
    fn apply(self, s: S, v: S::V) -> S::V {
        s.select(s.ge(v, s.splat(0.0)), v, s.mul(s.splat(self.alpha), v))
    }
}

/// `clamp(v, 0, 1)` as `f32::clamp` does it (NaN stays NaN).
#[inline(always)]
fn clamp01<S: Simd>(s: S, v: S::V) -> S::V {
    s.min(s.splat(1.0), s.max(s.splat(0.0), v))
}

#[derive(Clone, Copy)]
struct HardSigmoid {
    alpha: f32,
    beta: f32,
}
impl<S: Simd> Lanes<S> for HardSigmoid {
    /// Multiply, then add: no FMA, to round exactly as the reference does.
    #[inline(always)]
    fn apply(self, s: S, v: S::V) -> S::V {
        clamp01(s, s.add(s.mul(s.splat(self.alpha), v), s.splat(self.beta)))
    }
}

#[derive(Clone, Copy)]
struct HardSwish;
impl<S: Simd> Lanes<S> for HardSwish {
    #[inline(always)]
    fn apply(self, s: S, v: S::V) -> S::V {
        let gate = s.add(s.mul(v, s.splat(1.0 / 6.0)), s.splat(0.5));
        s.mul(v, clamp01(s, gate))
    }
}

#[derive(Clone, Copy)]
struct Sigmoid;
impl<S: Simd> Lanes<S> for Sigmoid {
    #[inline(always)]
    fn apply(self, s: S, v: S::V) -> S::V {
        math::sigmoid(s, v)
    }
}

#[derive(Clone, Copy)]
struct Silu;
impl<S: Simd> Lanes<S> for Silu {
    #[inline(always)]
    fn apply(self, s: S, v: S::V) -> S::V {
        s.mul(v, math::sigmoid(s, v))
    }
}

#[derive(Clone, Copy)]
struct Tanh;
impl<S: Simd> Lanes<S> for Tanh {
    #[inline(always)]
    fn apply(self, s: S, v: S::V) -> S::V {
        math::tanh(s, v)
    }
}

#[derive(Clone, Copy)]
struct Exp;
impl<S: Simd> Lanes<S> for Exp {
    #[inline(always)]
    fn apply(self, s: S, v: S::V) -> S::V {
        math::exp(s, v)
    }
}

#[derive(Clone, Copy)]
struct Erf;
impl<S: Simd> Lanes<S> for Erf {
    #[inline(always)]
    fn apply(self, s: S, v: S::V) -> S::V {
        math::erf(s, v)
    }
}

#[derive(Clone, Copy)]
struct Gelu;
impl<S: Simd> Lanes<S> for Gelu {
    /// `h + h·erf(v/√2)` with `h = v/2`.
    #[inline(always)]
    fn apply(self, s: S, v: S::V) -> S::V {
        let h = s.mul(s.splat(0.5), v);
        let e = math::erf(s, s.mul(v, s.splat(std::f32::consts::FRAC_1_SQRT_2)));
        s.fma(h, e, h)
    }
}

#[derive(Clone, Copy)]
struct GeluTanh;
impl<S: Simd> Lanes<S> for GeluTanh {
    /// `h + h·tanh(√(2/π)·v·(1 + 0.044715·v²))` with `h = v/2`.
    #[inline(always)]
    fn apply(self, s: S, v: S::V) -> S::V {
        const SQRT_2_OVER_PI: f32 = 0.797_884_6;
        let cubic = s.fma(s.mul(v, v), s.splat(0.044_715), s.splat(1.0));
        let inner = s.mul(s.mul(s.splat(SQRT_2_OVER_PI), v), cubic);
        let h = s.mul(s.splat(0.5), v);
        s.fma(h, math::tanh(s, inner), h)
    }
}
