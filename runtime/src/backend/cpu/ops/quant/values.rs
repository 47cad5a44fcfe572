//! Reading and writing whole tensors of any quantization-related dtype as `f64` / `i64`, and
//! the arithmetic-type rules the quantization ops share.

use crate::tensor::minifloat::{e8m0_decode, Minifloat};
use crate::tensor::{Element, TensorView, TensorViewMut};
use crate::{bail, DType, Error, Result};
use half::{bf16, f16};

/// Integer values of any integer or bool tensor, sub-byte types included.
pub(super) fn int_values(v: &TensorView<'_>) -> Result<Vec<i64>> {
    match v.dtype {
        DType::I4 | DType::I2 => Ok(v.bytes.iter().map(|&b| i64::from(b as i8)).collect()),
        DType::U4 | DType::U2 => Ok(v.bytes.iter().map(|&b| i64::from(b)).collect()),
        _ => v.to_i64_vec(),
    }
}

/// Values of any numeric tensor (floats, float8/float4/e8m0 codes, integers) as `f64`.
pub(super) fn float_values(v: &TensorView<'_>) -> Result<Vec<f64>> {
    if let Some(format) = Minifloat::of(v.dtype) {
        let table = format.decode_table();
        return Ok(v
            .bytes
            .iter()
            .map(|&b| f64::from(table[usize::from(b)]))
            .collect());
    }
    match v.dtype {
        DType::F8E8M0 => Ok(v.bytes.iter().map(|&b| f64::from(e8m0_decode(b))).collect()),
        DType::U64 => v.to_f64_vec(),
        d if d.is_float() => v.to_f64_vec(),
        _ => Ok(int_values(v)?.into_iter().map(|x| x as f64).collect()),
    }
}

/// The inclusive range of an integer quantization type.
pub(super) fn int_range(dtype: DType) -> Option<(i64, i64)> {
    Some(match dtype {
        DType::U8 => (0, 255),
        DType::I8 => (-128, 127),
        DType::U16 => (0, 65535),
        DType::I16 => (-32768, 32767),
        DType::U4 => (0, 15),
        DType::I4 => (-8, 7),
        DType::U2 => (0, 3),
        DType::I2 => (-2, 1),
        _ => return None,
    })
}

/// Writes integers already within `dtype`'s range (an integer quantization type or i32).
pub(super) fn store_ints(
    y: &mut TensorViewMut<'_>,
    values: impl Iterator<Item = i64>,
) -> Result<()> {
    fn typed<T: Element>(
        y: &mut TensorViewMut<'_>,
        values: impl Iterator<Item = i64>,
        convert: impl Fn(i64) -> T,
    ) -> Result<()> {
        for (d, v) in y.as_mut_slice::<T>()?.iter_mut().zip(values) {
            *d = convert(v);
        }
        Ok(())
    }
    match y.dtype {
        // Bytes, sub-byte types sign-extended: two's complement truncation does both.
        DType::U8 | DType::I8 | DType::U4 | DType::I4 | DType::U2 | DType::I2 => {
            for (d, v) in y.bytes.iter_mut().zip(values) {
                *d = v as u8;
            }
            Ok(())
        }
        DType::U16 => typed(y, values, |v| v as u16),
        DType::I16 => typed(y, values, |v| v as i16),
        DType::I32 => typed(y, values, |v| v as i32),
        d => Err(Error::unsupported(
            "quantization",
            format!("integer output type {d}"),
        )),
    }
}

/// Writes floats to a float output (f32, f64, f16, bf16), rounding to nearest even (directly
/// from f64: `f16::from_f64` may round through f32 first).
pub(super) fn store_floats(
    y: &mut TensorViewMut<'_>,
    values: impl Iterator<Item = f64>,
) -> Result<()> {
    fn typed<T: Element>(
        y: &mut TensorViewMut<'_>,
        values: impl Iterator<Item = f64>,
        convert: impl Fn(f64) -> T,
    ) -> Result<()> {
        for (d, v) in y.as_mut_slice::<T>()?.iter_mut().zip(values) {
            *d = convert(v);
        }
        Ok(())
    }
    match y.dtype {
        DType::F32 => typed(y, values, |v| v as f32),
        DType::F64 => typed(y, values, |v| v),
        DType::F16 => typed(y, values, f16::from_f64_const),
        DType::BF16 => typed(y, values, bf16::from_f64),
        d => Err(Error::unsupported(
            "quantization",
            format!("float output type {d}"),
        )),
    }
}

/// A float arithmetic type: results are rounded to it after each operation, as numpy does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Precision(DType);

impl Precision {
    /// `dtype` as an arithmetic type (f16, bf16, f32, f64).
    pub(super) fn of(dtype: DType) -> Result<Precision> {
        match dtype {
            DType::F16 | DType::BF16 | DType::F32 | DType::F64 => Ok(Precision(dtype)),
            d => bail!(dtype, "{d} is not a float arithmetic type"),
        }
    }

    /// The type numpy computes `a op b` in: the common type when equal, f64 when either is
    /// f64 or an integer, f32 otherwise (mixed half types and anything with f32).
    pub(super) fn promote(a: DType, b: DType) -> Precision {
        let narrow = |d: DType| matches!(d, DType::F16 | DType::BF16 | DType::F32);
        match (a, b) {
            (a, b) if a == b && narrow(a) => Precision(a),
            (a, b) if narrow(a) && narrow(b) => Precision(DType::F32),
            _ => Precision(DType::F64),
        }
    }

    /// The arithmetic type.
    pub(super) fn dtype(self) -> DType {
        self.0
    }

    /// `v` rounded to this type (to nearest even; exact for f64).
    pub(super) fn round(self, v: f64) -> f64 {
        match self.0 {
            DType::F16 => f16::from_f64_const(v).to_f64(),
            DType::BF16 => bf16::from_f64(v).to_f64(),
            DType::F32 => f64::from(v as f32),
            _ => v,
        }
    }

    /// `a / b` correctly rounded in this type (f64 holds the quotient of two narrower floats
    /// precisely enough that rounding it once more is exact).
    pub(super) fn div(self, a: f64, b: f64) -> f64 {
        self.round(self.round(a) / self.round(b))
    }

    /// `a * b` correctly rounded in this type.
    pub(super) fn mul(self, a: f64, b: f64) -> f64 {
        self.round(self.round(a) * self.round(b))
    }
}
