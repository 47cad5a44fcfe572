//! The family's bodies on AVX-512 BW (16 lanes) and AVX2 (8 lanes); the AVX-512 entry points and
//! the VBMI table lookup are in `x86/avx512_entries.rs` (feature `avx512`).

use std::arch::x86_64::*;

use super::QuantizeKernels;
use super::{body, check_binary, check_binary_runs, check_len, check_params, reference};
use super::{QBinaryOp, QParams};
use crate::cpu::{CpuFeatures, Isa};
use crate::KernelError;

/// The checked entry points of one ISA: validate like the reference, check the CPU, then call
/// the body inside a `#[target_feature]` function.
macro_rules! isa_kernels {
    ($module:ident, $vector:ty, $features:literal, $isa:expr, $name:literal) => {
        pub(crate) mod $module {
            use super::*;

            fn cpu() -> Result<(), KernelError> {
                if CpuFeatures::detect().supports($isa) {
                    Ok(())
                } else {
                    Err(KernelError::unsupported(concat!(
                        $name,
                        ": this CPU lacks ",
                        stringify!($isa)
                    )))
                }
            }

            pub(crate) fn quantize(
                x: &[f32],
                scale: f32,
                zero_point: i32,
                signed: bool,
                y: &mut [u8],
            ) -> Result<(), KernelError> {
                let q = QParams {
                    scale,
                    zero_point,
                    signed,
                };
                check_params("quantize", q)?;
                check_len("quantize y", y.len(), x.len())?;
                cpu()?;
                #[target_feature(enable = $features)]
                unsafe fn run(x: &[f32], scale: f32, zero_point: i32, signed: bool, y: &mut [u8]) {
                    // SAFETY: this function's features are the vector type's ISA; the
                    // caller validated the lengths.
                    unsafe { body::quantize::<$vector>(x, scale, zero_point, signed, y) }
                }
                // SAFETY: the CPU supports the ISA (`cpu` above); the call was validated.
                unsafe { run(x, scale, zero_point, signed, y) };
                Ok(())
            }

            pub(crate) fn dequantize(
                x: &[u8],
                signed: bool,
                scale: f32,
                zero_point: i32,
                y: &mut [f32],
            ) -> Result<(), KernelError> {
                let q = QParams {
                    scale,
                    zero_point,
                    signed,
                };
                check_params("dequantize", q)?;
                check_len("dequantize y", y.len(), x.len())?;
                cpu()?;
                #[target_feature(enable = $features)]
                unsafe fn run(x: &[u8], signed: bool, scale: f32, zero_point: i32, y: &mut [f32]) {
                    // SAFETY: as in `quantize`.
                    unsafe { body::dequantize::<$vector>(x, signed, scale, zero_point, y) }
                }
                // SAFETY: as in `quantize`.
                unsafe { run(x, signed, scale, zero_point, y) };
                Ok(())
            }

            pub(crate) fn qbinary(
                op: QBinaryOp,
                a: &[u8],
                qa: QParams,
                b: &[u8],
                qb: QParams,
                qy: QParams,
                y: &mut [u8],
            ) -> Result<(), KernelError> {
                check_binary(a, qa, b, qb, qy, y)?;
                cpu()?;
                #[target_feature(enable = $features)]
                unsafe fn run(
                    op: QBinaryOp,
                    a: &[u8],
                    qa: QParams,
                    b: &[u8],
                    qb: QParams,
                    qy: QParams,
                    y: &mut [u8],
                ) {
                    // SAFETY: as in `quantize`.
                    unsafe { body::qbinary::<$vector>(op, a, qa, b, qb, qy, y) }
                }
                // SAFETY: as in `quantize`.
                unsafe { run(op, a, qa, b, qb, qy, y) };
                Ok(())
            }

            #[allow(clippy::too_many_arguments)] // The QBinaryRunsFn arguments.
            pub(crate) fn qbinary_runs(
                op: QBinaryOp,
                a: &[u8],
                qa: QParams,
                b: &[u8],
                qb: QParams,
                qy: QParams,
                y: &mut [u8],
                run: usize,
            ) -> Result<(), KernelError> {
                check_binary_runs(a, qa, b, qb, qy, y, run)?;
                cpu()?;
                #[target_feature(enable = $features)]
                #[allow(clippy::too_many_arguments)]
                unsafe fn go(
                    op: QBinaryOp,
                    a: &[u8],
                    qa: QParams,
                    b: &[u8],
                    qb: QParams,
                    qy: QParams,
                    y: &mut [u8],
                    run: usize,
                ) {
                    // SAFETY: as in `quantize`.
                    unsafe { body::qbinary_runs::<$vector>(op, a, qa, b, qb, qy, y, run) }
                }
                // SAFETY: as in `quantize`.
                unsafe { go(op, a, qa, b, qb, qy, y, run) };
                Ok(())
            }

            pub(crate) fn requantize(
                x: &[u8],
                qx: QParams,
                qy: QParams,
                y: &mut [u8],
            ) -> Result<(), KernelError> {
                check_params("requantize x", qx)?;
                check_params("requantize y", qy)?;
                check_len("requantize y", y.len(), x.len())?;
                cpu()?;
                #[target_feature(enable = $features)]
                unsafe fn run(x: &[u8], qx: QParams, qy: QParams, y: &mut [u8]) {
                    // SAFETY: as in `quantize`.
                    unsafe { body::requantize::<$vector>(x, qx, qy, y) }
                }
                // SAFETY: as in `quantize`.
                unsafe { run(x, qx, qy, y) };
                Ok(())
            }
        }
    };
}

#[cfg(feature = "avx512")]
isa_kernels!(
    avx512,
    __m512,
    "avx512f,avx512bw,avx512vl,avx2,fma",
    Isa::Avx512,
    "quantize_u8_avx512"
);
isa_kernels!(avx2, __m256, "avx2,fma", Isa::Avx2, "quantize_u8_avx2");

/// AVX2 entry points (the table lookup is the reference's: a byte gather has no AVX2 form
/// faster than the scalar loop).
pub(crate) const AVX2: QuantizeKernels = QuantizeKernels {
    quantize: avx2::quantize,
    dequantize: avx2::dequantize,
    qbinary: avx2::qbinary,
    qbinary_runs: avx2::qbinary_runs,
    requantize: avx2::requantize,
    lut8: reference::lut8,
};

#[cfg(feature = "avx512")]
mod avx512_entries;
#[cfg(feature = "avx512")]
pub(crate) use avx512_entries::{AVX512, AVX512_VBMI};
