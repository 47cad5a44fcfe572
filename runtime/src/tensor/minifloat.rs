//! Conversions between wide floats and the 8-bit / 4-bit float formats (raw bits in a byte).
//!
//! Two families with different rules:
//!
//! * [`Minifloat`]: sign / exponent / mantissa formats (float8 e4m3fn, e4m3fnuz, e5m2, e5m2fnuz
//!   and float4 e2m1). Encoding rounds to nearest, ties to even, on the exact value (the input
//!   is an `f64`, which holds every f16/bf16/f32 exactly, so there is a single rounding). With
//!   `saturate` a result beyond the largest finite value (±Inf included) becomes ±max;
//!   without it, it becomes Inf where the format has one (e5m2) and NaN otherwise — the tables
//!   of the ONNX `Cast` specification. float4 e2m1 has neither Inf nor NaN and always
//!   saturates.
//! * [`e8m0_encode`] / [`e8m0_decode`]: float8 e8m0, a bare power-of-two exponent used as an
//!   MX scale. Encoding follows `onnx.numpy_helper.to_float8e8m0` bit for bit (it works on the
//!   f32 bit pattern and ignores the sign), with the three ONNX `round_mode`s.
//!
//! The reference for everything here is `ml_dtypes` (and `onnx.numpy_helper` for e8m0), as used
//! by the ONNX reference implementation; the tests pin exhaustive tables generated from it.

use crate::DType;

/// A sign/exponent/mantissa float format stored in the low bits of a byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Minifloat {
    /// float8 e4m3fn: bias 7, no Inf, NaN = S.1111.111, max 448.
    E4M3FN,
    /// float8 e4m3fnuz: bias 8, no Inf, no -0, NaN = 0x80, max 240.
    E4M3FNUZ,
    /// float8 e5m2: IEEE-like, bias 15, ±Inf, NaNs, max 57344.
    E5M2,
    /// float8 e5m2fnuz: bias 16, no Inf, no -0, NaN = 0x80, max 57344.
    E5M2FNUZ,
    /// float4 e2m1 (low nibble): bias 1, no Inf, no NaN, max 6.
    E2M1,
}

/// How a format spells the special values.
#[derive(Debug, Clone, Copy)]
struct Layout {
    mantissa_bits: u32,
    bias: i32,
    /// Largest finite magnitude code (sign bit clear).
    max_code: u8,
    /// The sign bit.
    sign: u8,
    /// "fnuz" formats: 0x80 is the only NaN, there is no negative zero.
    unsigned_zero: bool,
    /// Magnitude code of +Inf, if the format has infinities.
    inf_code: Option<u8>,
}

impl Minifloat {
    /// The format stored by `dtype` (`None` for other types, e8m0 included).
    pub fn of(dtype: DType) -> Option<Minifloat> {
        Some(match dtype {
            DType::F8E4M3FN => Minifloat::E4M3FN,
            DType::F8E4M3FNUZ => Minifloat::E4M3FNUZ,
            DType::F8E5M2 => Minifloat::E5M2,
            DType::F8E5M2FNUZ => Minifloat::E5M2FNUZ,
            DType::F4E2M1 => Minifloat::E2M1,
            _ => return None,
        })
    }

    fn layout(self) -> Layout {
        let (mantissa_bits, bias, max_code, sign, unsigned_zero, inf_code) = match self {
            Minifloat::E4M3FN => (3, 7, 0x7E, 0x80, false, None),
            Minifloat::E4M3FNUZ => (3, 8, 0x7F, 0x80, true, None),
            Minifloat::E5M2 => (2, 15, 0x7B, 0x80, false, Some(0x7C)),
            Minifloat::E5M2FNUZ => (2, 16, 0x7F, 0x80, true, None),
            Minifloat::E2M1 => (1, 1, 0x07, 0x08, false, None),
        };
        Layout {
            mantissa_bits,
            bias,
            max_code,
            sign,
            unsigned_zero,
            inf_code,
        }
    }

    /// The NaN code for a NaN of the given sign (formats without NaN: what `ml_dtypes` yields,
    /// a zero whose sign is the opposite of the NaN's).
    fn nan_code(self, negative: bool) -> u8 {
        let s = if negative { 0x80 } else { 0 };
        match self {
            Minifloat::E4M3FN => 0x7F | s,
            Minifloat::E5M2 => 0x7E | s,
            Minifloat::E4M3FNUZ | Minifloat::E5M2FNUZ => 0x80,
            Minifloat::E2M1 => {
                if negative {
                    0x00
                } else {
                    0x08
                }
            }
        }
    }

    /// The value of `bits` (bits above the format's width are ignored).
    pub fn decode(self, bits: u8) -> f32 {
        let l = self.layout();
        let width_mask = (l.sign << 1).wrapping_sub(1);
        let bits = bits & width_mask;
        let negative = bits & l.sign != 0;
        let magnitude = bits & !l.sign;
        let is_nan = match self {
            Minifloat::E4M3FN => magnitude == 0x7F,
            Minifloat::E5M2 => magnitude > 0x7C,
            Minifloat::E4M3FNUZ | Minifloat::E5M2FNUZ => bits == 0x80,
            Minifloat::E2M1 => false,
        };
        if is_nan {
            return if negative { -f32::NAN } else { f32::NAN };
        }
        let value = if Some(magnitude) == l.inf_code {
            f32::INFINITY
        } else {
            let exponent = i32::from(magnitude >> l.mantissa_bits);
            let mantissa = f32::from(magnitude & ((1 << l.mantissa_bits) - 1));
            let mantissa_bits = l.mantissa_bits as i32;
            if exponent == 0 {
                mantissa * pow2(1 - l.bias - mantissa_bits)
            } else {
                (mantissa + pow2(mantissa_bits)) * pow2(exponent - l.bias - mantissa_bits)
            }
        };
        if negative {
            -value
        } else {
            value
        }
    }

    /// All 256 decoded values, indexed by byte (for table-driven conversion of whole tensors).
    pub fn decode_table(self) -> [f32; 256] {
        let mut table = [0.0; 256];
        for (bits, v) in (0..=255u8).zip(table.iter_mut()) {
            *v = self.decode(bits);
        }
        table
    }

    /// The code of `x`, rounded to nearest even; see the module doc for `saturate`.
    pub fn encode(self, x: f64, saturate: bool) -> u8 {
        let l = self.layout();
        if x.is_nan() {
            return self.nan_code(x.is_sign_negative());
        }
        let sign = if x.is_sign_negative() { l.sign } else { 0 };
        let magnitude = match magnitude_code(x.abs(), l) {
            Some(code) if code <= u32::from(l.max_code) => code as u8,
            // Out of range (±Inf included).
            _ if saturate || self == Minifloat::E2M1 => l.max_code,
            _ => match l.inf_code {
                Some(inf) => inf,
                None => return self.nan_code(x.is_sign_negative()),
            },
        };
        if magnitude == 0 && l.unsigned_zero {
            0
        } else {
            sign | magnitude
        }
    }
}

/// The magnitude code of `a >= 0` on an unbounded exponent range (`None` when it does not fit
/// in 32 bits, which is out of range for every format): exponent field and mantissa together,
/// so that a mantissa rounding up carries into the exponent.
fn magnitude_code(a: f64, l: Layout) -> Option<u32> {
    if a.is_infinite() {
        return None;
    }
    let min_exponent = 1 - l.bias; // of the smallest normal number
    let exponent = binary_exponent(a).max(min_exponent);
    if exponent > 64 {
        return None;
    }
    // `a / 2^(exponent - m)` is exact (power-of-two scaling within f64 range), in [0, 2^(m+1)).
    let scaled = a * pow2_f64(l.mantissa_bits as i32 - exponent);
    let q = scaled.round_ties_even() as u32;
    // Subnormals have exponent == min_exponent and q < 2^m; the smallest normal is q == 2^m,
    // which is exactly the code of exponent field 1, mantissa 0. In general:
    Some((((exponent - min_exponent) as u32) << l.mantissa_bits) + q)
}

/// `floor(log2(a))` for a finite `a > 0`; a very small number for zero and f64 subnormals
/// (all far below every format's smallest subnormal).
fn binary_exponent(a: f64) -> i32 {
    let field = ((a.to_bits() >> 52) & 0x7FF) as i32;
    if field == 0 {
        -1100
    } else {
        field - 1023
    }
}

fn pow2(e: i32) -> f32 {
    pow2_f64(e) as f32
}

fn pow2_f64(e: i32) -> f64 {
    2f64.powi(e)
}

/// Rounding of an f32 to float8 e8m0 (the ONNX `round_mode` attribute of `Cast`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum E8M0Rounding {
    /// Any fraction rounds to the next power of two (the default).
    #[default]
    Up,
    /// The fraction is dropped.
    Down,
    /// Nearest power of two, ties up.
    Nearest,
}

impl E8M0Rounding {
    /// Parses the ONNX attribute value (`up`, `down`, `nearest`).
    pub fn parse(s: &str) -> Option<E8M0Rounding> {
        match s {
            "up" => Some(E8M0Rounding::Up),
            "down" => Some(E8M0Rounding::Down),
            "nearest" => Some(E8M0Rounding::Nearest),
            _ => None,
        }
    }
}

/// The float8 e8m0 value of `bits`: 2^(bits − 127), NaN for 0xFF.
pub fn e8m0_decode(bits: u8) -> f32 {
    if bits == 0xFF {
        f32::NAN
    } else {
        pow2(i32::from(bits) - 127)
    }
}

/// The float8 e8m0 code of `x`, as `onnx.numpy_helper.to_float8e8m0`: the f32 exponent field,
/// rounded by `mode` from the mantissa bits; NaN and ±Inf give 0xFF, and an increment past
/// the largest exponent gives NaN (0xFF) unless `saturate`. The sign is ignored (ONNX leaves
/// negative inputs unspecified).
pub fn e8m0_encode(x: f32, saturate: bool, mode: E8M0Rounding) -> u8 {
    let bits = x.to_bits();
    let exponent = (bits >> 23) & 0xFF;
    if exponent == 0xFF {
        return 0xFF;
    }
    let round_up = match mode {
        E8M0Rounding::Down => false,
        E8M0Rounding::Up => bits & 0x7F_FFFF != 0,
        E8M0Rounding::Nearest => {
            let guard = bits & 0x40_0000 != 0;
            let round = bits & 0x20_0000 != 0;
            let sticky = bits & 0x1F_FFFF != 0;
            let lsb = exponent > 0;
            guard && (round || sticky || lsb)
        }
    };
    if round_up && !(saturate && exponent == 0xFE) {
        (exponent + 1) as u8
    } else {
        exponent as u8
    }
}

#[cfg(test)]
mod tests;
