//! Choosing a clipping range from a histogram: percentile of |x|, entropy (KL divergence,
//! TensorRT's calibration), and mean squared quantization error.
//!
//! Each returns a threshold `t` on |x|; the range is then `[max(min, -t), min(max, t)]`.

use super::histogram::Histogram;

/// The `percent` percentile of |x|: the upper edge of the |x| bin where the cumulative count
/// reaches `percent`% of the values, capped at the largest |x| seen.
pub(super) fn percentile(h: &Histogram, percent: f64) -> f32 {
    let abs = h.abs_counts();
    let target = (h.total() as f64 * percent / 100.0).ceil() as u64;
    let w = h.bin_width();
    let mut cumulative = 0u64;
    let largest = h.max().abs().max(h.min().abs());
    for (j, &c) in abs.iter().enumerate() {
        cumulative += c;
        if cumulative >= target.max(1) {
            return (((j + 1) as f64 * w) as f32).min(largest);
        }
    }
    largest
}

/// Number of |x| bins holding values (the index past the last non-empty one).
fn used_bins(abs: &[u64]) -> usize {
    abs.iter().rposition(|&c| c > 0).map_or(0, |j| j + 1)
}

/// Replaces zeros of a distribution of *counts* by `eps`, taking the mass from the non-zero
/// entries, so that KL divergence stays finite (as MXNet's and onnxruntime's calibrators do).
/// It must run on counts, before normalizing: every non-zero entry is then at least 1 (a bin
/// count, or a group's count spread over its non-empty bins), and at most 0.2 is taken from it
/// (1e-4 · 2048 bins). On probabilities the same `eps` exceeds the small tail entries, which
/// turns them negative and makes every candidate with a sparse tail score infinite, so the
/// search clipped long-tailed (e.g. mostly-zero, post-ReLU) tensors far too tightly.
fn smooth(p: &mut [f64]) {
    const EPS: f64 = 1e-4;
    let zeros = p.iter().filter(|&&x| x == 0.0).count();
    let nonzeros = p.len() - zeros;
    if zeros == 0 || nonzeros == 0 {
        return;
    }
    let take = EPS * zeros as f64 / nonzeros as f64;
    for x in p.iter_mut() {
        *x = if *x == 0.0 { EPS } else { *x - take };
    }
}

fn normalize(p: &mut [f64]) {
    let sum: f64 = p.iter().sum();
    if sum > 0.0 {
        p.iter_mut().for_each(|x| *x /= sum);
    }
}

/// KL(p ‖ q) over entries where p > 0.
fn kl(p: &[f64], q: &[f64]) -> f64 {
    p.iter()
        .zip(q)
        .filter(|(&a, _)| a > 0.0)
        .map(|(&a, &b)| {
            if b > 0.0 {
                a * (a / b).ln()
            } else {
                f64::INFINITY
            }
        })
        .sum()
}

/// TensorRT's entropy calibration: the threshold (a bin edge of the |x| histogram) whose
/// clipped distribution, quantized to `levels` levels, is closest in KL divergence to the
/// float one. Candidates run from `levels` bins to every used bin.
pub(super) fn entropy(h: &Histogram, levels: usize) -> f32 {
    let mut abs = h.abs_counts();
    let mut w = h.bin_width();
    // The divergence only means something on a populated histogram: with far fewer values
    // than bins (an SE gate gives one value per channel per sample) each group of a
    // candidate holds at most one non-empty bin, q equals p, and the smallest threshold
    // wins, clipping the tensor absurdly. Merge bin pairs until the used bins hold
    // `MIN_MEAN_COUNT` values each on average, or no more than `levels` remain (no clip).
    const MIN_MEAN_COUNT: u64 = 16;
    while used_bins(&abs) > levels && used_bins(&abs) as u64 * MIN_MEAN_COUNT > h.total() {
        abs = abs.chunks(2).map(|pair| pair.iter().sum()).collect();
        w *= 2.0;
    }
    let used = used_bins(&abs);
    if used <= levels {
        // Fewer bins than levels: nothing to gain from clipping.
        return (used as f64 * w) as f32;
    }
    let mut best = (f64::INFINITY, used);
    let mut p = vec![0f64; used];
    let mut q = vec![0f64; used];
    let mut outliers: u64 = abs[levels..used].iter().sum();
    for i in levels..=used {
        // Reference: the first i bins, with everything beyond folded into the last.
        for (dst, &c) in p[..i].iter_mut().zip(&abs[..i]) {
            *dst = c as f64;
        }
        p[i - 1] += outliers as f64;
        if i < used {
            outliers -= abs[i];
        }
        // Candidate: the first i bins merged into `levels` groups, each group's mass spread
        // evenly over its non-empty bins. The bin holding 0 is kept apart: 0 is exactly
        // representable, and a mostly-zero (post-ReLU) tensor's spike there, spread over its
        // group, would dominate the divergence and pull the threshold down to where that
        // group is the zero bin alone (about `levels` bins), clipping the real values.
        q[0] = abs[0] as f64;
        for k in 0..levels {
            let start = (k * i / levels).max(1);
            let stop = (k + 1) * i / levels;
            let group = &abs[start..stop];
            let nonzero = group.iter().filter(|&&c| c > 0).count();
            let mass: u64 = group.iter().sum();
            for (dst, &c) in q[start..stop].iter_mut().zip(group) {
                *dst = if c > 0 {
                    mass as f64 / nonzero as f64
                } else {
                    0.0
                };
            }
        }
        let (p, q) = (&mut p[..i], &mut q[..i]);
        smooth(p);
        smooth(q);
        normalize(p);
        normalize(q);
        let d = kl(p, q);
        // Strictly smaller: ties keep the smaller threshold, deterministically.
        if d < best.0 {
            best = (d, i);
        }
    }
    (best.1 as f64 * w) as f32
}

/// How values are mapped onto integers when measuring the error of a range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grid {
    /// `[-t, t]` onto `[-127, 127]`.
    Symmetric,
    /// `[lo, hi]` (with 0 inside) onto 256 levels with a zero point.
    Asymmetric,
}

/// The clipping threshold that minimises the mean squared error of quantizing each value (a
/// bin centre, weighted by its count) with the range it implies. Candidates are |x| bin
/// edges from 128 bins (a step no finer than a bin, so bin centres stand for their values)
/// to every used bin.
pub(super) fn mse(h: &Histogram, grid: Grid) -> f32 {
    let abs = h.abs_counts();
    let used = used_bins(&abs);
    let w = h.bin_width();
    let first = 128.min(used);
    if used == 0 {
        return 0.0;
    }
    let r = h.half_range() as f64;
    let centres: Vec<(f64, f64)> = h
        .counts()
        .iter()
        .enumerate()
        .filter(|(_, &c)| c > 0)
        .map(|(i, &c)| (-r + (i as f64 + 0.5) * w, c as f64))
        .collect();
    let (min, max) = (h.min() as f64, h.max() as f64);
    let mut best = (f64::INFINITY, used);
    for k in first..=used {
        let t = k as f64 * w;
        let lo = min.max(-t).min(0.0);
        let hi = max.min(t).max(0.0);
        let err = match grid {
            Grid::Symmetric => {
                let s = lo.abs().max(hi) / 127.0;
                squared_error(&centres, s, 0.0, -127.0, 127.0)
            }
            Grid::Asymmetric => {
                let s = (hi - lo) / 255.0;
                let zp = if s > 0.0 { (-lo / s).round() } else { 0.0 };
                squared_error(&centres, s, zp, 0.0, 255.0)
            }
        };
        if err < best.0 {
            best = (err, k);
        }
    }
    (best.1 as f64 * w) as f32
}

/// Σ count · (x − dequantize(quantize(x)))² over bin centres.
fn squared_error(centres: &[(f64, f64)], s: f64, zp: f64, qmin: f64, qmax: f64) -> f64 {
    if s <= 0.0 {
        return centres.iter().map(|&(x, c)| c * x * x).sum();
    }
    centres
        .iter()
        .map(|&(x, c)| {
            let q = ((x / s).round_ties_even() + zp).clamp(qmin, qmax);
            let e = x - (q - zp) * s;
            c * e * e
        })
        .sum()
}
