//! Accuracy of a variant's outputs against the original's, accumulated sample by sample in
//! constant memory: cosine similarity, signal-to-noise ratio and the largest absolute error
//! over every f32 output value of every sample, and top-1 against labels.

use mote::{DType, Tensor};

/// Running sums for one variant.
#[derive(Clone, Debug, Default)]
pub struct Agreement {
    dot: f64,
    reference_sq: f64,
    variant_sq: f64,
    error_sq: f64,
    max_abs: f64,
    values: u64,
    /// Outputs of a non-f32 type or another shape than the original's.
    mismatched: u64,
}

impl Agreement {
    /// Adds one sample's outputs (aligned by position).
    pub fn add(&mut self, reference: &[Tensor], variant: &[Tensor]) {
        if reference.len() != variant.len() {
            self.mismatched += 1;
        }
        for (r, v) in reference.iter().zip(variant) {
            let (Ok(r), Ok(v)) = (as_f32(r), as_f32(v)) else {
                self.mismatched += 1;
                continue;
            };
            if r.len() != v.len() {
                self.mismatched += 1;
                continue;
            }
            for (&a, &b) in r.iter().zip(&v) {
                let (a, b) = (a as f64, b as f64);
                self.dot += a * b;
                self.reference_sq += a * a;
                self.variant_sq += b * b;
                let e = a - b;
                self.error_sq += e * e;
                // NaN in the variant counts as an infinite error, not as none.
                let abs = if e.is_nan() { f64::INFINITY } else { e.abs() };
                self.max_abs = self.max_abs.max(abs);
                self.values += 1;
            }
        }
    }

    /// Cosine similarity of all outputs (1 when both are all zero).
    pub fn cosine(&self) -> f64 {
        let norms = (self.reference_sq * self.variant_sq).sqrt();
        if norms == 0.0 {
            return if self.reference_sq == self.variant_sq {
                1.0
            } else {
                0.0
            };
        }
        self.dot / norms
    }

    /// `10·log10(Σ reference² / Σ error²)` in dB; +inf for identical outputs.
    pub fn snr_db(&self) -> f64 {
        if self.error_sq == 0.0 {
            return f64::INFINITY;
        }
        10.0 * (self.reference_sq / self.error_sq).log10()
    }

    /// The largest |reference − variant|.
    pub fn max_abs_error(&self) -> f64 {
        self.max_abs
    }

    /// Output values compared.
    pub fn values(&self) -> u64 {
        self.values
    }

    /// Outputs that could not be compared (type or size differs from the original's).
    pub fn mismatched(&self) -> u64 {
        self.mismatched
    }
}

/// An output as f32 values (f16 outputs widened).
fn as_f32(t: &Tensor) -> mote::Result<Vec<f32>> {
    match t.dtype() {
        DType::F32 | DType::F16 | DType::BF16 | DType::F64 => t.view().to_f32_vec(),
        d => Err(mote::Error::dtype(format!("{d} output"))),
    }
}

/// The class a sample's first output predicts: the index of its largest value.
pub fn top1(outputs: &[Tensor]) -> Option<usize> {
    let values = as_f32(outputs.first()?).ok()?;
    let mut best: Option<(usize, f32)> = None;
    for (i, &v) in values.iter().enumerate() {
        // Strictly greater: the first of equal maxima, as numpy's argmax.
        if best.is_none_or(|(_, b)| v > b) {
            best = Some((i, v));
        }
    }
    best.map(|(i, _)| i)
}

/// Top-1 hits over samples.
#[derive(Clone, Debug, Default)]
pub struct TopOne {
    pub hits: u64,
    pub total: u64,
}

impl TopOne {
    pub fn add(&mut self, outputs: &[Tensor], label: i64) {
        self.total += 1;
        if top1(outputs).is_some_and(|c| c as i64 == label) {
            self.hits += 1;
        }
    }

    pub fn accuracy(&self) -> Option<f64> {
        (self.total > 0).then(|| self.hits as f64 / self.total as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f32]) -> Tensor {
        Tensor::from_vec(&[1, v.len()], v.to_vec()).unwrap()
    }

    #[test]
    fn identical_outputs_agree_perfectly() {
        let mut a = Agreement::default();
        a.add(&[t(&[1.0, -2.0, 3.0])], &[t(&[1.0, -2.0, 3.0])]);
        assert!((a.cosine() - 1.0).abs() < 1e-12);
        assert_eq!(a.snr_db(), f64::INFINITY);
        assert_eq!(a.max_abs_error(), 0.0);
        assert_eq!(a.values(), 3);
    }

    #[test]
    fn known_error_gives_known_numbers() {
        let mut a = Agreement::default();
        a.add(&[t(&[3.0, 4.0])], &[t(&[3.0, 4.5])]);
        // Σ ref² = 25, Σ err² = 0.25: 20 dB.
        assert!((a.snr_db() - 20.0).abs() < 1e-9);
        assert_eq!(a.max_abs_error(), 0.5);
        let cos = (9.0 + 18.0) / (5.0 * (9.0f64 + 20.25).sqrt());
        assert!((a.cosine() - cos).abs() < 1e-12);
        a.add(&[t(&[1.0])], &[t(&[1.0, 2.0])]);
        assert_eq!(a.mismatched(), 1);
    }

    #[test]
    fn top1_takes_the_first_maximum() {
        assert_eq!(top1(&[t(&[0.1, 0.7, 0.7, 0.2])]), Some(1));
        let mut acc = TopOne::default();
        acc.add(&[t(&[0.1, 0.9])], 1);
        acc.add(&[t(&[0.1, 0.9])], 0);
        assert_eq!(acc.accuracy(), Some(0.5));
    }
}
