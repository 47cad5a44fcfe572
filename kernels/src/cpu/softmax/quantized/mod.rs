//! Softmax of 8-bit rows into 8-bit rows: `y = Q_y(softmax(DQ_x(x)))` over contiguous rows,
//! the `DequantizeLinear → Softmax → QuantizeLinear` pattern of quantized models' heads.
//!
//! An input byte can only be 256 values, so `e^(x − max)` is a table: with `d = q_max − q`
//! (`0..=255` in the integer domain, where the zero point cancels), `e^(x − max) =
//! e^(−d·scale)`. A row is then a max of bytes, a lookup and a sum, and one multiply and
//! rounding per element: no `exp` at run time, no float tensor in memory.
//!
//! Variants: [`qsoftmax_reference`] (**the oracle**: dequantize, softmax in `f64`, quantize by
//! division, as the float pattern computes it), a portable body over the table
//! ([`qsoftmax_portable`], the choice where nothing faster runs) and AVX-512 (`avx512.rs`: a row of up to 16 bytes is one masked
//! register, the table read by a gather). The table variants agree with the oracle to within
//! one output step: they round `e^(−d·scale)` to `f32` once per table entry, sum in their own
//! order and fold the output scale into the reciprocal of the sum, so a value sitting on a
//! rounding boundary may land on either side.

#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
mod avx512;
#[cfg(test)]
mod tests;

use crate::cpu::{select, variants, CpuFeatures, Isa, Kernel, KernelInfo, MaxIsa, Variant};
use crate::KernelError;

/// `e^(−d·scale)` for every byte distance `d`, computed once per input quantization.
#[derive(Clone, Debug, PartialEq)]
pub struct QSoftmaxTable {
    pub(crate) exp: [f32; 256],
    /// The input scale it was made for (the oracle computes from it).
    scale: f32,
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
        Ok(QSoftmaxTable {
            exp,
            scale: x_scale,
        })
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
pub type QSoftmaxFn =
    fn(&QSoftmaxParams, &QSoftmaxTable, &[u8], &mut [u8]) -> Result<(), KernelError>;

/// [`QSoftmaxFn`] with the best kernel of this CPU ([`crate::cpu::table`]).
pub fn qsoftmax(
    p: &QSoftmaxParams,
    table: &QSoftmaxTable,
    x: &[u8],
    y: &mut [u8],
) -> Result<(), KernelError> {
    (crate::cpu::table().qsoftmax)(p, table, x, y)
}

/// The portable [`QSoftmaxFn`].
pub fn qsoftmax_portable(
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
pub(crate) const ROUNDER: f32 = 12_582_912.0;
pub(crate) const ROUNDER_BITS: i32 = 0x4B40_0000;

/// The oracle: each byte dequantized (with the table's scale; the input's zero point shifts a
/// whole row, which softmax ignores), softmax in `f64`, each result quantized by division
/// (round half to even, saturating), as `DequantizeLinear → Softmax → QuantizeLinear` does. The
/// table's entries are not used.
pub fn qsoftmax_reference(
    p: &QSoftmaxParams,
    table: &QSoftmaxTable,
    x: &[u8],
    y: &mut [u8],
) -> Result<(), KernelError> {
    validate(p, x, y)?;
    let x_scale = table.scale;
    let (lo, hi) = range(p.y_signed);
    let value = |b: u8| if p.x_signed { b as i8 as i32 } else { b as i32 };
    for (xr, yr) in x.chunks_exact(p.row_len).zip(y.chunks_exact_mut(p.row_len)) {
        let real: Vec<f64> = xr
            .iter()
            .map(|&b| value(b) as f64 * x_scale as f64)
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

pub(crate) fn range(signed: bool) -> (i32, i32) {
    if signed {
        (-128, 127)
    } else {
        (0, 255)
    }
}

pub(crate) fn validate(p: &QSoftmaxParams, x: &[u8], y: &[u8]) -> Result<(), KernelError> {
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

/// The oracle's registry entry.
pub(crate) const REFERENCE: Variant = variant(
    Isa::Generic,
    "qsoftmax_u8_reference",
    true,
    qsoftmax_reference,
);
/// The portable body's entry (what runs where no faster variant does: the oracle's `exp` per
/// element would be the slow choice).
pub(crate) const PORTABLE: Variant = variant(
    Isa::Generic,
    "qsoftmax_u8_portable",
    false,
    qsoftmax_portable,
);
/// The AVX-512 entry.
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
pub(crate) const AVX512: Variant = variant(
    Isa::Avx512,
    "qsoftmax_u8_avx512",
    false,
    avx512::qsoftmax_avx512,
);

const fn variant(isa: Isa, name: &'static str, reference: bool, f: QSoftmaxFn) -> Variant {
    Variant {
        info: KernelInfo {
            family: "qsoftmax",
            dtype: "u8",
            isa,
            name,
            reference,
        },
        kernel: Kernel::QSoftmax(f),
    }
}

/// The [`crate::cpu::KernelTable`] choice for this family.
pub(crate) fn choose(features: &CpuFeatures, max_isa: Option<MaxIsa>) -> QSoftmaxFn {
    select(variants(), "qsoftmax", "u8", features, max_isa)
        .and_then(Variant::qsoftmax)
        .unwrap_or(qsoftmax_portable)
}
