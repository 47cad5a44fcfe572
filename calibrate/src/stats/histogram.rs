//! A streaming histogram of one tensor's values: fixed memory, whatever the number of samples.
//!
//! The bins cover `[-R, R)` where `R` is always a power of two strictly above every |x| seen.
//! When a larger value arrives, `R` doubles and adjacent bin pairs merge: an exact re-binning
//! (no interpolation), and because `R` ends as the smallest power of two above the largest
//! |x| whatever the order, the final counts do not depend on the order the values came in.

/// Bins over `[-R, R)`; a multiple of 4 so that doubling `R` maps old bins onto whole new ones.
pub const BINS: usize = 4096;

/// The starting `R` when the first values are all zero.
const SMALLEST_RANGE: f32 = 1.0 / (1u32 << 20) as f32;

#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    /// `BINS` counts; bin `i` covers `[-R + i·w, -R + (i+1)·w)` with `w = 2R / BINS`.
    counts: Vec<u64>,
    /// `R`; 0 until the first finite value.
    half_range: f32,
    min: f32,
    max: f32,
    /// Finite values counted.
    total: u64,
    /// NaN and infinite values, not counted in the bins.
    non_finite: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BINS],
            half_range: 0.0,
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
            total: 0,
            non_finite: 0,
        }
    }
}

/// The smallest power of two strictly above `m` (`m` finite, ≥ 0).
fn power_of_two_above(m: f32) -> f32 {
    let mut r = SMALLEST_RANGE;
    while r <= m {
        r *= 2.0;
    }
    r
}

impl Histogram {
    /// Counts `values`.
    pub fn add(&mut self, values: &[f32]) {
        let mut biggest = 0f32;
        for &x in values {
            if x.is_finite() {
                biggest = biggest.max(x.abs());
                self.min = self.min.min(x);
                self.max = self.max.max(x);
            } else {
                self.non_finite += 1;
            }
        }
        if self.half_range == 0.0 {
            self.half_range = power_of_two_above(biggest);
        }
        while biggest >= self.half_range {
            self.double_range();
        }
        let r = self.half_range as f64;
        // x + R is exact in f64 for the f32 values and power-of-two R met in practice, and
        // dividing by a power of two is exact: the bin of x does not depend on rounding.
        let per_unit = BINS as f64 / (2.0 * r);
        for &x in values {
            if x.is_finite() {
                let i = ((x as f64 + r) * per_unit) as usize;
                self.counts[i.min(BINS - 1)] += 1;
                self.total += 1;
            }
        }
    }

    /// Doubles `R`: old bins `2k, 2k+1` become new bin `BINS/4 + k`.
    fn double_range(&mut self) {
        let mut merged = vec![0u64; BINS];
        for k in 0..BINS / 2 {
            merged[BINS / 4 + k] = self.counts[2 * k] + self.counts[2 * k + 1];
        }
        self.counts = merged;
        self.half_range *= 2.0;
    }

    /// Counts per bin over `[-R, R)`.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// `R`: the bins cover `[-R, R)`; 0 when nothing finite was seen.
    pub fn half_range(&self) -> f32 {
        self.half_range
    }

    /// Width of one bin.
    pub fn bin_width(&self) -> f64 {
        2.0 * self.half_range as f64 / BINS as f64
    }

    /// The smallest finite value seen (+inf when none).
    pub fn min(&self) -> f32 {
        self.min
    }

    /// The largest finite value seen (-inf when none).
    pub fn max(&self) -> f32 {
        self.max
    }

    /// Finite values counted.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// NaN and infinite values seen (left out of everything else).
    pub fn non_finite(&self) -> u64 {
        self.non_finite
    }

    /// Counts of |x|: bin `j` covers `[j·w, (j+1)·w)`, `BINS / 2` bins.
    pub fn abs_counts(&self) -> Vec<u64> {
        let half = BINS / 2;
        (0..half)
            .map(|j| self.counts[half + j] + self.counts[half - 1 - j])
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_land_in_their_bins() {
        let mut h = Histogram::default();
        h.add(&[0.0, 0.5, -0.5, 0.9999]);
        assert_eq!(h.half_range(), 1.0);
        assert_eq!(h.total(), 4);
        assert_eq!(h.counts()[BINS / 2], 1);
        assert_eq!(h.counts()[BINS * 3 / 4], 1);
        assert_eq!(h.counts()[BINS / 4], 1);
        assert_eq!(h.counts()[BINS - 1], 1);
        assert_eq!((h.min(), h.max()), (-0.5, 0.9999));
    }

    #[test]
    fn growing_the_range_rebins_exactly_and_order_does_not_matter() {
        let values: Vec<f32> = (0..10_000)
            .map(|i| ((i * 7919) % 10_007) as f32 / 10_007.0 * 3.0 - 1.0)
            .collect();
        let mut a = Histogram::default();
        let mut big_first = values.clone();
        big_first.sort_by(|x, y| y.abs().total_cmp(&x.abs()));
        a.add(&big_first);
        let mut b = Histogram::default();
        let mut small_first = values.clone();
        small_first.sort_by(|x, y| x.abs().total_cmp(&y.abs()));
        for chunk in small_first.chunks(100) {
            b.add(chunk);
        }
        assert_eq!(a, b);
        assert_eq!(a.half_range(), 2.0);
        assert_eq!(a.total(), 10_000);
    }

    #[test]
    fn non_finite_values_are_counted_apart() {
        let mut h = Histogram::default();
        h.add(&[f32::NAN, f32::INFINITY, 1.0]);
        assert_eq!(h.non_finite(), 2);
        assert_eq!(h.total(), 1);
        assert_eq!(h.max(), 1.0);
    }

    #[test]
    fn all_zero_input_has_a_tiny_range() {
        let mut h = Histogram::default();
        h.add(&[0.0; 10]);
        assert!(h.half_range() > 0.0 && h.half_range() <= 1e-5);
        h.add(&[4.0]);
        assert_eq!(h.half_range(), 8.0);
        assert_eq!(h.counts()[BINS / 2], 10);
    }
}
