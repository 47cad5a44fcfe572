//! The arithmetic this family computes in: [`Num`] (ring operations and a matrix product, for
//! every integer and native float type) and [`Real`] (transcendental functions, for f32/f64,
//! which f16/bf16 are computed through), plus the reading and writing of float tensors in a
//! compute type and the emulation of a narrower storage type's rounding.

use super::Outputs;
use crate::tensor::{numel, Element, TensorView};
use crate::{DType, Error, Result};
use mote_kernels::cpu::matmul::{sgemm, GemmParams};
use std::borrow::Cow;
use std::ops::{Add, Div, Mul, Sub};

/// Types products are computed in directly. Integer arithmetic wraps (as in numpy).
pub(super) trait Num: Element {
    /// Additive identity.
    const ZERO: Self;
    /// `self + other`.
    fn plus(self, other: Self) -> Self;
    /// `self * other`.
    fn times(self, other: Self) -> Self;
    /// Widening conversion (for scaling by float attributes).
    fn to_f64(self) -> f64;
    /// Narrowing conversion (rounds floats, saturates integers).
    fn from_f64(v: f64) -> Self;
    /// `C = alpha·A·B + beta·C` (`beta == 0`: `C` is write-only), addressed as [`GemmParams`]
    /// says, with non-negative strides.
    fn gemm(p: &GemmParams, a: &[Self], b: &[Self], c: &mut [Self]) -> Result<()> {
        gemm_generic(p, a, b, c)
    }
}

macro_rules! num_int {
    ($($t:ty),*) => {$(
        impl Num for $t {
            const ZERO: Self = 0;
            fn plus(self, other: Self) -> Self { self.wrapping_add(other) }
            fn times(self, other: Self) -> Self { self.wrapping_mul(other) }
            fn to_f64(self) -> f64 { self as f64 }
            fn from_f64(v: f64) -> Self { v as $t }
        }
    )*};
}
num_int!(i8, u8, i16, u16, i32, u32, i64, u64);

impl Num for f64 {
    const ZERO: Self = 0.0;
    fn plus(self, other: Self) -> Self {
        self + other
    }
    fn times(self, other: Self) -> Self {
        self * other
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn from_f64(v: f64) -> Self {
        v
    }
}

impl Num for f32 {
    const ZERO: Self = 0.0;
    fn plus(self, other: Self) -> Self {
        self + other
    }
    fn times(self, other: Self) -> Self {
        self * other
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn gemm(p: &GemmParams, a: &[f32], b: &[f32], c: &mut [f32]) -> Result<()> {
        sgemm(p, a, b, c).map_err(|e| Error::internal(format!("sgemm: {e}")))
    }
}

/// Runs `$body` with `$T` bound to the [`Num`] type of `$dtype` (not f16/bf16, which are
/// computed through f32 by the caller), or evaluates `$else`.
macro_rules! with_num_type {
    ($dtype:expr, $T:ident => $body:expr, _ => $else:expr) => {
        match $dtype {
            $crate::DType::F32 => {
                type $T = f32;
                $body
            }
            #[cfg(feature = "dtypes-extra")]
            $crate::DType::F64 => {
                type $T = f64;
                $body
            }
            $crate::DType::I8 => {
                type $T = i8;
                $body
            }
            $crate::DType::U8 => {
                type $T = u8;
                $body
            }
            #[cfg(feature = "dtypes-extra")]
            $crate::DType::I16 => {
                type $T = i16;
                $body
            }
            #[cfg(feature = "dtypes-extra")]
            $crate::DType::U16 => {
                type $T = u16;
                $body
            }
            $crate::DType::I32 => {
                type $T = i32;
                $body
            }
            #[cfg(feature = "dtypes-extra")]
            $crate::DType::U32 => {
                type $T = u32;
                $body
            }
            $crate::DType::I64 => {
                type $T = i64;
                $body
            }
            #[cfg(feature = "dtypes-extra")]
            $crate::DType::U64 => {
                type $T = u64;
                $body
            }
            _ => $else,
        }
    };
}
pub(super) use with_num_type;

/// A dimension as a GEMM stride (dimensions of real tensors never exceed `isize::MAX`; an
/// absurd one saturates and is then rejected by the kernel's bounds check).
pub(super) fn stride(x: usize) -> isize {
    isize::try_from(x).unwrap_or(isize::MAX)
}

/// `&v[start..]`, or an empty slice when `start` is past the end (an empty operand, which the
/// product then reads nothing from).
pub(super) fn tail<T>(v: &[T], start: usize) -> &[T] {
    v.get(start..).unwrap_or(&[])
}

/// `&mut v[start..]`, or an empty slice when `start` is past the end.
pub(super) fn tail_mut<T>(v: &mut [T], start: usize) -> &mut [T] {
    let start = start.min(v.len());
    &mut v[start..]
}

/// Highest offset `rows × cols` with the given strides reaches, or an error when the operand
/// does not fit in `len` elements.
fn check_extent(
    name: &str,
    len: usize,
    rows: usize,
    cols: usize,
    rs: isize,
    cs: isize,
) -> Result<()> {
    if rows == 0 || cols == 0 {
        return Ok(());
    }
    let (rs, cs) = match (usize::try_from(rs), usize::try_from(cs)) {
        (Ok(r), Ok(c)) => (r, c),
        _ => {
            return Err(Error::internal(format!(
                "gemm operand {name}: negative stride"
            )))
        }
    };
    let last = (rows - 1)
        .checked_mul(rs)
        .and_then(|r| (cols - 1).checked_mul(cs).and_then(|c| r.checked_add(c)));
    match last {
        Some(last) if last < len => Ok(()),
        _ => Err(Error::internal(format!(
            "gemm operand {name} ({rows}×{cols}) exceeds its {len} elements"
        ))),
    }
}

/// The portable product for every non-f32 type: one output row at a time, accumulated in
/// `T` (i-l-j order so the innermost loop walks rows of `B`).
fn gemm_generic<T: Num>(p: &GemmParams, a: &[T], b: &[T], c: &mut [T]) -> Result<()> {
    if p.k > 0 {
        check_extent("A", a.len(), p.m, p.k, p.a_row_stride, p.a_col_stride)?;
        check_extent("B", b.len(), p.k, p.n, p.b_row_stride, p.b_col_stride)?;
    }
    check_extent("C", c.len(), p.m, p.n, p.c_row_stride, 1)?;
    let (ars, acs, brs, bcs) = (
        p.a_row_stride as usize,
        p.a_col_stride as usize,
        p.b_row_stride as usize,
        p.b_col_stride as usize,
    );
    let mut acc = vec![T::ZERO; p.n];
    for i in 0..p.m {
        acc.fill(T::ZERO);
        for l in 0..p.k {
            let av = a[i * ars + l * acs];
            let b_row = l * brs;
            for (j, s) in acc.iter_mut().enumerate() {
                *s = s.plus(av.times(b[b_row + j * bcs]));
            }
        }
        let start = i * p.c_row_stride as usize;
        for (cj, &s) in c[start..start + p.n].iter_mut().zip(&acc) {
            let prod = if p.alpha == 1.0 {
                s
            } else {
                T::from_f64(p.alpha as f64 * s.to_f64())
            };
            *cj = if p.beta == 0.0 {
                prod
            } else if p.beta == 1.0 {
                prod.plus(*cj)
            } else {
                prod.plus(T::from_f64(p.beta as f64 * cj.to_f64()))
            };
        }
    }
    Ok(())
}

/// Float types with the functions softmax, normalizations and attention need.
pub(super) trait Real:
    Num + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self>
{
    /// 1.
    const ONE: Self;
    /// -∞.
    const NEG_INFINITY: Self;
    /// eˣ.
    fn exp(self) -> Self;
    /// ln x.
    fn ln(self) -> Self;
    /// √x (normalizations and attention only: unused in a build without them).
    #[cfg_attr(not(feature = "ops-transformer"), allow(dead_code))]
    fn sqrt(self) -> Self;
    /// tanh x (attention's soft cap only).
    #[cfg_attr(not(feature = "ops-transformer"), allow(dead_code))]
    fn tanh(self) -> Self;
    /// NaN test.
    fn is_nan(self) -> bool;
    /// A float tensor's values in this type (borrowed when it already is).
    fn read<'a>(v: &TensorView<'a>) -> Result<Cow<'a, [Self]>>;
}

impl Real for f32 {
    const ONE: Self = 1.0;
    const NEG_INFINITY: Self = f32::NEG_INFINITY;
    fn exp(self) -> Self {
        f32::exp(self)
    }
    fn ln(self) -> Self {
        f32::ln(self)
    }
    fn sqrt(self) -> Self {
        f32::sqrt(self)
    }
    fn tanh(self) -> Self {
        f32::tanh(self)
    }
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
    fn read<'a>(v: &TensorView<'a>) -> Result<Cow<'a, [f32]>> {
        match v.dtype {
            DType::F32 => Ok(Cow::Borrowed(v.as_slice::<f32>()?)),
            d if d.is_float() => Ok(Cow::Owned(v.to_f32_vec()?)),
            d => Err(Error::dtype(format!("expected a float tensor, got {d}"))),
        }
    }
}

impl Real for f64 {
    const ONE: Self = 1.0;
    const NEG_INFINITY: Self = f64::NEG_INFINITY;
    fn exp(self) -> Self {
        f64::exp(self)
    }
    fn ln(self) -> Self {
        f64::ln(self)
    }
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
    fn tanh(self) -> Self {
        f64::tanh(self)
    }
    fn is_nan(self) -> bool {
        f64::is_nan(self)
    }
    fn read<'a>(v: &TensorView<'a>) -> Result<Cow<'a, [f64]>> {
        match v.dtype {
            DType::F64 => Ok(Cow::Borrowed(v.as_slice::<f64>()?)),
            d if d.is_float() => Ok(Cow::Owned(v.to_f64_vec()?)),
            d => Err(Error::dtype(format!("expected a float tensor, got {d}"))),
        }
    }
}

/// Runs `$body` with `$R` bound to the [`Real`] type a float `$dtype` is computed in (f64 for
/// f64, f32 for f32/f16/bf16), or evaluates `$else`.
macro_rules! with_real_type {
    ($dtype:expr, $R:ident => $body:expr, _ => $else:expr) => {
        match $dtype {
            #[cfg(feature = "dtypes-extra")]
            $crate::DType::F64 => {
                type $R = f64;
                $body
            }
            $crate::DType::F32 | $crate::DType::F16 | $crate::DType::BF16 => {
                type $R = f32;
                $body
            }
            _ => $else,
        }
    };
}
pub(super) use with_real_type;

/// Writes `values` (computed in `R`) as output `i` of `dtype` (a float type), rounding once.
pub(super) fn store<R: Real>(
    out: &mut Outputs,
    i: usize,
    dtype: DType,
    shape: &[usize],
    values: &[R],
) -> Result<()> {
    if values.len() != numel(shape) {
        return Err(Error::internal(format!(
            "{} values for an output of shape {shape:?}",
            values.len()
        )));
    }
    let mut y = out.alloc_uninit(i, dtype, shape)?;
    if dtype == R::DTYPE {
        y.bytes.copy_from_slice(bytemuck::cast_slice(values));
        return Ok(());
    }
    fn fill<T: Element, R: Real>(dst: &mut [T], values: &[R], conv: impl Fn(f64) -> T) {
        dst.iter_mut()
            .zip(values)
            .for_each(|(d, v)| *d = conv(v.to_f64()));
    }
    match dtype {
        DType::F32 => fill(y.as_mut_slice::<f32>()?, values, |v| v as f32),
        DType::F64 => fill(y.as_mut_slice::<f64>()?, values, |v| v),
        DType::F16 => fill(y.as_mut_slice::<half::f16>()?, values, half::f16::from_f64),
        DType::BF16 => fill(
            y.as_mut_slice::<half::bf16>()?,
            values,
            half::bf16::from_f64,
        ),
        d => return Err(Error::dtype(format!("cannot store float results as {d}"))),
    }
    Ok(())
}

/// Runs `fill` on an `R` buffer that becomes output `i` of `dtype`: in place when `dtype` is
/// `R`'s own type, through a temporary and [`store`] otherwise. `fill` must write every element.
pub(super) fn write_with<R: Real>(
    out: &mut Outputs,
    i: usize,
    dtype: DType,
    shape: &[usize],
    fill: impl FnOnce(&mut [R]) -> Result<()>,
) -> Result<()> {
    if dtype == R::DTYPE {
        let mut y = out.alloc_uninit(i, dtype, shape)?;
        return fill(y.as_mut_slice::<R>()?);
    }
    let mut tmp = vec![R::ZERO; numel(shape)];
    fill(&mut tmp)?;
    store(out, i, dtype, shape, &tmp)
}

fn round_f16<R: Real>(v: R) -> R {
    R::from_f64(half::f16::from_f64(v.to_f64()).to_f64())
}

fn round_bf16<R: Real>(v: R) -> R {
    R::from_f64(half::bf16::from_f64(v.to_f64()).to_f64())
}

fn exact<R: Real>(v: R) -> R {
    v
}

/// Rounds an `R` value to the precision of `storage` (identity unless `storage` is narrower):
/// lets a computation in f32 round where a computation in f16 would.
pub(super) fn rounding<R: Real>(storage: DType) -> fn(R) -> R {
    match storage {
        DType::F16 => round_f16::<R>,
        DType::BF16 => round_bf16::<R>,
        DType::F32 if R::DTYPE == DType::F64 => |v| R::from_f64(v.to_f64() as f32 as f64),
        _ => exact::<R>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row_major<T: Num>(m: usize, n: usize, k: usize, a: &[T], b: &[T]) -> Vec<T> {
        let mut c = vec![T::ZERO; m * n];
        T::gemm(&GemmParams::row_major(m, n, k), a, b, &mut c).unwrap();
        c
    }

    #[test]
    fn generic_gemm_matches_f32_gemm() {
        let a: Vec<i64> = (0..6).collect();
        let b: Vec<i64> = (0..12).map(|v| v - 5).collect();
        let af: Vec<f32> = a.iter().map(|&v| v as f32).collect();
        let bf: Vec<f32> = b.iter().map(|&v| v as f32).collect();
        let ci = row_major(2, 4, 3, &a, &b);
        let cf = row_major(2, 4, 3, &af, &bf);
        assert_eq!(ci.iter().map(|&v| v as f32).collect::<Vec<_>>(), cf);
    }

    #[test]
    fn generic_gemm_scales_and_accumulates() {
        let p = GemmParams {
            alpha: 2.0,
            beta: 0.5,
            ..GemmParams::row_major(1, 1, 2)
        };
        let mut c = [4.0f64];
        f64::gemm(&p, &[1.0, 2.0], &[3.0, 4.0], &mut c).unwrap();
        assert_eq!(c[0], 2.0 * 11.0 + 2.0);
    }

    #[test]
    fn generic_gemm_rejects_short_operands() {
        let mut c = [0i32; 4];
        assert!(i32::gemm(
            &GemmParams::row_major(2, 2, 2),
            &[1, 2, 3],
            &[1, 2, 3, 4],
            &mut c
        )
        .is_err());
    }

    #[test]
    fn rounding_emulates_f16() {
        let r = rounding::<f32>(DType::F16);
        assert_eq!(r(1.0 + 1e-4), 1.0);
        assert_eq!(rounding::<f32>(DType::F32)(1.0 + 1e-4), 1.0 + 1e-4);
    }
}
