//! The layer-norm row loop, written once over [`Simd`]: a sum pass (mean), a squared-deviation
//! pass (variance), and an output pass. Tails go through the same vector arithmetic; in the
//! variance pass the padding lanes would add `mean²` each, so the tail's squares are summed
//! lane by lane. (No closures: they would not inherit the entry point's `#[target_feature]`s.)

use super::{LayerNormParams, RowStats};
use crate::cpu::activation::simd::{Simd, MAX_LANES};

/// Layer norm of every row; every slice already validated.
#[inline(always)]
pub(crate) fn layer_norm<S: Simd>(
    s: S,
    p: &LayerNormParams,
    x: &[f32],
    scale: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
    mut stats: Option<RowStats<'_>>,
) {
    if x.is_empty() {
        return;
    }
    let n = p.row_len as f32;
    for (r, (x, y)) in x
        .chunks_exact(p.row_len)
        .zip(y.chunks_exact_mut(p.row_len))
        .enumerate()
    {
        let mean = sum(s, x) / n;
        let var = squared_deviations(s, x, mean) / n;
        let inv = 1.0 / (var + p.epsilon).sqrt();
        match bias {
            Some(bias) => normalize_affine(s, x, scale, bias, y, mean, inv),
            None => normalize_scale(s, x, scale, y, mean, inv),
        }
        if let Some(st) = stats.as_mut() {
            st.mean[r] = mean;
            st.inv_std_dev[r] = inv;
        }
    }
}

/// `Σ x` (padding lanes load as 0).
#[inline(always)]
fn sum<S: Simd>(s: S, x: &[f32]) -> f32 {
    let mut acc = s.splat(0.0);
    let mut chunks = x.chunks_exact(S::LANES);
    for c in &mut chunks {
        acc = s.add(acc, s.load(c));
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        acc = s.add(acc, s.load_tail(tail));
    }
    s.reduce_add(acc)
}

/// `Σ (x - mean)²`.
#[inline(always)]
fn squared_deviations<S: Simd>(s: S, x: &[f32], mean: f32) -> f32 {
    let mean_v = s.splat(mean);
    let mut acc = s.splat(0.0);
    let mut chunks = x.chunks_exact(S::LANES);
    for c in &mut chunks {
        let d = s.sub(s.load(c), mean_v);
        acc = s.fma(d, d, acc);
    }
    let tail = chunks.remainder();
    let mut squares = [0.0f32; MAX_LANES];
    let squares = &mut squares[..tail.len()];
    if !tail.is_empty() {
        let d = s.sub(s.load_tail(tail), mean_v);
        s.store_tail(squares, s.mul(d, d));
    }
    s.reduce_add(acc) + squares.iter().sum::<f32>()
}

/// `y = (x - mean)·inv·scale + bias`.
#[inline(always)]
fn normalize_affine<S: Simd>(
    s: S,
    x: &[f32],
    scale: &[f32],
    bias: &[f32],
    y: &mut [f32],
    mean: f32,
    inv: f32,
) {
    let (mean, inv) = (s.splat(mean), s.splat(inv));
    let mut xs = x.chunks_exact(S::LANES);
    let mut ws = scale.chunks_exact(S::LANES);
    let mut bs = bias.chunks_exact(S::LANES);
    let mut ys = y.chunks_exact_mut(S::LANES);
    for (((xc, wc), bc), yc) in (&mut xs).zip(&mut ws).zip(&mut bs).zip(&mut ys) {
        let t = s.mul(s.sub(s.load(xc), mean), inv);
        s.store(yc, s.fma(t, s.load(wc), s.load(bc)));
    }
    let y_tail = ys.into_remainder();
    if !y_tail.is_empty() {
        let t = s.mul(s.sub(s.load_tail(xs.remainder()), mean), inv);
        let (w, b) = (s.load_tail(ws.remainder()), s.load_tail(bs.remainder()));
        s.store_tail(y_tail, s.fma(t, w, b));
    }
}

/// `y = (x - mean)·inv·scale`.
#[inline(always)]
fn normalize_scale<S: Simd>(s: S, x: &[f32], scale: &[f32], y: &mut [f32], mean: f32, inv: f32) {
    let (mean, inv) = (s.splat(mean), s.splat(inv));
    let mut xs = x.chunks_exact(S::LANES);
    let mut ws = scale.chunks_exact(S::LANES);
    let mut ys = y.chunks_exact_mut(S::LANES);
    for ((xc, wc), yc) in (&mut xs).zip(&mut ws).zip(&mut ys) {
        let t = s.mul(s.sub(s.load(xc), mean), inv);
        s.store(yc, s.mul(t, s.load(wc)));
    }
    let y_tail = ys.into_remainder();
    if !y_tail.is_empty() {
        let t = s.mul(s.sub(s.load_tail(xs.remainder()), mean), inv);
        s.store_tail(y_tail, s.mul(t, s.load_tail(ws.remainder())));
    }
}
