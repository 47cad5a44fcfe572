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

/// TensorRT's entropy calibration for a symmetric grid: the threshold (a bin edge of the |x|
/// histogram) whose clipped distribution, quantized to `levels` levels, is closest in KL
/// divergence to the float one. Candidates run from `levels` bins to every used bin.
pub(super) fn entropy(h: &Histogram, levels: usize) -> f32 {
    let abs = h.abs_counts();
    let (bins, w) = kl_search(&abs, h.bin_width(), h.total(), |_| levels);
    (bins as f64 * w) as f32
}

/// Entropy calibration for an asymmetric grid: the upper threshold is searched on the
/// histogram of x ≥ 0 and the lower one on that of x < 0, each candidate quantized with the
/// number of steps the asymmetric grid would give that side (`255 · t / (t + other side)`).
///
/// Folding both signs into one |x| histogram (TensorRT's method, made for symmetric grids)
/// goes badly wrong on one-sided tensors with a dense short side: a HardSwish output's
/// negative values, all in [-0.375, 0), pile up in the first |x| bins and make every
/// positive value beyond 0.375 look like a rare outlier, so the search clipped the positive
/// side to 0.375 — about a tenth of its range — on dozens of PP-OCRv4 rec tensors (cosine
/// 0.46 against FP32, MinMax 0.95). Returns (lo, hi), lo ≤ 0 ≤ hi.
pub(super) fn entropy_asymmetric(h: &Histogram) -> (f32, f32) {
    let counts = h.counts();
    let half = counts.len() / 2;
    let positive: Vec<u64> = counts[half..].to_vec();
    let negative: Vec<u64> = counts[..half].iter().rev().copied().collect();
    let w = h.bin_width();
    let (lo, hi) = (h.min().min(0.0) as f64, h.max().max(0.0) as f64);
    let total = h.total();
    // The steps a side of extent `t` gets when the other side spans `other`.
    let steps = |t: f64, other: f64| -> usize {
        if t <= 0.0 {
            1
        } else {
            ((255.0 * t / (t + other)).round() as usize).max(1)
        }
    };
    let upper = if hi > 0.0 {
        let (bins, wp) = kl_search(&positive, w, total, |i| steps(i as f64 * w, -lo));
        ((bins as f64 * wp).min(hi)) as f32
    } else {
        0.0
    };
    let lower = if lo < 0.0 {
        let (bins, wn) = kl_search(&negative, w, total, |i| steps(i as f64 * w, upper as f64));
        -((bins as f64 * wn).min(-lo)) as f32
    } else {
        0.0
    };
    (lower, upper)
}

/// The fewest bins a candidate spans (TensorRT's search starts at its 128 levels): with a
/// handful of bins, p and q are both nearly one spike and the divergence is meaninglessly
/// small (a one-bin candidate scores exactly 0).
const MIN_CANDIDATE_BINS: usize = 128;

/// The KL search over one side's histogram `side` (bin `j` covers `[j·w, (j+1)·w)` away
/// from 0): returns the chosen number of bins and the bin width after merging. `levels(i)`
/// is the number of quantization steps a candidate of `i` bins (of the original width `w`)
/// gets.
fn kl_search(side: &[u64], w: f64, total: u64, levels: impl Fn(usize) -> usize) -> (usize, f64) {
    let mut abs = side.to_vec();
    let mut w = w;
    let mut scale = 1usize;
    // The divergence only means something on a populated histogram: with far fewer values
    // than bins (an SE gate gives one value per channel per sample) each group of a
    // candidate holds at most one non-empty bin, q equals p, and the smallest threshold
    // wins, clipping the tensor absurdly. Merge bin pairs until the used bins hold
    // `MIN_MEAN_COUNT` values each on average, or no more than the levels remain (no clip).
    const MIN_MEAN_COUNT: u64 = 16;
    while used_bins(&abs) > levels(used_bins(&abs) * scale)
        && used_bins(&abs) as u64 * MIN_MEAN_COUNT > total
    {
        abs = abs.chunks(2).map(|pair| pair.iter().sum()).collect();
        w *= 2.0;
        scale *= 2;
    }
    let used = used_bins(&abs);
    let levels_of = |i: usize| levels(i * scale);
    if used <= levels_of(used).max(MIN_CANDIDATE_BINS) {
        // Fewer bins than levels: nothing to gain from clipping.
        return (used, w);
    }
    let mut best = (f64::INFINITY, used);
    let mut p = vec![0f64; used];
    let mut q = vec![0f64; used];
    for i in MIN_CANDIDATE_BINS.min(used)..=used {
        let levels = levels_of(i);
        if i < levels {
            continue;
        }
        // Reference: the first i bins, with everything beyond folded into the last.
        for (dst, &c) in p[..i].iter_mut().zip(&abs[..i]) {
            *dst = c as f64;
        }
        let outliers: u64 = abs[i..used].iter().sum();
        p[i - 1] += outliers as f64;
        // Candidate: the first i bins merged into `levels` groups, each group's mass spread
        // evenly over its non-empty bins. The bin holding 0 is kept apart: 0 is exactly
        // representable, and a mostly-zero (post-ReLU) tensor's spike there, spread over its
        // group, would dominate the divergence and pull the threshold down to where that
        // group is the zero bin alone (about `levels` bins), clipping the real values.
        q[0] = abs[0] as f64;
        for k in 0..levels {
            let start = (k * i / levels).max(1);
            let stop = (k + 1) * i / levels;
            if start >= stop {
                continue;
            }
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
    (best.1, w)
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
