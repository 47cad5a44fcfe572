//! Unary ops: math functions and activations on floats, the few that also take integers
//! (`Abs`, `Neg`, `Sign`, `Relu`), float tests (`IsNaN`, `IsInf`), and `Not`/`BitwiseNot`.
//!
//! f32 activations the vectorised kernels of `mote_kernels` implement ([`kernel_activation`])
//! go there; every other op and dtype takes the portable loops here.

use super::broadcast::parallel;
use super::real::Real;
use super::scalar::{Float, Int, Num};
use super::widen::{narrow_into, widened, Widen};
use crate::backend::cpu::ops::{Inputs, Outputs};
use crate::ir::ops::elementwise::Unary;
use crate::tensor::TensorView;
use crate::{DType, Error, Result};
#[cfg(feature = "dtypes-extra")]
use half::bf16;
use half::f16;
use mote_kernels::cpu::activation::{activate, Activation};
use std::f64::consts::{FRAC_1_SQRT_2, FRAC_2_SQRT_PI, SQRT_2};

pub(super) fn eval(op: &Unary, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let x = ins.get(0)?;
    match op {
        Unary::Not => {
            expect_dtype(op, x.dtype, x.dtype == DType::Bool)?;
            let y = out.alloc_uninit(0, DType::Bool, x.shape)?;
            y.bytes
                .iter_mut()
                .zip(x.bytes)
                .for_each(|(d, &s)| *d = (s == 0) as u8);
            Ok(())
        }
        Unary::IsNaN | Unary::IsInf { .. } => match x.dtype {
            DType::F32 => float_test::<f32>(op, x, out),
            #[cfg(feature = "dtypes-extra")]
            DType::F64 => float_test::<f64>(op, x, out),
            DType::F16 => float_test::<f16>(op, x, out),
            #[cfg(feature = "dtypes-extra")]
            DType::BF16 => float_test::<bf16>(op, x, out),
            d => Err(unsupported_dtype(op, d)),
        },
        Unary::BitwiseNot => match x.dtype {
            DType::I8 => bitwise_not::<i8>(x, out),
            DType::U8 => bitwise_not::<u8>(x, out),
            #[cfg(feature = "dtypes-extra")]
            DType::I16 => bitwise_not::<i16>(x, out),
            #[cfg(feature = "dtypes-extra")]
            DType::U16 => bitwise_not::<u16>(x, out),
            DType::I32 => bitwise_not::<i32>(x, out),
            #[cfg(feature = "dtypes-extra")]
            DType::U32 => bitwise_not::<u32>(x, out),
            DType::I64 => bitwise_not::<i64>(x, out),
            #[cfg(feature = "dtypes-extra")]
            DType::U64 => bitwise_not::<u64>(x, out),
            d => Err(unsupported_dtype(op, d)),
        },
        Unary::Abs | Unary::Neg | Unary::Sign | Unary::Relu if x.dtype.is_integer() => {
            crate::with_numeric_type!(x.dtype, T => integer::<T>(op, x, out), _ => Err(unsupported_dtype(op, x.dtype)))
        }
        _ => match x.dtype {
            DType::F32 => match kernel_activation(op) {
                Some(act) => activate_f32(act, x, ins.threads(), out),
                None => float::<f32>(op, x, ins.threads(), out),
            },
            #[cfg(feature = "dtypes-extra")]
            DType::F64 => float::<f64>(op, x, ins.threads(), out),
            DType::F16 => float_widened::<f16>(op, x, ins.threads(), out),
            #[cfg(feature = "dtypes-extra")]
            DType::BF16 => float_widened::<bf16>(op, x, ins.threads(), out),
            d => Err(unsupported_dtype(op, d)),
        },
    }
}

fn unsupported_dtype(op: &Unary, dtype: DType) -> Error {
    Error::unsupported(op.name(), format!("input dtype {dtype}"))
}

fn expect_dtype(op: &Unary, dtype: DType, ok: bool) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(unsupported_dtype(op, dtype))
    }
}

/// The kernel activation computing `op` on f32: bit for bit what [`float`] computes for the
/// piecewise-linear ones, within 1e-6 relative (exp, sigmoid, tanh, erf) or 2e-6·max(1, |x|)
/// absolute (gelu, silu) for the others — far inside the conformance tolerance, and accurate
/// near 0 as well. `None`: not a kernel activation.
fn kernel_activation(op: &Unary) -> Option<Activation> {
    Some(match *op {
        Unary::Relu => Activation::Relu,
        Unary::LeakyRelu { alpha } => Activation::LeakyRelu { alpha },
        Unary::HardSigmoid { alpha, beta } => Activation::HardSigmoid { alpha, beta },
        Unary::HardSwish => Activation::HardSwish,
        Unary::Sigmoid => Activation::Sigmoid,
        Unary::Swish { alpha } if alpha == 1.0 => Activation::Silu,
        Unary::Tanh => Activation::Tanh,
        Unary::Exp => Activation::Exp,
        Unary::Erf => Activation::Erf,
        Unary::Gelu {
            tanh_approximation: false,
        } => Activation::Gelu,
        Unary::Gelu {
            tanh_approximation: true,
        } => Activation::GeluTanh,
        _ => return None,
    })
}

/// `y = act(x)` on f32: a copy, then the kernel in place, chunk by chunk across threads (the
/// result does not depend on the split: the kernels are element-wise, tails included).
fn activate_f32(
    act: Activation,
    x: TensorView<'_>,
    threads: usize,
    out: &mut Outputs,
) -> Result<()> {
    let src = x.as_slice::<f32>()?;
    let mut y = out.alloc_uninit(0, x.dtype, x.shape)?;
    parallel(y.as_mut_slice::<f32>()?, threads, |chunk, start| {
        let src = src
            .get(start..start + chunk.len())
            .ok_or_else(|| Error::internal("unary output larger than its input"))?;
        chunk.copy_from_slice(src);
        activate(act, chunk);
        Ok(())
    })
}

/// `dst[i] = f(src[i])`, computing in the float type's compute type.
#[inline(always)]
fn map<F: Float>(
    src: &[F],
    dst: &mut [F],
    threads: usize,
    f: impl Fn(F::R) -> F::R + Sync,
) -> Result<()> {
    parallel(dst, threads, |chunk, start| {
        let src = src
            .get(start..start + chunk.len())
            .ok_or_else(|| Error::internal("unary output larger than its input"))?;
        chunk
            .iter_mut()
            .zip(src)
            .for_each(|(d, &s)| *d = F::store(f(s.load())));
        Ok(())
    })
}

fn float<F: Float>(op: &Unary, x: TensorView<'_>, threads: usize, out: &mut Outputs) -> Result<()> {
    let src = x.as_slice::<F>()?;
    let mut y = out.alloc_uninit(0, x.dtype, x.shape)?;
    float_into(op, src, y.as_mut_slice::<F>()?, threads)
}

/// f16/bf16 through the f32 loops: they compute in f32 and round once either way, so the
/// results are the same, with one copy of each op's loop fewer per half type.
fn float_widened<H: Widen<W = f32>>(
    op: &Unary,
    x: TensorView<'_>,
    threads: usize,
    out: &mut Outputs,
) -> Result<()> {
    let src = widened(x.as_slice::<H>()?);
    let mut wide = vec![0.0f32; src.len()];
    float_into(op, &src, &mut wide, threads)?;
    let mut y = out.alloc_uninit(0, x.dtype, x.shape)?;
    narrow_into(&wide, y.as_mut_slice::<H>()?);
    Ok(())
}

/// `dst = op(src)` on the portable loops.
fn float_into<F: Float>(op: &Unary, src: &[F], dst: &mut [F], threads: usize) -> Result<()> {
    let c = |v: f64| F::R::of(v);
    let attr = |v: f32| F::R::of(v as f64);
    let (zero, one, half) = (c(0.0), c(1.0), c(0.5));
    let clamp01 = move |v: F::R| {
        if v < zero {
            zero
        } else if v > one {
            one
        } else {
            v
        }
    };
    match *op {
        Unary::Abs => map(src, dst, threads, |x| x.abs()),
        Unary::Neg => map(src, dst, threads, |x| -x),
        Unary::Exp => map(src, dst, threads, |x| x.exp()),
        Unary::Log => map(src, dst, threads, |x| x.ln()),
        Unary::Sqrt => map(src, dst, threads, |x| x.sqrt()),
        Unary::Reciprocal => map(src, dst, threads, |x| one / x),
        Unary::Floor => map(src, dst, threads, |x| x.floor()),
        Unary::Ceil => map(src, dst, threads, |x| x.ceil()),
        Unary::Round => map(src, dst, threads, |x| x.round_ties_even()),
        Unary::Sign => map(src, dst, threads, |x| {
            if x > zero {
                one
            } else if x < zero {
                -one
            } else {
                x
            }
        }),
        Unary::Sin => map(src, dst, threads, |x| x.sin()),
        Unary::Cos => map(src, dst, threads, |x| x.cos()),
        Unary::Tan => map(src, dst, threads, |x| x.tan()),
        Unary::Asin => map(src, dst, threads, |x| x.asin()),
        Unary::Acos => map(src, dst, threads, |x| x.acos()),
        Unary::Atan => map(src, dst, threads, |x| x.atan()),
        Unary::Sinh => map(src, dst, threads, |x| x.sinh()),
        Unary::Cosh => map(src, dst, threads, |x| x.cosh()),
        Unary::Tanh => map(src, dst, threads, |x| x.tanh()),
        Unary::Asinh => map(src, dst, threads, |x| x.asinh()),
        Unary::Acosh => map(src, dst, threads, |x| x.acosh()),
        Unary::Atanh => map(src, dst, threads, |x| x.atanh()),
        Unary::Erf => map(src, dst, threads, |x| x.erf()),
        // `x < 0` rather than `max`: NaN stays NaN, as in the reference.
        Unary::Relu => map(src, dst, threads, |x| if x < zero { zero } else { x }),
        Unary::LeakyRelu { alpha } => {
            let alpha = attr(alpha);
            map(src, dst, threads, |x| if x < zero { alpha * x } else { x })
        }
        Unary::Elu { alpha } => {
            let alpha = attr(alpha);
            map(src, dst, threads, |x| {
                if x > zero {
                    x
                } else {
                    alpha * x.exp_m1()
                }
            })
        }
        Unary::Selu { alpha, gamma } => {
            let (alpha, gamma) = (attr(alpha), attr(gamma));
            map(src, dst, threads, |x| {
                if x > zero {
                    gamma * x
                } else {
                    gamma * alpha * x.exp_m1()
                }
            })
        }
        Unary::Celu { alpha } => {
            let alpha = attr(alpha);
            map(src, dst, threads, |x| {
                let negative = alpha * (x / alpha).exp_m1();
                (if x > zero { x } else { zero }) + (if negative < zero { negative } else { zero })
            })
        }
        Unary::Sigmoid => map(src, dst, threads, sigmoid),
        Unary::HardSigmoid { alpha, beta } => {
            let (alpha, beta) = (attr(alpha), attr(beta));
            map(src, dst, threads, |x| clamp01(alpha * x + beta))
        }
        Unary::HardSwish => {
            let sixth = c(1.0 / 6.0);
            map(src, dst, threads, |x| x * clamp01(x * sixth + half))
        }
        Unary::Softplus => map(src, dst, threads, softplus),
        Unary::Softsign => map(src, dst, threads, |x| x / (one + x.abs())),
        Unary::ThresholdedRelu { alpha } => {
            let alpha = attr(alpha);
            map(src, dst, threads, |x| if x > alpha { x } else { zero })
        }
        Unary::Mish => map(src, dst, threads, |x| x * softplus(x).tanh()),
        Unary::Gelu {
            tanh_approximation: false,
        } => {
            let inv_sqrt2 = c(FRAC_1_SQRT_2);
            map(src, dst, threads, |x| {
                half * x * (one + (x * inv_sqrt2).erf())
            })
        }
        Unary::Gelu {
            tanh_approximation: true,
        } => {
            // sqrt(2 / pi) = (2 / sqrt(pi)) / sqrt(2)
            let (k, cubic) = (c(FRAC_2_SQRT_PI / SQRT_2), c(0.044715));
            map(src, dst, threads, |x| {
                half * x * (one + (k * (x + cubic * x * x * x)).tanh())
            })
        }
        Unary::Shrink { bias, lambd } => {
            let (bias, lambd) = (attr(bias), attr(lambd));
            map(src, dst, threads, |x| {
                if x < -lambd {
                    x + bias
                } else if x > lambd {
                    x - bias
                } else {
                    zero
                }
            })
        }
        Unary::Swish { alpha } => {
            let alpha = attr(alpha);
            map(src, dst, threads, |x| x * sigmoid(alpha * x))
        }
        Unary::IsNaN | Unary::IsInf { .. } | Unary::Not | Unary::BitwiseNot => Err(
            Error::internal(format!("{} reached the float kernels", op.name())),
        ),
    }
}

/// 1 / (1 + e^-x), accurate for large |x| on both sides: with e = e^-|x|, it is 1 / (1 + e)
/// for x >= 0 and e / (1 + e) below. The final choice is a select, not a branch.
#[inline(always)]
fn sigmoid<R: Real>(x: R) -> R {
    let e = (-x.abs()).exp();
    let r = R::of(1.0) / (R::of(1.0) + e);
    if x >= R::of(0.0) {
        r
    } else {
        e * r
    }
}

/// ln(1 + e^x) = max(x, 0) + ln(1 + e^-|x|), without overflow for large x.
#[inline(always)]
fn softplus<R: Real>(x: R) -> R {
    let zero = R::of(0.0);
    (if x > zero { x } else { zero }) + (-x.abs()).exp().ln_1p()
}

fn integer<T: Num>(op: &Unary, x: TensorView<'_>, out: &mut Outputs) -> Result<()> {
    let src = x.as_slice::<T>()?;
    let dst = out.alloc_typed::<T>(0, x.shape)?;
    fn map<T: Copy>(src: &[T], dst: &mut [T], f: impl Fn(T) -> T) {
        dst.iter_mut().zip(src).for_each(|(d, &s)| *d = f(s));
    }
    match op {
        Unary::Abs => map(src, dst, T::abs),
        Unary::Neg => map(src, dst, T::neg),
        Unary::Sign => map(src, dst, T::sign),
        Unary::Relu => map(src, dst, |x| if x < T::ZERO { T::ZERO } else { x }),
        _ => return Err(unsupported_dtype(op, x.dtype)),
    }
    Ok(())
}

fn bitwise_not<T: Int>(x: TensorView<'_>, out: &mut Outputs) -> Result<()> {
    let src = x.as_slice::<T>()?;
    let dst = out.alloc_typed::<T>(0, x.shape)?;
    dst.iter_mut().zip(src).for_each(|(d, &s)| *d = !s);
    Ok(())
}

fn float_test<F: Float>(op: &Unary, x: TensorView<'_>, out: &mut Outputs) -> Result<()> {
    let src = x.as_slice::<F>()?;
    let (nan, positive_inf, negative_inf) = match *op {
        Unary::IsNaN => (true, false, false),
        Unary::IsInf {
            detect_positive,
            detect_negative,
        } => (false, detect_positive, detect_negative),
        _ => {
            return Err(Error::internal(format!(
                "{} is not a float test",
                op.name()
            )))
        }
    };
    let zero = F::R::of(0.0);
    let y = out.alloc_uninit(0, DType::Bool, x.shape)?;
    for (d, &s) in y.bytes.iter_mut().zip(src) {
        let v = s.load();
        let hit = if v.is_nan() {
            nan
        } else if v.is_infinite() {
            if v > zero {
                positive_inf
            } else {
                negative_inf
            }
        } else {
            false
        };
        *d = hit as u8;
    }
    Ok(())
}
