//! The `binary` loop, written once over [`Simd`]: whole vectors, then the tail as one partial
//! vector (masked on AVX-512, a padded buffer elsewhere).
//!
//! Each operator is a tiny type implementing [`Lanes`] rather than a closure, for the reason
//! the activation family gives: a closure does not inherit the entry point's
//! `#[target_feature]`s and may stay out of line, one call per intrinsic.

use super::BinaryOp;
use crate::cpu::activation::simd::Simd;

/// `out[i] = a[i] ∘ b[i]` (operands already validated: length `out.len()` or 1).
#[inline(always)]
pub(crate) fn binary<S: Simd>(s: S, op: BinaryOp, a: &[f32], b: &[f32], out: &mut [f32]) {
    match op {
        BinaryOp::Add => zip(s, a, b, out, Add),
        BinaryOp::Sub => zip(s, a, b, out, Sub),
        BinaryOp::Mul => zip(s, a, b, out, Mul),
        BinaryOp::Div => zip(s, a, b, out, Div),
    }
}

/// Dispatches once on which operand repeats, so the loops below only load what changes.
#[inline(always)]
fn zip<S: Simd>(s: S, a: &[f32], b: &[f32], out: &mut [f32], f: impl Lanes<S>) {
    let n = out.len();
    match (a.len() == n, b.len() == n) {
        (true, true) => both_contiguous(s, a, b, out, f),
        (true, false) => one_repeated::<S, false>(s, a, s.splat(b[0]), out, f),
        (false, true) => one_repeated::<S, true>(s, b, s.splat(a[0]), out, f),
        (false, false) => {
            let v = f.apply(s, s.splat(a[0]), s.splat(b[0]));
            let mut outs = out.chunks_exact_mut(S::LANES);
            for o in &mut outs {
                s.store(o, v);
            }
            let tail = outs.into_remainder();
            if !tail.is_empty() {
                s.store_tail(tail, v);
            }
        }
    }
}

/// Both operands contiguous.
#[inline(always)]
fn both_contiguous<S: Simd>(s: S, a: &[f32], b: &[f32], out: &mut [f32], f: impl Lanes<S>) {
    let mut outs = out.chunks_exact_mut(S::LANES);
    let (mut xs, mut ys) = (a.chunks_exact(S::LANES), b.chunks_exact(S::LANES));
    for ((o, x), y) in (&mut outs).zip(&mut xs).zip(&mut ys) {
        s.store(o, f.apply(s, s.load(x), s.load(y)));
    }
    let tail = outs.into_remainder();
    if !tail.is_empty() {
        let v = f.apply(s, s.load_tail(xs.remainder()), s.load_tail(ys.remainder()));
        s.store_tail(tail, v);
    }
}

/// One contiguous operand `x` against a repeated one, `k` (the left operand when
/// `K_IS_LEFT`, a constant, so the choice compiles away).
#[inline(always)]
fn one_repeated<S: Simd, const K_IS_LEFT: bool>(
    s: S,
    x: &[f32],
    k: S::V,
    out: &mut [f32],
    f: impl Lanes<S>,
) {
    let mut outs = out.chunks_exact_mut(S::LANES);
    let mut xs = x.chunks_exact(S::LANES);
    for (o, x) in (&mut outs).zip(&mut xs) {
        s.store(o, ordered::<S, K_IS_LEFT>(s, f, k, s.load(x)));
    }
    let tail = outs.into_remainder();
    if !tail.is_empty() {
        let v = ordered::<S, K_IS_LEFT>(s, f, k, s.load_tail(xs.remainder()));
        s.store_tail(tail, v);
    }
}

/// `k ∘ x` when `K_IS_LEFT`, else `x ∘ k` (a function, not a closure: see the module docs).
#[inline(always)]
fn ordered<S: Simd, const K_IS_LEFT: bool>(s: S, f: impl Lanes<S>, k: S::V, x: S::V) -> S::V {
    if K_IS_LEFT {
        f.apply(s, k, x)
    } else {
        f.apply(s, x, k)
    }
}

/// One operator's arithmetic on one pair of vectors.
trait Lanes<S: Simd>: Copy {
    fn apply(self, s: S, a: S::V, b: S::V) -> S::V;
}

#[derive(Clone, Copy)]
struct Add;
impl<S: Simd> Lanes<S> for Add {
    #[inline(always)]
    fn apply(self, s: S, a: S::V, b: S::V) -> S::V {
        s.add(a, b)
    }
}

#[derive(Clone, Copy)]
struct Sub;
impl<S: Simd> Lanes<S> for Sub {
    #[inline(always)]
    fn apply(self, s: S, a: S::V, b: S::V) -> S::V {
        s.sub(a, b)
    }
}

#[derive(Clone, Copy)]
struct Mul;
impl<S: Simd> Lanes<S> for Mul {
    #[inline(always)]
    fn apply(self, s: S, a: S::V, b: S::V) -> S::V {
        s.mul(a, b)
    }
}

#[derive(Clone, Copy)]
struct Div;
impl<S: Simd> Lanes<S> for Div {
    #[inline(always)]
    fn apply(self, s: S, a: S::V, b: S::V) -> S::V {
        s.div(a, b)
    }
}
