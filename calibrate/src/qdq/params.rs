//! Scale and zero-point arithmetic, written to give bit-identical results to onnxruntime's
//! `quant_utils.compute_scale_zp` (reduce_range off, no minimum real range) and its
//! QuantizeLinear rounding, so that a model written here and one written by
//! `quantize_static` from the same ranges have the same parameters.

/// An 8-bit integer type for activations or weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QType {
    /// int8, [-128, 127] ([-127, 127] when symmetric, as ORT does).
    S8,
    /// uint8, [0, 255].
    U8,
}

impl QType {
    /// The integer range onnxruntime uses for this type (`get_qmin_qmax_for_qType`).
    pub fn range(self, symmetric: bool) -> (i32, i32) {
        match (self, symmetric) {
            (QType::S8, true) => (-127, 127),
            (QType::S8, false) => (-128, 127),
            (QType::U8, _) => (0, 255),
        }
    }

    /// The ONNX element type code.
    pub fn onnx_code(self) -> i32 {
        match self {
            QType::S8 => crate::onnx::tensor::INT8,
            QType::U8 => crate::onnx::tensor::UINT8,
        }
    }
}

/// One scale and zero point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QParams {
    pub scale: f32,
    pub zero_point: i32,
}

/// `compute_scale_zp(rmin, rmax, qmin, qmax, symmetric)`: the range always includes 0 (so
/// zero padding is exact); symmetric ranges become [-absmax, absmax] with the midpoint zero
/// point; a degenerate range gets scale 1 and zero point 0.
pub fn compute(rmin: f32, rmax: f32, qtype: QType, symmetric: bool) -> QParams {
    let (qmin, qmax) = qtype.range(symmetric);
    let mut rmin = rmin.min(0.0);
    let mut rmax = rmax.max(0.0);
    if symmetric {
        let absmax = rmin.abs().max(rmax.abs());
        rmin = -absmax;
        rmax = absmax;
    }
    // ORT promotes to f64 before subtracting, divides in f64, and casts the scale to f32 only
    // after computing the zero point from the f64 scale.
    let scale = (rmax as f64 - rmin as f64) / (qmax as f64 - qmin as f64);
    if scale < f32::MIN_POSITIVE as f64 {
        return QParams {
            scale: 1.0,
            zero_point: 0,
        };
    }
    let zero_point = if symmetric {
        round_half_even((qmin + qmax) as f64 / 2.0) as i32
    } else {
        round_half_even(qmin as f64 - rmin as f64 / scale) as i32
    };
    QParams {
        scale: scale as f32,
        zero_point,
    }
}

/// numpy's `round` (half to even).
pub fn round_half_even(x: f64) -> f64 {
    x.round_ties_even()
}

/// ONNX QuantizeLinear: `saturate(round_half_even(x / scale) + zero_point)`, the division in
/// f32 as the reference implementation does.
pub fn quantize(x: f32, p: QParams, qmin: i32, qmax: i32) -> i32 {
    let q = (x / p.scale).round_ties_even() as f64 + p.zero_point as f64;
    q.clamp(qmin as f64, qmax as f64) as i32
}

/// The range of `values` ((0, 0) when empty).
pub fn min_max(values: &[f32]) -> (f32, f32) {
    let (lo, hi) = values
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi {
        (0.0, 0.0)
    } else {
        (lo, hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asymmetric_u8_matches_ort() {
        // np: compute_scale_zp(np.float32(-1.0), np.float32(3.0), 0, 255) -> (64, 0.015686275)
        let p = compute(-1.0, 3.0, QType::U8, false);
        assert_eq!(p.zero_point, 64);
        assert_eq!(p.scale, (4.0f64 / 255.0) as f32);
    }

    #[test]
    fn range_includes_zero() {
        let p = compute(2.0, 4.0, QType::U8, false);
        assert_eq!(p.zero_point, 0);
        assert_eq!(p.scale, (4.0f64 / 255.0) as f32);
        let p = compute(-4.0, -2.0, QType::S8, false);
        assert_eq!(p.zero_point, 127);
    }

    #[test]
    fn symmetric_s8_weights() {
        let p = compute(-0.5, 1.27, QType::S8, true);
        assert_eq!(p.zero_point, 0);
        assert_eq!(p.scale, (2.54f64 / 254.0) as f32);
        let p = compute(-0.5, 1.0, QType::U8, true);
        assert_eq!(p.zero_point, 128);
    }

    #[test]
    fn degenerate_range() {
        assert_eq!(
            compute(0.0, 0.0, QType::S8, true),
            QParams {
                scale: 1.0,
                zero_point: 0
            }
        );
    }

    #[test]
    fn quantize_rounds_half_even_and_saturates() {
        let p = QParams {
            scale: 1.0,
            zero_point: 0,
        };
        assert_eq!(quantize(2.5, p, -128, 127), 2);
        assert_eq!(quantize(3.5, p, -128, 127), 4);
        assert_eq!(quantize(-300.0, p, -128, 127), -128);
        assert_eq!(round_half_even(-0.5), 0.0);
        assert_eq!(round_half_even(1.5), 2.0);
    }
}
