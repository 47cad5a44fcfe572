//! The softmax row loop, written once over [`Simd`]: a max pass, an exp-and-sum pass, and an
//! output pass. Tails go through the same vector arithmetic ([`Simd::load_tail`]); only their
//! contributions to the max and the sum are taken lane by lane, so padding lanes never count.
//! (No closures: they would not inherit the entry point's `#[target_feature]`s.)

use super::SoftmaxParams;
use crate::cpu::activation::math::exp;
use crate::cpu::activation::simd::{Simd, MAX_LANES};

/// Softmax of every row; `x` and `y` already validated.
#[inline(always)]
pub(crate) fn softmax<S: Simd>(s: S, p: &SoftmaxParams, x: &[f32], y: &mut [f32]) {
    if x.is_empty() {
        return;
    }
    for (x, y) in x.chunks_exact(p.row_len).zip(y.chunks_exact_mut(p.row_len)) {
        let max = row_max(s, x);
        if p.log {
            let log_sum = exp_sum(s, x, max).ln();
            subtract_both(s, x, y, max, log_sum);
        } else {
            let sum = exp_into(s, x, max, y);
            scale_in_place(s, y, 1.0 / sum);
        }
    }
}

/// The row's maximum (a NaN may or may not win: it reaches the output through the sum anyway).
#[inline(always)]
fn row_max<S: Simd>(s: S, x: &[f32]) -> f32 {
    let mut m = s.splat(f32::NEG_INFINITY);
    let mut chunks = x.chunks_exact(S::LANES);
    for c in &mut chunks {
        m = s.max(m, s.load(c));
    }
    chunks
        .remainder()
        .iter()
        .fold(s.reduce_max(m), |m, &v| if v > m { v } else { m })
}

/// `Σ e^(x - max)`.
#[inline(always)]
fn exp_sum<S: Simd>(s: S, x: &[f32], max: f32) -> f32 {
    let max_v = s.splat(max);
    let mut acc = s.splat(0.0);
    let mut chunks = x.chunks_exact(S::LANES);
    for c in &mut chunks {
        acc = s.add(acc, exp(s, s.sub(s.load(c), max_v)));
    }
    let tail = chunks.remainder();
    let mut terms = [0.0f32; MAX_LANES];
    let terms = &mut terms[..tail.len()];
    if !tail.is_empty() {
        s.store_tail(terms, exp(s, s.sub(s.load_tail(tail), max_v)));
    }
    s.reduce_add(acc) + terms.iter().sum::<f32>()
}

/// `y = e^(x - max)`, returning `Σ y`.
#[inline(always)]
fn exp_into<S: Simd>(s: S, x: &[f32], max: f32, y: &mut [f32]) -> f32 {
    let max_v = s.splat(max);
    let mut acc = s.splat(0.0);
    let mut xs = x.chunks_exact(S::LANES);
    let mut ys = y.chunks_exact_mut(S::LANES);
    for (xc, yc) in (&mut xs).zip(&mut ys) {
        let e = exp(s, s.sub(s.load(xc), max_v));
        acc = s.add(acc, e);
        s.store(yc, e);
    }
    let y_tail = ys.into_remainder();
    if !y_tail.is_empty() {
        s.store_tail(y_tail, exp(s, s.sub(s.load_tail(xs.remainder()), max_v)));
    }
    s.reduce_add(acc) + y_tail.iter().sum::<f32>()
}

/// `y = (x - max) - log_sum` (two roundings, so `y` is exact where `x` is the max).
#[inline(always)]
fn subtract_both<S: Simd>(s: S, x: &[f32], y: &mut [f32], max: f32, log_sum: f32) {
    let (max, log_sum) = (s.splat(max), s.splat(log_sum));
    let mut xs = x.chunks_exact(S::LANES);
    let mut ys = y.chunks_exact_mut(S::LANES);
    for (xc, yc) in (&mut xs).zip(&mut ys) {
        s.store(yc, s.sub(s.sub(s.load(xc), max), log_sum));
    }
    let y_tail = ys.into_remainder();
    if !y_tail.is_empty() {
        let v = s.load_tail(xs.remainder());
        s.store_tail(y_tail, s.sub(s.sub(v, max), log_sum));
    }
}

/// `y *= k`.
#[inline(always)]
fn scale_in_place<S: Simd>(s: S, y: &mut [f32], k: f32) {
    let k = s.splat(k);
    let mut ys = y.chunks_exact_mut(S::LANES);
    for yc in &mut ys {
        s.store(yc, s.mul(s.load(yc), k));
    }
    let tail = ys.into_remainder();
    if !tail.is_empty() {
        s.store_tail(tail, s.mul(s.load_tail(tail), k));
    }
}
