//! Element-level arithmetic with ONNX (numpy reference) semantics for every numeric storage
//! type, so the kernels can be written once, generically.
//!
//! - [`Num`]: what every numeric type supports. Integers wrap on overflow, divide toward
//!   zero, and give 0 when dividing by 0 (as the numpy reference does, where C would trap);
//!   f16/bf16 compute in f32 and round once.
//! - [`Float`]: float storage types and the [`Real`] type they compute in (f32 for
//!   f16/bf16/f32, f64 for f64), which has the transcendental functions.
//! - [`Int`]: bitwise operations and shifts of integer types.

use super::real::Real;
use crate::tensor::Element;
use half::{bf16, f16};
use std::ops::{BitAnd, BitOr, BitXor, Not};

/// A numeric element type.
pub(super) trait Num: Element {
    /// Additive identity.
    const ZERO: Self;
    /// Multiplicative identity.
    const ONE: Self;
    /// A C cast: integers truncate toward zero and saturate (NaN gives 0).
    fn from_f64(v: f64) -> Self;
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    fn div(self, o: Self) -> Self;
    /// Remainder with the sign of the divisor (`numpy.mod`, ONNX `Mod` with `fmod=0`).
    fn rem_floor(self, o: Self) -> Self;
    /// Remainder with the sign of the dividend (C `fmod`, ONNX `Mod` with `fmod=1`).
    fn rem_trunc(self, o: Self) -> Self;
    fn pow(self, e: Self) -> Self;
    fn neg(self) -> Self;
    fn abs(self) -> Self;
    /// -1, 0 or 1 (NaN stays NaN).
    fn sign(self) -> Self;
}

/// `numpy.maximum`: NaN if either side is NaN (`x != x` is the NaN test that also compiles,
/// and is always false, for integers).
#[allow(clippy::eq_op)]
#[inline(always)]
pub(super) fn max_nan<T: PartialOrd>(a: T, b: T) -> T {
    if a != a || a >= b {
        a
    } else {
        b
    }
}

/// `numpy.minimum`: NaN if either side is NaN.
#[allow(clippy::eq_op)]
#[inline(always)]
pub(super) fn min_nan<T: PartialOrd>(a: T, b: T) -> T {
    if a != a || a <= b {
        a
    } else {
        b
    }
}

macro_rules! int_num {
    ($t:ty) => {
        // One body for signed and unsigned types: the sign tests are constant-false for the
        // unsigned ones.
        #[allow(unused_comparisons)]
        impl Num for $t {
            const ZERO: Self = 0;
            const ONE: Self = 1;
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                self.wrapping_add(o)
            }
            #[inline(always)]
            fn sub(self, o: Self) -> Self {
                self.wrapping_sub(o)
            }
            #[inline(always)]
            fn mul(self, o: Self) -> Self {
                self.wrapping_mul(o)
            }
            #[inline(always)]
            fn div(self, o: Self) -> Self {
                if o == 0 {
                    0
                } else {
                    self.wrapping_div(o)
                }
            }
            #[inline(always)]
            fn rem_trunc(self, o: Self) -> Self {
                if o == 0 {
                    0
                } else {
                    self.wrapping_rem(o)
                }
            }
            #[inline(always)]
            fn rem_floor(self, o: Self) -> Self {
                let r = self.rem_trunc(o);
                if r != 0 && ((r < 0) != (o < 0)) {
                    r.wrapping_add(o)
                } else {
                    r
                }
            }
            fn pow(self, e: Self) -> Self {
                if e < 0 {
                    // Only 1 and -1 have integer reciprocals; the rest truncates to 0.
                    let minus_one = Self::ZERO.wrapping_sub(1);
                    return match self {
                        1 => 1,
                        b if b == minus_one => {
                            if e % 2 == 0 {
                                1
                            } else {
                                minus_one
                            }
                        }
                        _ => 0,
                    };
                }
                let (mut acc, mut base, mut e) = (Self::ONE, self, e);
                while e > 0 {
                    if e & 1 == 1 {
                        acc = acc.wrapping_mul(base);
                    }
                    base = base.wrapping_mul(base);
                    e >>= 1;
                }
                acc
            }
            #[inline(always)]
            fn neg(self) -> Self {
                self.wrapping_neg()
            }
            #[inline(always)]
            fn abs(self) -> Self {
                if self < 0 {
                    self.wrapping_neg()
                } else {
                    self
                }
            }
            #[inline(always)]
            fn sign(self) -> Self {
                if self > 0 {
                    1
                } else if self < 0 {
                    Self::ZERO.wrapping_sub(1)
                } else {
                    0
                }
            }
        }

        #[allow(unused_comparisons)]
        impl Int for $t {
            #[inline(always)]
            fn shift_left(self, n: Self) -> Self {
                if n < 0 || n >= <$t>::BITS as $t {
                    0
                } else {
                    self.wrapping_shl(n as u32)
                }
            }
            #[inline(always)]
            fn shift_right(self, n: Self) -> Self {
                if n < 0 || n >= <$t>::BITS as $t {
                    // Everything shifted out: the sign fill remains.
                    if self < 0 {
                        !0
                    } else {
                        0
                    }
                } else {
                    self.wrapping_shr(n as u32)
                }
            }
        }
    };
}

int_num!(i8);
int_num!(u8);
int_num!(i16);
int_num!(u16);
int_num!(i32);
int_num!(u32);
int_num!(i64);
int_num!(u64);

/// `numpy.mod` for floats: the C remainder moved to the divisor's sign, and a zero result
/// carrying the divisor's sign.
#[inline(always)]
fn float_rem_floor<R: Real>(a: R, b: R) -> R {
    let r = a.fmod(b);
    if r != R::of(0.0) {
        if (b < R::of(0.0)) != (r < R::of(0.0)) {
            r + b
        } else {
            r
        }
    } else {
        // (NaN, from b == 0 or an infinite a, took the first branch and stays NaN.)
        R::of(0.0).copysign(b)
    }
}

macro_rules! float_num {
    ($t:ty) => {
        impl Num for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                self + o
            }
            #[inline(always)]
            fn sub(self, o: Self) -> Self {
                self - o
            }
            #[inline(always)]
            fn mul(self, o: Self) -> Self {
                self * o
            }
            #[inline(always)]
            fn div(self, o: Self) -> Self {
                self / o
            }
            #[inline(always)]
            fn rem_floor(self, o: Self) -> Self {
                float_rem_floor(self, o)
            }
            #[inline(always)]
            fn rem_trunc(self, o: Self) -> Self {
                self % o
            }
            #[inline(always)]
            fn pow(self, e: Self) -> Self {
                self.powf(e)
            }
            #[inline(always)]
            fn neg(self) -> Self {
                -self
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn sign(self) -> Self {
                if self > 0.0 {
                    1.0
                } else if self < 0.0 {
                    -1.0
                } else {
                    self
                }
            }
        }

        impl Float for $t {
            type R = $t;
            #[inline(always)]
            fn load(self) -> $t {
                self
            }
            #[inline(always)]
            fn store(r: $t) -> Self {
                r
            }
        }
    };
}

float_num!(f32);
float_num!(f64);

macro_rules! half_num {
    ($t:ty) => {
        impl Num for $t {
            const ZERO: Self = <$t>::ZERO;
            const ONE: Self = <$t>::ONE;
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                <$t>::from_f64(v)
            }
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                <$t>::from_f32(self.to_f32() + o.to_f32())
            }
            #[inline(always)]
            fn sub(self, o: Self) -> Self {
                <$t>::from_f32(self.to_f32() - o.to_f32())
            }
            #[inline(always)]
            fn mul(self, o: Self) -> Self {
                <$t>::from_f32(self.to_f32() * o.to_f32())
            }
            #[inline(always)]
            fn div(self, o: Self) -> Self {
                <$t>::from_f32(self.to_f32() / o.to_f32())
            }
            #[inline(always)]
            fn rem_floor(self, o: Self) -> Self {
                <$t>::from_f32(float_rem_floor(self.to_f32(), o.to_f32()))
            }
            #[inline(always)]
            fn rem_trunc(self, o: Self) -> Self {
                <$t>::from_f32(self.to_f32() % o.to_f32())
            }
            #[inline(always)]
            fn pow(self, e: Self) -> Self {
                <$t>::from_f32(self.to_f32().powf(e.to_f32()))
            }
            #[inline(always)]
            fn neg(self) -> Self {
                -self
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::from_f32(self.to_f32().abs())
            }
            #[inline(always)]
            fn sign(self) -> Self {
                <$t>::from_f32(Num::sign(self.to_f32()))
            }
        }

        impl Float for $t {
            type R = f32;
            #[inline(always)]
            fn load(self) -> f32 {
                self.to_f32()
            }
            #[inline(always)]
            fn store(r: f32) -> Self {
                <$t>::from_f32(r)
            }
        }
    };
}

half_num!(f16);
half_num!(bf16);

/// A float storage type and the type it computes in.
pub(super) trait Float: Num {
    /// f32 for f16/bf16/f32, f64 for f64.
    type R: Real;
    fn load(self) -> Self::R;
    fn store(r: Self::R) -> Self;
}

/// Integer types: bitwise operators and shifts.
pub(super) trait Int:
    Num + BitAnd<Output = Self> + BitOr<Output = Self> + BitXor<Output = Self> + Not<Output = Self>
{
    /// `self << n`; 0 when `n` is negative or not below the bit width.
    fn shift_left(self, n: Self) -> Self;
    /// `self >> n` (arithmetic for signed types); the sign fill when `n` is out of range.
    fn shift_right(self, n: Self) -> Self;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_division_truncates_and_tolerates_zero() {
        assert_eq!(Num::div(-7i32, 2), -3);
        assert_eq!(Num::div(7i32, -2), -3);
        assert_eq!(Num::div(7i32, 0), 0);
        assert_eq!(Num::div(i32::MIN, -1), i32::MIN);
    }

    #[test]
    fn integer_mod_follows_the_divisor_or_the_dividend() {
        let x = [-4i64, 7, 5, 4, -7, 8];
        let y = [2i64, -3, 8, -2, 3, 5];
        let floor: Vec<i64> = x.iter().zip(&y).map(|(&a, &b)| a.rem_floor(b)).collect();
        assert_eq!(floor, [0, -2, 5, 0, 2, 3]);
        let trunc: Vec<i64> = x.iter().zip(&y).map(|(&a, &b)| a.rem_trunc(b)).collect();
        assert_eq!(trunc, [0, 1, 5, 0, -1, 3]);
        assert_eq!(5u8.rem_floor(3), 2);
    }

    #[test]
    fn float_mod_matches_numpy_edge_cases() {
        let x = [
            0.0f64,
            -0.0,
            0.0,
            -0.0,
            -3.0,
            3.0,
            -1.0,
            1.0,
            f64::INFINITY,
            1.0,
            f64::NAN,
        ];
        let y = [
            -2.0f64,
            2.0,
            2.0,
            -2.0,
            f64::INFINITY,
            f64::INFINITY,
            -f64::INFINITY,
            -f64::INFINITY,
            2.0,
            0.0,
            2.0,
        ];
        let z: Vec<f64> = x.iter().zip(&y).map(|(&a, &b)| a.rem_floor(b)).collect();
        let expected = [
            -0.0,
            0.0,
            0.0,
            -0.0,
            f64::INFINITY,
            3.0,
            -1.0,
            -f64::INFINITY,
        ];
        for (got, want) in z.iter().zip(&expected) {
            assert_eq!(got, want);
            assert_eq!(got.is_sign_negative(), want.is_sign_negative());
        }
        assert!(z[8..].iter().all(|v| v.is_nan()));
        assert_eq!((-7.5f32).rem_floor(2.0), 0.5);
    }

    #[test]
    fn integer_pow() {
        assert_eq!(Num::pow(3i32, 4), 81);
        assert_eq!(Num::pow(2i64, 0), 1);
        assert_eq!(Num::pow(-1i32, -3), -1);
        assert_eq!(Num::pow(2i32, -1), 0);
        assert_eq!(Num::pow(2u8, 9), 0);
    }

    #[test]
    fn shifts_outside_the_width() {
        assert_eq!(1i8.shift_left(7), i8::MIN);
        assert_eq!(1i8.shift_left(8), 0);
        assert_eq!(1i8.shift_left(-1), 0);
        assert_eq!((-16i8).shift_right(2), -4);
        assert_eq!((-16i8).shift_right(9), -1);
        assert_eq!(16u8.shift_right(8), 0);
    }

    #[test]
    fn nan_propagating_extrema() {
        assert!(max_nan(1.0f32, f32::NAN).is_nan());
        assert!(max_nan(f32::NAN, 1.0).is_nan());
        assert!(min_nan(1.0f32, f32::NAN).is_nan());
        assert_eq!(max_nan(3u8, 5), 5);
        assert_eq!(min_nan(-3i8, 5), -3);
    }
}
