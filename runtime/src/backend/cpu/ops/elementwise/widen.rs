//! Rare element types computed through a wider one, so the elementwise loops exist for a few
//! compute types (f32, f64, i32, i64, u64) instead of once per storage type.
//!
//! Each op's loops are specialized per element type and op (that is what makes them fast), and
//! twelve numeric types times dozens of ops made them most of the shared library's size. The
//! narrow types (i8, u8, i16, u16, u32, f16, bf16) are rare in models, so they are widened
//! into a temporary buffer, computed in the wide type and narrowed back: an extra pass over
//! memory for those types only.
//!
//! The results are exactly those of computing in the narrow type: f16/bf16 arithmetic already
//! computes in f32 and rounds once, integer `+ - ·` wrap the same modulo 2^bits whatever the
//! width, and the wide type holds every narrow value, quotient and remainder exactly (a
//! narrow quotient that overflows, `-128 / -1`, wraps back to the same value when narrowed).

use crate::tensor::Element;
use half::{bf16, f16};

/// A storage type computed through [`Widen::W`].
pub(super) trait Widen: Element {
    /// The compute type, holding every value of `Self` exactly.
    type W: Copy + Default;
    fn widen(self) -> Self::W;
    /// Back to `Self`: integers wrap (keep the low bits), floats round to nearest even.
    fn narrow(w: Self::W) -> Self;
}

macro_rules! widen_int {
    ($t:ty => $w:ty) => {
        impl Widen for $t {
            type W = $w;
            #[inline(always)]
            fn widen(self) -> $w {
                self as $w
            }
            #[inline(always)]
            fn narrow(w: $w) -> Self {
                w as $t
            }
        }
    };
}

widen_int!(i8 => i32);
widen_int!(u8 => i32);
widen_int!(i16 => i32);
widen_int!(u16 => i32);
widen_int!(u32 => i64);

macro_rules! widen_half {
    ($t:ty) => {
        impl Widen for $t {
            type W = f32;
            #[inline(always)]
            fn widen(self) -> f32 {
                self.to_f32()
            }
            #[inline(always)]
            fn narrow(w: f32) -> Self {
                <$t>::from_f32(w)
            }
        }
    };
}

widen_half!(f16);
widen_half!(bf16);

/// `x` in the wide type.
pub(super) fn widened<T: Widen>(x: &[T]) -> Vec<T::W> {
    x.iter().map(|&v| v.widen()).collect()
}

/// `dst[i] = narrow(wide[i])`.
pub(super) fn narrow_into<T: Widen>(wide: &[T::W], dst: &mut [T]) {
    dst.iter_mut()
        .zip(wide)
        .for_each(|(d, &w)| *d = T::narrow(w));
}

#[cfg(test)]
mod tests {
    use super::super::scalar::Num;
    use super::*;

    /// Every pair of i8 (and of u8) values: the wide computation narrowed equals the narrow one.
    #[test]
    fn widened_integer_arithmetic_equals_the_narrow_type() {
        fn check<T: Widen + Num + std::fmt::Debug>(values: &[T])
        where
            T::W: Num,
        {
            let ops: [(fn(T, T) -> T, fn(T::W, T::W) -> T::W); 6] = [
                (T::add, T::W::add),
                (T::sub, T::W::sub),
                (T::mul, T::W::mul),
                (T::div, T::W::div),
                (T::rem_floor, T::W::rem_floor),
                (T::rem_trunc, T::W::rem_trunc),
            ];
            for &a in values {
                for &b in values {
                    for (k, (narrow, wide)) in ops.iter().enumerate() {
                        let want = narrow(a, b);
                        let got = T::narrow(wide(a.widen(), b.widen()));
                        assert_eq!(got, want, "op {k} of {a:?} and {b:?}");
                    }
                }
            }
        }
        check(&(i8::MIN..=i8::MAX).collect::<Vec<_>>());
        check(&(u8::MIN..=u8::MAX).collect::<Vec<_>>());
        let edges16 = [
            i16::MIN,
            i16::MIN + 1,
            -300,
            -2,
            -1,
            0,
            1,
            2,
            255,
            300,
            i16::MAX,
        ];
        check(&edges16);
        let edges_u16 = [0u16, 1, 2, 255, 256, 300, 32768, u16::MAX - 1, u16::MAX];
        check(&edges_u16);
        let edges_u32 = [0u32, 1, 2, 3, 65536, 1 << 31, u32::MAX - 1, u32::MAX];
        check(&edges_u32);
        // pow wraps too: exponents kept small so the test stays fast.
        for a in i8::MIN..=i8::MAX {
            for e in -3i8..10 {
                assert_eq!(
                    i8::narrow(Num::pow(a.widen(), e.widen())),
                    Num::pow(a, e),
                    "{a}^{e}"
                );
            }
        }
    }

    #[test]
    fn halves_round_trip_and_round_once() {
        for bits in 0..=u16::MAX {
            let h = f16::from_bits(bits);
            let back = f16::narrow(h.widen());
            assert!(back.to_bits() == bits || (h.is_nan() && back.is_nan()));
            let b = bf16::from_bits(bits);
            let back = bf16::narrow(b.widen());
            assert!(back.to_bits() == bits || (b.is_nan() && back.is_nan()));
        }
        let (a, b) = (f16::from_f32(1.0), f16::from_f32(0.000_976_6));
        assert_eq!(f16::narrow(a.widen() + b.widen()), Num::add(a, b));
    }
}
