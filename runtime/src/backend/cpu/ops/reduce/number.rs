//! The arithmetic the reductions need from each numeric element type. Floats are combined in
//! f64 (exact for max/min, and sums more accurate than the input type); integers in i128 and
//! then wrapped to the input type, which matches arithmetic in the type itself (numpy's
//! `dtype=x.dtype`) because wrap-around commutes with `+` and `×`.

use crate::tensor::Element;

/// A numeric element type as the reductions see it.
pub(super) trait Number: Element {
    /// Float types (f16, bf16, f32, f64) take the f64 path, integers the i128 one.
    const IS_FLOAT: bool;
    /// The identity of `max`: -∞ for floats, the type's minimum for integers.
    fn lowest() -> Self;
    /// The identity of `min`: +∞ for floats, the type's maximum for integers.
    fn highest() -> Self;
    /// The value as f64 (exact for floats and integers up to 2⁵³).
    fn to_f64(self) -> f64;
    /// Rounds to the nearest float, or converts like `as` for integers (truncation towards
    /// zero, saturating, NaN to 0).
    fn from_f64(v: f64) -> Self;
    /// The exact value of an integer (floats are truncated; the float path never calls it).
    fn to_i128(self) -> i128;
    /// The low bits of `v` as this type (two's complement wrap-around).
    fn wrap_i128(v: i128) -> Self;
}

macro_rules! integer {
    ($t:ty) => {
        impl Number for $t {
            const IS_FLOAT: bool = false;
            fn lowest() -> Self {
                <$t>::MIN
            }
            fn highest() -> Self {
                <$t>::MAX
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            fn to_i128(self) -> i128 {
                self as i128
            }
            fn wrap_i128(v: i128) -> Self {
                v as $t
            }
        }
    };
}
integer!(u8);
integer!(i8);
integer!(u16);
integer!(i16);
integer!(u32);
integer!(i32);
integer!(u64);
integer!(i64);

macro_rules! native_float {
    ($t:ty) => {
        impl Number for $t {
            const IS_FLOAT: bool = true;
            fn lowest() -> Self {
                <$t>::NEG_INFINITY
            }
            fn highest() -> Self {
                <$t>::INFINITY
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            fn to_i128(self) -> i128 {
                self as i128
            }
            fn wrap_i128(v: i128) -> Self {
                v as $t
            }
        }
    };
}
native_float!(f32);
native_float!(f64);

macro_rules! half_float {
    ($t:ty) => {
        impl Number for $t {
            const IS_FLOAT: bool = true;
            fn lowest() -> Self {
                <$t>::NEG_INFINITY
            }
            fn highest() -> Self {
                <$t>::INFINITY
            }
            fn to_f64(self) -> f64 {
                <$t>::to_f64(self)
            }
            fn from_f64(v: f64) -> Self {
                <$t>::from_f64(v)
            }
            fn to_i128(self) -> i128 {
                <$t>::to_f64(self) as i128
            }
            fn wrap_i128(v: i128) -> Self {
                <$t>::from_f64(v as f64)
            }
        }
    };
}
half_float!(half::f16);
half_float!(half::bf16);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_wrap_like_the_type() {
        assert_eq!(i8::wrap_i128(127 + 1), -128);
        assert_eq!(u8::wrap_i128(-1), 255);
        assert_eq!(u64::MAX.to_i128(), u64::MAX as i128);
    }

    #[test]
    fn floats_convert_through_f64() {
        assert_eq!(half::f16::from_f64(1.5).to_f64(), 1.5);
        assert_eq!(i32::from_f64(-2.7), -2);
        assert_eq!(f32::lowest(), f32::NEG_INFINITY);
    }
}
