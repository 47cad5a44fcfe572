//! Binary ops over numpy-broadcast operands: arithmetic, `Pow`, comparisons, logic on bools,
//! bitwise operators and shifts on integers, `PRelu`.
//!
//! `f32` `+ - · /`, the bulk of a CNN's elementwise time (residual adds, per-channel scales,
//! hard-swish's `/ 6`), run on the SIMD kernels of `mote_kernels::cpu::binary`, one call per
//! broadcast run; their results equal the generic loops' bit for bit.

use super::broadcast::{map2, zip_runs, Walk};
use super::scalar::{Int, Num};
use crate::backend::cpu::ops::Outputs;
use crate::ir::ops::elementwise::Binary;
use crate::tensor::{broadcast_shapes, TensorView};
use crate::{with_numeric_type, DType, Error, Result};
use mote_kernels::cpu::binary::BinaryOp;

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
    if a.dtype == DType::F32 {
        if let Some(kernel_op) = simd_op(op) {
            return simd_arithmetic(kernel_op, &walk, a, b, &shape, out);
        }
    }
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

/// The SIMD kernel operator computing `op`, if there is one.
fn simd_op(op: Binary) -> Option<BinaryOp> {
    match op {
        Binary::Add => Some(BinaryOp::Add),
        Binary::Sub => Some(BinaryOp::Sub),
        Binary::Mul => Some(BinaryOp::Mul),
        Binary::Div => Some(BinaryOp::Div),
        _ => None,
    }
}

/// Runs shorter than this are computed inline: a kernel call costs about as much as a few
/// elements (validation, a call through a pointer, a partial vector).
const MIN_KERNEL_RUN: usize = 16;

/// `f32` arithmetic through the SIMD kernel, one call per broadcast run.
fn simd_arithmetic(
    op: BinaryOp,
    walk: &Walk,
    a: TensorView<'_>,
    b: TensorView<'_>,
    shape: &[usize],
    out: &mut Outputs,
) -> Result<()> {
    let kernel = mote_kernels::cpu::table().binary;
    let (x, y) = (a.as_slice::<f32>()?, b.as_slice::<f32>()?);
    let mut z = out.alloc_uninit(0, DType::F32, shape)?;
    zip_runs(walk, x, y, z.as_mut_slice::<f32>()?, |x, y, dst| {
        if dst.len() < MIN_KERNEL_RUN {
            let at = |run: &[f32], i: usize| if run.len() == 1 { run[0] } else { run[i] };
            for (i, d) in dst.iter_mut().enumerate() {
                *d = op.apply(at(x, i), at(y, i));
            }
            return Ok(());
        }
        kernel(op, x, y, dst)
            .map_err(|e| Error::internal(format!("{op:?}: kernel rejected its arguments: {e}")))
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::numel;
    use crate::Tensor;

    /// Finite values with every special value mixed in.
    fn values(shape: &[usize], seed: u32) -> Tensor {
        const SPECIAL: [f32; 6] = [0.0, -0.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 6.0];
        let data = (0..numel(shape) as u32)
            .map(|i| {
                let k = i
                    .wrapping_mul(2_654_435_761)
                    .wrapping_add(seed.wrapping_mul(40_503));
                if k % 11 == 0 {
                    SPECIAL[(k / 11) as usize % SPECIAL.len()]
                } else {
                    (k % 2001) as f32 / 16.0 - 62.5
                }
            })
            .collect();
        Tensor::from_vec(shape, data).unwrap()
    }

    /// The kernel path against the generic element loop, bit for bit (NaN matching NaN).
    fn check(a_shape: &[usize], b_shape: &[usize]) {
        let (a, b) = (values(a_shape, 1), values(b_shape, 2));
        let shape = broadcast_shapes(&[a_shape, b_shape]).unwrap();
        let (x, y) = (a.as_slice::<f32>().unwrap(), b.as_slice::<f32>().unwrap());
        for op in [Binary::Add, Binary::Sub, Binary::Mul, Binary::Div] {
            let generic = |x: f32, y: f32| match op {
                Binary::Add => x.add(y),
                Binary::Sub => x.sub(y),
                Binary::Mul => x.mul(y),
                _ => x.div(y),
            };
            let walk = Walk::new(&shape, &[a_shape, b_shape]).unwrap();
            let mut want = vec![0.0f32; numel(&shape)];
            map2(&walk, x, y, &mut want, generic).unwrap();
            for threads in [1, 3] {
                let mut out = Outputs::fresh(1);
                eval(op, a.view(), b.view(), threads, &mut out).unwrap();
                let got = out.into_results().remove(0).unwrap();
                assert_eq!(got.shape(), shape);
                for (i, (&g, &w)) in got.as_slice::<f32>().unwrap().iter().zip(&want).enumerate() {
                    assert!(
                        g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
                        "{op:?} {a_shape:?} {b_shape:?} threads {threads} at {i}: {g} vs {w}"
                    );
                }
            }
        }
    }

    #[test]
    fn f32_arithmetic_matches_the_generic_loop_for_every_broadcast() {
        check(&[2, 3, 40, 50], &[2, 3, 40, 50]); // same shape
        check(&[2, 3, 40, 50], &[1]); // scalar right
        check(&[], &[2, 3, 40, 50]); // scalar left
        check(&[2, 3, 40, 50], &[3, 1, 1]); // per channel
        check(&[1, 3, 1, 1], &[2, 3, 40, 50]); // per channel, left
        check(&[2, 1, 40, 50], &[2, 3, 40, 50]); // a plane against every channel
        check(&[300, 5], &[5]); // runs shorter than a kernel call is worth
        check(&[7, 1], &[1, 33]); // both repeated along different axes
        check(&[], &[]);
        check(&[0, 3], &[3]);
    }

    #[test]
    fn large_f32_outputs_split_over_threads_give_the_same_bits() {
        check(&[4, 64, 64, 40], &[4, 64, 64, 40]);
        check(&[4, 64, 64, 40], &[64, 1, 1]);
    }
}
