//! Arithmetic on any numeric element type, for the few shape ops that compute (resize,
//! range, scatter reductions, top-k, eye-like, pad values).

use crate::tensor::Element;
use crate::{DType, Error, Result};

/// A numeric element: compares, converts through `f64`. (`to_f64`, `add` and `mul` serve the
/// indexing ops alone, which a build without `ops-index` leaves out.)
#[cfg_attr(not(feature = "ops-index"), allow(dead_code))]
pub(super) trait Numeric: Element + PartialOrd {
    /// The value as `f64` (exact for all but the widest integers).
    fn to_f64(self) -> f64;
    /// `v` converted like ONNX saturate-casts: integers round half to even and clamp,
    /// floats round to nearest.
    fn from_f64(v: f64) -> Self;
    /// The sum (wrapping for integers).
    fn add(self, other: Self) -> Self;
    /// The product (wrapping for integers).
    fn mul(self, other: Self) -> Self;
}

macro_rules! integer {
    ($($t:ty),*) => {$(
        impl Numeric for $t {
            fn to_f64(self) -> f64 { self as f64 }
            fn from_f64(v: f64) -> Self { v.round_ties_even() as $t }
            fn add(self, other: Self) -> Self { self.wrapping_add(other) }
            fn mul(self, other: Self) -> Self { self.wrapping_mul(other) }
        }
    )*};
}
integer!(u8, i8, u16, i16, u32, i32, u64, i64);

impl Numeric for f32 {
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn add(self, other: Self) -> Self {
        self + other
    }
    fn mul(self, other: Self) -> Self {
        self * other
    }
}

impl Numeric for f64 {
    fn to_f64(self) -> f64 {
        self
    }
    fn from_f64(v: f64) -> Self {
        v
    }
    fn add(self, other: Self) -> Self {
        self + other
    }
    fn mul(self, other: Self) -> Self {
        self * other
    }
}

impl Numeric for half::f16 {
    fn to_f64(self) -> f64 {
        self.to_f64()
    }
    fn from_f64(v: f64) -> Self {
        half::f16::from_f64(v)
    }
    fn add(self, other: Self) -> Self {
        half::f16::from_f32(self.to_f32() + other.to_f32())
    }
    fn mul(self, other: Self) -> Self {
        half::f16::from_f32(self.to_f32() * other.to_f32())
    }
}

impl Numeric for half::bf16 {
    fn to_f64(self) -> f64 {
        self.to_f64()
    }
    fn from_f64(v: f64) -> Self {
        half::bf16::from_f64(v)
    }
    fn add(self, other: Self) -> Self {
        half::bf16::from_f32(self.to_f32() + other.to_f32())
    }
    fn mul(self, other: Self) -> Self {
        half::bf16::from_f32(self.to_f32() * other.to_f32())
    }
}

/// The bytes of one element of `dtype` holding `v` (bool: `v != 0`).
pub(super) fn scalar_bytes(dtype: DType, v: f64) -> Result<Vec<u8>> {
    if dtype == DType::Bool {
        return Ok(vec![(v != 0.0) as u8]);
    }
    crate::with_numeric_type!(dtype, T => {
        Ok(bytemuck::bytes_of(&T::from_f64(v)).to_vec())
    }, _ => Err(Error::unsupported("shape op", format!("a {dtype} constant"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_conversion_rounds_half_to_even_and_saturates() {
        assert_eq!(<u8 as Numeric>::from_f64(2.5), 2);
        assert_eq!(<u8 as Numeric>::from_f64(3.5), 4);
        assert_eq!(<u8 as Numeric>::from_f64(300.0), 255);
        assert_eq!(<i8 as Numeric>::from_f64(-300.0), -128);
    }

    #[test]
    fn scalar_bytes_match_the_dtype() {
        assert_eq!(
            scalar_bytes(DType::I16, -2.0).unwrap(),
            (-2i16).to_le_bytes().to_vec()
        );
        assert_eq!(scalar_bytes(DType::Bool, 3.0).unwrap(), vec![1]);
    }
}
