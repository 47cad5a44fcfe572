//! Binary ops over numpy-broadcast operands: arithmetic, `Pow`, comparisons, logic on bools,
//! bitwise operators and shifts on integers, `PRelu`.

use super::broadcast::{map2, Walk};
use super::scalar::{Int, Num};
use crate::backend::cpu::ops::Outputs;
use crate::ir::ops::elementwise::Binary;
use crate::tensor::{broadcast_shapes, TensorView};
use crate::{with_numeric_type, DType, Error, Result};

/// Evaluates `op(a, b)` into output 0.
pub(super) fn eval(
    op: Binary,
    a: TensorView<'_>,
    b: TensorView<'_>,
    threads: usize,
    out: &mut Outputs,
) -> Result<()> {
    let shape = broadcast_shapes(&[a.shape, b.shape])?;
    let walk = Walk::new(&shape, &[a.shape, b.shape])?.with_threads(threads);
    // Pow alone takes an exponent of another type.
    if op == Binary::Pow {
        return pow(&walk, a, b, &shape, out);
    }
    if a.dtype != b.dtype {
        return Err(Error::dtype(format!(
            "{} of {} and {}: the dtypes must match",
            op.name(),
            a.dtype,
            b.dtype
        )));
    }
    let unsupported = || Error::unsupported(op.name(), format!("dtype {}", a.dtype));
    match op {
        Binary::Add
        | Binary::Sub
        | Binary::Mul
        | Binary::Div
        | Binary::Mod { .. }
        | Binary::PRelu => {
            with_numeric_type!(a.dtype, T => arithmetic::<T>(op, &walk, a, b, &shape, out), _ => Err(unsupported()))
        }
        _ if op.is_comparison() => {
            let dst = out.alloc_uninit(0, DType::Bool, &shape)?.bytes;
            if a.dtype == DType::Bool {
                return compare::<u8>(op, &walk, a.bytes, b.bytes, dst);
            }
            with_numeric_type!(a.dtype, T => compare::<T>(op, &walk, a.as_slice()?, b.as_slice()?, dst), _ => Err(unsupported()))
        }
        Binary::And | Binary::Or | Binary::Xor => {
            if a.dtype != DType::Bool {
                return Err(unsupported());
            }
            let dst = out.alloc_uninit(0, DType::Bool, &shape)?.bytes;
            let (x, y) = (a.bytes, b.bytes);
            match op {
                Binary::And => map2(&walk, x, y, dst, |x, y| (x != 0 && y != 0) as u8),
                Binary::Or => map2(&walk, x, y, dst, |x, y| (x != 0 || y != 0) as u8),
                _ => map2(&walk, x, y, dst, |x, y| ((x != 0) != (y != 0)) as u8),
            }
        }
        _ => match a.dtype {
            DType::I8 => bits::<i8>(op, &walk, a, b, &shape, out),
            DType::U8 => bits::<u8>(op, &walk, a, b, &shape, out),
            DType::I16 => bits::<i16>(op, &walk, a, b, &shape, out),
            DType::U16 => bits::<u16>(op, &walk, a, b, &shape, out),
            DType::I32 => bits::<i32>(op, &walk, a, b, &shape, out),
            DType::U32 => bits::<u32>(op, &walk, a, b, &shape, out),
            DType::I64 => bits::<i64>(op, &walk, a, b, &shape, out),
            DType::U64 => bits::<u64>(op, &walk, a, b, &shape, out),
            _ => Err(unsupported()),
        },
    }
}

fn arithmetic<T: Num>(
    op: Binary,
    walk: &Walk,
    a: TensorView<'_>,
    b: TensorView<'_>,
    shape: &[usize],
    out: &mut Outputs,
) -> Result<()> {
    let (x, y) = (a.as_slice::<T>()?, b.as_slice::<T>()?);
    let mut z = out.alloc_uninit(0, a.dtype, shape)?;
    let dst = z.as_mut_slice::<T>()?;
    match op {
        Binary::Add => map2(walk, x, y, dst, T::add),
        Binary::Sub => map2(walk, x, y, dst, T::sub),
        Binary::Mul => map2(walk, x, y, dst, T::mul),
        Binary::Div => map2(walk, x, y, dst, T::div),
        Binary::Mod { fmod: false } => map2(walk, x, y, dst, T::rem_floor),
        Binary::Mod { fmod: true } => map2(walk, x, y, dst, T::rem_trunc),
        Binary::PRelu => map2(
            walk,
            x,
            y,
            dst,
            |x, slope| if x < T::ZERO { x.mul(slope) } else { x },
        ),
        _ => Err(Error::internal(format!("{} is not arithmetic", op.name()))),
    }
}

/// Comparisons of any ordered type (bools come as their bytes).
fn compare<T: PartialOrd + Copy + Sync>(
    op: Binary,
    walk: &Walk,
    x: &[T],
    y: &[T],
    dst: &mut [u8],
) -> Result<()> {
    match op {
        Binary::Equal => map2(walk, x, y, dst, |x, y| (x == y) as u8),
        Binary::Less => map2(walk, x, y, dst, |x, y| (x < y) as u8),
        Binary::Greater => map2(walk, x, y, dst, |x, y| (x > y) as u8),
        Binary::LessOrEqual => map2(walk, x, y, dst, |x, y| (x <= y) as u8),
        Binary::GreaterOrEqual => map2(walk, x, y, dst, |x, y| (x >= y) as u8),
        _ => Err(Error::internal(format!(
            "{} is not a comparison",
            op.name()
        ))),
    }
}

/// Bitwise operators and shifts of integers.
fn bits<T: Int>(
    op: Binary,
    walk: &Walk,
    a: TensorView<'_>,
    b: TensorView<'_>,
    shape: &[usize],
    out: &mut Outputs,
) -> Result<()> {
    let (x, y) = (a.as_slice::<T>()?, b.as_slice::<T>()?);
    let mut z = out.alloc_uninit(0, a.dtype, shape)?;
    let dst = z.as_mut_slice::<T>()?;
    match op {
        Binary::BitwiseAnd => map2(walk, x, y, dst, |x, y| x & y),
        Binary::BitwiseOr => map2(walk, x, y, dst, |x, y| x | y),
        Binary::BitwiseXor => map2(walk, x, y, dst, |x, y| x ^ y),
        Binary::BitShiftLeft => map2(walk, x, y, dst, T::shift_left),
        Binary::BitShiftRight => map2(walk, x, y, dst, T::shift_right),
        _ => Err(Error::unsupported(op.name(), format!("dtype {}", a.dtype))),
    }
}

/// `Pow`: the output has the base's dtype. Same-typed operands compute natively (f16/bf16
/// through f32); mixed types compute in f64, as numpy's type promotion does, and cast back.
fn pow(
    walk: &Walk,
    a: TensorView<'_>,
    b: TensorView<'_>,
    shape: &[usize],
    out: &mut Outputs,
) -> Result<()> {
    let unsupported = || Error::unsupported("Pow", format!("dtypes {} and {}", a.dtype, b.dtype));
    if a.dtype == b.dtype {
        return with_numeric_type!(a.dtype, T => pow_same::<T>(walk, a, b, shape, out), _ => Err(unsupported()));
    }
    if !(b.dtype.is_float() || b.dtype.is_integer()) {
        return Err(unsupported());
    }
    let exponents = b.to_f64_vec()?;
    with_numeric_type!(a.dtype, T => pow_f64::<T>(walk, a, &exponents, shape, out), _ => Err(unsupported()))
}

fn pow_same<T: Num>(
    walk: &Walk,
    a: TensorView<'_>,
    b: TensorView<'_>,
    shape: &[usize],
    out: &mut Outputs,
) -> Result<()> {
    let (x, y) = (a.as_slice::<T>()?, b.as_slice::<T>()?);
    let mut z = out.alloc_uninit(0, a.dtype, shape)?;
    let dst = z.as_mut_slice::<T>()?;
    // x^2 (variance, squared errors) is by far the most common power: skip powf.
    if y.len() == 1 && y.first().is_some_and(|e| e.to_f64() == 2.0) {
        map2(walk, x, y, dst, |x, _| x.mul(x))
    } else {
        map2(walk, x, y, dst, T::pow)
    }
}

fn pow_f64<T: Num>(
    walk: &Walk,
    a: TensorView<'_>,
    exponents: &[f64],
    shape: &[usize],
    out: &mut Outputs,
) -> Result<()> {
    let x = a.as_slice::<T>()?;
    let mut z = out.alloc_uninit(0, a.dtype, shape)?;
    map2(walk, x, exponents, z.as_mut_slice::<T>()?, |x, e| {
        T::from_f64(x.to_f64().powf(e))
    })
}
