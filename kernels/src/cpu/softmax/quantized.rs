//! Softmax of 8-bit rows into 8-bit rows: `y = Q_y(softmax(DQ_x(x)))` over contiguous rows,
//! the `DequantizeLinear → Softmax → QuantizeLinear` pattern of quantized models' heads.
//!
//! An input byte can only be 256 values, so `e^(x − max)` is a table: with `d = q_max − q`
//! (`0..=255` in the integer domain, where the zero point cancels), `e^(x − max) =
//! e^(−d·scale)`. A row is then a max of bytes, a lookup and a sum, and one multiply and
//! rounding per element: no `exp` at run time, no float tensor in memory.
//!
//! One portable body (rows are short: class scores, attention rows), checked against
//! [`qsoftmax_reference`] (**the oracle**: dequantize, softmax in `f64`, quantize by division,
//! as the float pattern computes it). They agree to within one output step: the body rounds
//! `e^(−d·scale)` to `f32` once per table entry and folds the output scale into the
//! reciprocal of the sum, so a value sitting on a rounding boundary may land on either side.

use crate::KernelError;

/// `e^(−d·scale)` for every byte distance `d`, computed once per input quantization.
#[derive(Clone, Debug, PartialEq)]
pub struct QSoftmaxTable {
    exp: [f32; 256],
}

impl QSoftmaxTable {
    /// The table for inputs of scale `x_scale` (finite, positive).
    pub fn new(x_scale: f32) -> Result<Self, KernelError> {
        if !(x_scale.is_finite() && x_scale > 0.0) {
            return Err(KernelError::invalid(format!(
                "qsoftmax: input scale {x_scale} is not finite and positive"
            )));
        }
        let mut exp = [0f32; 256];
        for (d, e) in exp.iter_mut().enumerate() {
            *e = (-(d as f64) * x_scale as f64).exp() as f32;
        }
        Ok(QSoftmaxTable { exp })
    }
}

/// The shape and quantizations of a call: `x` and `y` hold `x.len() / row_len` rows of
/// `row_len` bytes each.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QSoftmaxParams {
    /// Elements per row (the reduced axis).
    pub row_len: usize,
    /// `x` holds `i8` (else `u8`).
    pub x_signed: bool,
    /// The output's scale (finite, positive).
    pub y_scale: f32,
    /// The output's zero point, inside its type's range.
    pub y_zero_point: i32,
    /// `y` holds `i8` (else `u8`).
    pub y_signed: bool,
}

/// Softmax of every row of `x` into `y` through `table` (made for `x`'s scale).
pub fn qsoftmax(
    p: &QSoftmaxParams,
    table: &QSoftmaxTable,
    x: &[u8],
    y: &mut [u8],
) -> Result<(), KernelError> {
    validate(p, x, y)?;
    let (lo, hi) = range(p.y_signed);
    let flip = if p.x_signed { 0x80 } else { 0 };
    // `i8` bytes with the sign bit flipped order as their values do, so distances between
    // flipped bytes are distances between values.
    let mut e = vec![0f32; p.row_len];
    for (xr, yr) in x.chunks_exact(p.row_len).zip(y.chunks_exact_mut(p.row_len)) {
        let max = xr.iter().map(|&b| b ^ flip).max().unwrap_or(0);
        let mut sum = 0f32;
        for (ei, &b) in e.iter_mut().zip(xr) {
            *ei = table.exp[usize::from(max - (b ^ flip))];
            sum += *ei;
        }
        // `sum >= 1` (the max contributes e^0), so the reciprocal is finite.
        let k = 1.0 / (sum * p.y_scale);
        for (yi, &ei) in yr.iter_mut().zip(&e) {
            // `ei·k >= 0`, capped far below 2^22: adding 1.5·2^23 then rounds it half to even
            // into the low mantissa bits, read back as an integer without a conversion.
            let v = (ei * k).min(1024.0);
            let q = (v + ROUNDER).to_bits() as i32 - ROUNDER_BITS + p.y_zero_point;
            *yi = q.clamp(lo, hi) as u8;
        }
    }
    Ok(())
}

/// `1.5·2^23`: the bits of `v + ROUNDER` are `ROUNDER_BITS + round_half_even(v)` for `0 <= v
/// < 2^22`, where a library rounding call and a saturating conversion would cost more than the
/// rest of the element's work.
const ROUNDER: f32 = 12_582_912.0;
const ROUNDER_BITS: i32 = 0x4B40_0000;

/// The oracle: each byte dequantized, softmax in `f64`, each result quantized by division
/// (round half to even, saturating), as `DequantizeLinear → Softmax → QuantizeLinear` does.
pub fn qsoftmax_reference(
    p: &QSoftmaxParams,
    x_scale: f32,
    x_zero_point: i32,
    x: &[u8],
    y: &mut [u8],
) -> Result<(), KernelError> {
    validate(p, x, y)?;
    let (lo, hi) = range(p.y_signed);
    let value = |b: u8| if p.x_signed { b as i8 as i32 } else { b as i32 };
    for (xr, yr) in x.chunks_exact(p.row_len).zip(y.chunks_exact_mut(p.row_len)) {
        let real: Vec<f64> = xr
            .iter()
            .map(|&b| (value(b) - x_zero_point) as f64 * x_scale as f64)
            .collect();
        let max = real.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = real.iter().map(|v| (v - max).exp()).sum();
        for (yi, v) in yr.iter_mut().zip(&real) {
            let q = ((v - max).exp() / sum / p.y_scale as f64).round_ties_even() as i64
                + p.y_zero_point as i64;
            *yi = q.clamp(lo as i64, hi as i64) as u8;
        }
    }
    Ok(())
}

fn range(signed: bool) -> (i32, i32) {
    if signed {
        (-128, 127)
    } else {
        (0, 255)
    }
}

fn validate(p: &QSoftmaxParams, x: &[u8], y: &[u8]) -> Result<(), KernelError> {
    if x.len() != y.len() {
        return Err(KernelError::out_of_bounds(format!(
            "qsoftmax: input has {} elements, output {}",
            x.len(),
            y.len()
        )));
    }
    if !x.is_empty() && (p.row_len == 0 || x.len() % p.row_len != 0) {
        return Err(KernelError::invalid(format!(
            "qsoftmax: {} elements are not whole rows of {}",
            x.len(),
            p.row_len
        )));
    }
    if !(p.y_scale.is_finite() && p.y_scale > 0.0) {
        return Err(KernelError::invalid(format!(
            "qsoftmax: output scale {} is not finite and positive",
            p.y_scale
        )));
    }
    let (lo, hi) = range(p.y_signed);
    if !(lo..=hi).contains(&p.y_zero_point) {
        return Err(KernelError::invalid(format!(
            "qsoftmax: output zero point {} is outside its type",
            p.y_zero_point
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn within_one_step_of_the_reference(
            row_len in prop_oneof![1usize..=20, Just(255), Just(256)],
            rows in 1usize..5,
            x_signed in any::<bool>(),
            y_signed in any::<bool>(),
            x_scale in prop_oneof![1e-4f32..1e-2, 1e-2f32..1.0, Just(1.0f32 / 16.0)],
            y_scale in prop_oneof![Just(1.0f32 / 256.0), Just(1.0f32 / 255.0), 1e-4f32..0.1],
            x_zero_point in -128i32..256,
            y_zero_point in -128i32..256,
            seed in any::<u64>(),
        ) {
            let y_zero_point = if y_signed { y_zero_point.clamp(-128, 127) } else { y_zero_point.clamp(0, 255) };
            let p = QSoftmaxParams { row_len, x_signed, y_scale, y_zero_point, y_signed };
            let x: Vec<u8> = (0..rows * row_len)
                .map(|i| (seed.wrapping_mul(6364136223846793005).wrapping_add(i as u64 * 2654435761) >> 29) as u8)
                .collect();
            let (mut want, mut got) = (vec![0u8; x.len()], vec![0u8; x.len()]);
            qsoftmax_reference(&p, x_scale, x_zero_point, &x, &mut want).unwrap();
            qsoftmax(&p, &QSoftmaxTable::new(x_scale).unwrap(), &x, &mut got).unwrap();
            let value = |b: u8| if y_signed { b as i8 as i32 } else { b as i32 };
            for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
                prop_assert!((value(g) - value(w)).abs() <= 1, "element {}: {} vs {}", i, value(g), value(w));
            }
        }
    }

    #[test]
    fn known_row_and_bad_arguments() {
        // Two equal maxima and a value far below: halves and (almost) zero.
        let p = QSoftmaxParams {
            row_len: 3,
            x_signed: false,
            y_scale: 1.0 / 256.0,
            y_zero_point: 0,
            y_signed: false,
        };
        let t = QSoftmaxTable::new(0.5).unwrap();
        let mut y = [0u8; 3];
        qsoftmax(&p, &t, &[200, 200, 0], &mut y).unwrap();
        assert_eq!(y, [128, 128, 0]);
        // Signed inputs: -128 is the smallest value, not the largest byte.
        let s = QSoftmaxParams { x_signed: true, ..p };
        qsoftmax(&s, &t, &[0x80, 0x7f, 0x80], &mut y).unwrap();
        assert_eq!(y, [0, 255, 0]);
        assert!(qsoftmax(&p, &t, &[1, 2], &mut [0; 2]).is_err());
        assert!(qsoftmax(&p, &t, &[1, 2, 3], &mut [0; 2]).is_err());
        let bad_scale = QSoftmaxParams { y_scale: 0.0, ..p };
        assert!(qsoftmax(&bad_scale, &t, &[1, 2, 3], &mut y).is_err());
        let bad_zero = QSoftmaxParams { y_zero_point: 300, ..p };
        assert!(qsoftmax(&bad_zero, &t, &[1, 2, 3], &mut y).is_err());
        assert!(QSoftmaxTable::new(f32::NAN).is_err());
        assert!(QSoftmaxTable::new(-1.0).is_err());
    }
}
