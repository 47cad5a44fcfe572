//! Binary ops over numpy-broadcast operands: arithmetic, `Pow`, comparisons, logic on bools,
//! bitwise operators and shifts on integers, `PRelu`.
//!
//! `f32` `+ - · /`, the bulk of a CNN's elementwise time (residual adds, per-channel scales,
//! hard-swish's `/ 6`), run on the SIMD kernels of `mote_kernels::cpu::binary`, one call per
//! broadcast run; their results equal the generic loops' bit for bit.

use super::broadcast::{map2, zip_run, zip_runs, zip_runs_widened, zip_runs_with, RunFn, Walk};
use super::scalar::{Int, Num};
use super::widen::Widen;
use crate::backend::cpu::ops::Outputs;
use crate::ir::ops::elementwise::Binary;
use crate::tensor::{broadcast_shapes, numel, TensorView};
use crate::{with_numeric_type, DType, Error, Result};
#[cfg(feature = "dtypes-extra")]
use half::bf16;
use half::f16;
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
            let z = out.alloc_uninit(0, a.dtype, &shape)?;
            let dst = z.bytes;
            macro_rules! native {
                ($t:ty) => {
                    zip_runs_with::<$t, $t>(
                        &walk,
                        a.as_slice()?,
                        b.as_slice()?,
                        cast_mut(dst)?,
                        arithmetic_run(op)?,
                    )
                };
            }
            macro_rules! widened {
                ($t:ty) => {
                    zip_runs_widened::<$t, _, $t>(
                        &walk,
                        a.as_slice()?,
                        b.as_slice()?,
                        cast_mut(dst)?,
                        arithmetic_run(op)?,
                        <$t>::narrow,
                    )
                };
            }
            match a.dtype {
                DType::F32 => native!(f32),
                #[cfg(feature = "dtypes-extra")]
                DType::F64 => native!(f64),
                DType::I32 => native!(i32),
                DType::I64 => native!(i64),
                #[cfg(feature = "dtypes-extra")]
                DType::U64 => native!(u64),
                DType::F16 => widened!(f16),
                #[cfg(feature = "dtypes-extra")]
                DType::BF16 => widened!(bf16),
                DType::I8 => widened!(i8),
                DType::U8 => widened!(u8),
                #[cfg(feature = "dtypes-extra")]
                DType::I16 => widened!(i16),
                #[cfg(feature = "dtypes-extra")]
                DType::U16 => widened!(u16),
                #[cfg(feature = "dtypes-extra")]
                DType::U32 => widened!(u32),
                _ => Err(unsupported()),
            }
        }
        _ if op.is_comparison() => {
            let dst = out.alloc_uninit(0, DType::Bool, &shape)?.bytes;
            // `x > y` is computed as `y < x` on the swapped walk (and `>=` as `<=`), so each
            // type has three loops, not five.
            let (swap, run_of) = comparison(op)?;
            let swapped;
            let (walk, a, b) = if swap {
                swapped = walk.swapped();
                (&swapped, b, a)
            } else {
                (&walk, a, b)
            };
            macro_rules! native {
                ($t:ty) => {
                    zip_runs_with::<$t, u8>(walk, a.as_slice()?, b.as_slice()?, dst, run_of.of())
                };
            }
            macro_rules! widened {
                ($t:ty) => {
                    zip_runs_widened::<$t, u8, u8>(
                        walk,
                        a.as_slice()?,
                        b.as_slice()?,
                        dst,
                        run_of.of(),
                        |v| v,
                    )
                };
            }
            match a.dtype {
                // Bools compare as their bytes.
                DType::Bool | DType::U8 => {
                    zip_runs_with::<u8, u8>(walk, a.bytes, b.bytes, dst, run_of.of())
                }
                DType::F32 => native!(f32),
                #[cfg(feature = "dtypes-extra")]
                DType::F64 => native!(f64),
                DType::I32 => native!(i32),
                DType::I64 => native!(i64),
                #[cfg(feature = "dtypes-extra")]
                DType::U64 => native!(u64),
                DType::F16 => widened!(f16),
                #[cfg(feature = "dtypes-extra")]
                DType::BF16 => widened!(bf16),
                DType::I8 => widened!(i8),
                #[cfg(feature = "dtypes-extra")]
                DType::I16 => widened!(i16),
                #[cfg(feature = "dtypes-extra")]
                DType::U16 => widened!(u16),
                #[cfg(feature = "dtypes-extra")]
                DType::U32 => widened!(u32),
                _ => Err(unsupported()),
            }
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
        Binary::BitShiftRight => match a.dtype {
            DType::I8 => shift_right::<i8>(&walk, a, b, &shape, out),
            DType::U8 => shift_right::<u8>(&walk, a, b, &shape, out),
            #[cfg(feature = "dtypes-extra")]
            DType::I16 => shift_right::<i16>(&walk, a, b, &shape, out),
            #[cfg(feature = "dtypes-extra")]
            DType::U16 => shift_right::<u16>(&walk, a, b, &shape, out),
            DType::I32 => shift_right::<i32>(&walk, a, b, &shape, out),
            #[cfg(feature = "dtypes-extra")]
            DType::U32 => shift_right::<u32>(&walk, a, b, &shape, out),
            DType::I64 => shift_right::<i64>(&walk, a, b, &shape, out),
            #[cfg(feature = "dtypes-extra")]
            DType::U64 => shift_right::<u64>(&walk, a, b, &shape, out),
            _ => Err(unsupported()),
        },
        _ => {
            if !a.dtype.is_integer() {
                return Err(unsupported());
            }
            // The other bit operators do not depend on signedness (a negative shift count is
            // out of range either way): they run on the unsigned type of the same width.
            let dst = out.alloc_uninit(0, a.dtype, &shape)?.bytes;
            let (x, y) = (a.bytes, b.bytes);
            match a.dtype.size() {
                1 => bits::<u8>(op, &walk, x, y, dst),
                2 => bits::<u16>(op, &walk, cast(x)?, cast(y)?, cast_mut(dst)?),
                4 => bits::<u32>(op, &walk, cast(x)?, cast(y)?, cast_mut(dst)?),
                8 => bits::<u64>(op, &walk, cast(x)?, cast(y)?, cast_mut(dst)?),
                _ => Err(unsupported()),
            }
        }
    }
}

fn cast<T: bytemuck::Pod>(bytes: &[u8]) -> Result<&[T]> {
    bytemuck::try_cast_slice(bytes)
        .map_err(|e| Error::internal(format!("binary op input not viewable: {e}")))
}

fn cast_mut<T: bytemuck::Pod>(bytes: &mut [u8]) -> Result<&mut [T]> {
    bytemuck::try_cast_slice_mut(bytes)
        .map_err(|e| Error::internal(format!("binary op output not viewable: {e}")))
}

/// The loop computing arithmetic `op` along one run, in `T`.
fn arithmetic_run<T: Num>(op: Binary) -> Result<RunFn<T, T>> {
    fn add<T: Num>(x: &[T], y: &[T], z: &mut [T]) {
        zip_run(x, y, z, T::add)
    }
    fn sub<T: Num>(x: &[T], y: &[T], z: &mut [T]) {
        zip_run(x, y, z, T::sub)
    }
    fn mul<T: Num>(x: &[T], y: &[T], z: &mut [T]) {
        zip_run(x, y, z, T::mul)
    }
    fn div<T: Num>(x: &[T], y: &[T], z: &mut [T]) {
        zip_run(x, y, z, T::div)
    }
    fn rem_floor<T: Num>(x: &[T], y: &[T], z: &mut [T]) {
        zip_run(x, y, z, T::rem_floor)
    }
    fn rem_trunc<T: Num>(x: &[T], y: &[T], z: &mut [T]) {
        zip_run(x, y, z, T::rem_trunc)
    }
    fn prelu<T: Num>(x: &[T], y: &[T], z: &mut [T]) {
        zip_run(
            x,
            y,
            z,
            |x, slope| if x < T::ZERO { x.mul(slope) } else { x },
        )
    }
    Ok(match op {
        Binary::Add => add::<T>,
        Binary::Sub => sub::<T>,
        Binary::Mul => mul::<T>,
        Binary::Div => div::<T>,
        Binary::Mod { fmod: false } => rem_floor::<T>,
        Binary::Mod { fmod: true } => rem_trunc::<T>,
        Binary::PRelu => prelu::<T>,
        _ => return Err(Error::internal(format!("{} is not arithmetic", op.name()))),
    })
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

/// The three comparison loops; `>` and `>=` are `<` and `<=` with the operands swapped.
#[derive(Clone, Copy)]
enum Comparison {
    Equal,
    Less,
    LessOrEqual,
}

impl Comparison {
    /// The loop along one run, in `T`.
    fn of<T: PartialOrd + Copy>(self) -> RunFn<T, u8> {
        fn equal<T: PartialOrd + Copy>(x: &[T], y: &[T], z: &mut [u8]) {
            zip_run(x, y, z, |x, y| (x == y) as u8)
        }
        fn less<T: PartialOrd + Copy>(x: &[T], y: &[T], z: &mut [u8]) {
            zip_run(x, y, z, |x, y| (x < y) as u8)
        }
        fn less_or_equal<T: PartialOrd + Copy>(x: &[T], y: &[T], z: &mut [u8]) {
            zip_run(x, y, z, |x, y| (x <= y) as u8)
        }
        match self {
            Comparison::Equal => equal::<T>,
            Comparison::Less => less::<T>,
            Comparison::LessOrEqual => less_or_equal::<T>,
        }
    }
}

/// Whether `op` swaps its operands, and the comparison it then computes.
fn comparison(op: Binary) -> Result<(bool, Comparison)> {
    Ok(match op {
        Binary::Equal => (false, Comparison::Equal),
        Binary::Less => (false, Comparison::Less),
        Binary::Greater => (true, Comparison::Less),
        Binary::LessOrEqual => (false, Comparison::LessOrEqual),
        Binary::GreaterOrEqual => (true, Comparison::LessOrEqual),
        _ => {
            return Err(Error::internal(format!(
                "{} is not a comparison",
                op.name()
            )))
        }
    })
}

/// Bitwise operators and left shifts of integers, on the unsigned type of their width.
fn bits<T: Int>(op: Binary, walk: &Walk, x: &[T], y: &[T], dst: &mut [T]) -> Result<()> {
    match op {
        Binary::BitwiseAnd => map2(walk, x, y, dst, |x, y| x & y),
        Binary::BitwiseOr => map2(walk, x, y, dst, |x, y| x | y),
        Binary::BitwiseXor => map2(walk, x, y, dst, |x, y| x ^ y),
        Binary::BitShiftLeft => map2(walk, x, y, dst, T::shift_left),
        _ => Err(Error::unsupported(op.name(), "this dtype")),
    }
}

/// Right shifts: arithmetic for signed types, so one loop per type.
fn shift_right<T: Int>(
    walk: &Walk,
    a: TensorView<'_>,
    b: TensorView<'_>,
    shape: &[usize],
    out: &mut Outputs,
) -> Result<()> {
    let (x, y) = (a.as_slice::<T>()?, b.as_slice::<T>()?);
    let mut z = out.alloc_uninit(0, a.dtype, shape)?;
    map2(walk, x, y, z.as_mut_slice::<T>()?, T::shift_right)
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
        let z = out.alloc_uninit(0, a.dtype, shape)?;
        let dst = z.bytes;
        // x^2 (variance, squared errors) is by far the most common power: skip powf.
        let square = b.len() == 1 && b.to_f64_vec()?.first() == Some(&2.0);
        macro_rules! native {
            ($t:ty) => {
                zip_runs_with::<$t, $t>(
                    walk,
                    a.as_slice()?,
                    b.as_slice()?,
                    cast_mut(dst)?,
                    pow_run(square),
                )
            };
        }
        macro_rules! widened {
            ($t:ty) => {
                zip_runs_widened::<$t, _, $t>(
                    walk,
                    a.as_slice()?,
                    b.as_slice()?,
                    cast_mut(dst)?,
                    pow_run(square),
                    <$t>::narrow,
                )
            };
        }
        return match a.dtype {
            DType::F32 => native!(f32),
            #[cfg(feature = "dtypes-extra")]
            DType::F64 => native!(f64),
            DType::I32 => native!(i32),
            DType::I64 => native!(i64),
            #[cfg(feature = "dtypes-extra")]
            DType::U64 => native!(u64),
            DType::F16 => widened!(f16),
            #[cfg(feature = "dtypes-extra")]
            DType::BF16 => widened!(bf16),
            DType::I8 => widened!(i8),
            DType::U8 => widened!(u8),
            #[cfg(feature = "dtypes-extra")]
            DType::I16 => widened!(i16),
            #[cfg(feature = "dtypes-extra")]
            DType::U16 => widened!(u16),
            #[cfg(feature = "dtypes-extra")]
            DType::U32 => widened!(u32),
            _ => Err(unsupported()),
        };
    }
    if !(b.dtype.is_float() || b.dtype.is_integer()) {
        return Err(unsupported());
    }
    // In f64 once for every type; only the final cast is per type.
    let (bases, exponents) = (a.to_f64_vec()?, b.to_f64_vec()?);
    let mut powers = vec![0.0f64; numel(shape)];
    map2(walk, &bases, &exponents, &mut powers, f64::powf)?;
    with_numeric_type!(a.dtype, T => {
        let dst = out.alloc_typed::<T>(0, shape)?;
        dst.iter_mut().zip(&powers).for_each(|(d, &p)| *d = T::from_f64(p));
        Ok(())
    }, _ => Err(unsupported()))
}

/// The `Pow` loop along one run in `T`: `x·x` for an exponent of 2.
fn pow_run<T: Num>(square: bool) -> RunFn<T, T> {
    fn pow<T: Num>(x: &[T], y: &[T], z: &mut [T]) {
        zip_run(x, y, z, T::pow)
    }
    fn squared<T: Num>(x: &[T], y: &[T], z: &mut [T]) {
        zip_run(x, y, z, |x, _| x.mul(x))
    }
    if square {
        squared::<T>
    } else {
        pow::<T>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
