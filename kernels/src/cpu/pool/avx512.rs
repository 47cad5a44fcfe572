//! The pooling bodies on AVX-512 (16 lanes).

use std::arch::x86_64::__m512;

use super::{body, validate, validate_global, GlobalPoolOp, PoolOp, PoolParams};
use crate::cpu::{CpuFeatures, Isa};
use crate::KernelError;

/// Fails unless this CPU supports the ISA (the kernel table and the variants list only offer
/// this variant where it does; this makes the safe wrappers sound on their own).
fn check_cpu() -> Result<(), KernelError> {
    if CpuFeatures::detect().supports(Isa::Avx512) {
        Ok(())
    } else {
        Err(KernelError::unsupported(
            "pool_f32_avx512: this CPU lacks Avx512",
        ))
    }
}

/// [`super::Pool2dFn`] on AVX-512 (16 lanes).
pub(crate) fn pool2d(
    p: &PoolParams,
    op: PoolOp,
    x: &[f32],
    y: &mut [f32],
) -> Result<(), KernelError> {
    validate(p, x, y)?;
    check_cpu()?;
    // SAFETY: the CPU supports Isa::Avx512 (checked above) and the call passed `validate`.
    unsafe { run_pool2d(p, op, x, y) }
}

/// [`super::GlobalPoolFn`] on AVX-512 (16 lanes).
pub(crate) fn global_pool(
    op: GlobalPoolOp,
    plane: usize,
    x: &[f32],
    y: &mut [f32],
) -> Result<(), KernelError> {
    validate_global(plane, x, y)?;
    check_cpu()?;
    // SAFETY: the CPU supports Isa::Avx512 (checked above) and the call passed
    // `validate_global`.
    unsafe { run_global_pool(op, plane, x, y) };
    Ok(())
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
unsafe fn run_pool2d(
    p: &PoolParams,
    op: PoolOp,
    x: &[f32],
    y: &mut [f32],
) -> Result<(), KernelError> {
    // SAFETY: this function's features are `__m512`'s ISA; the caller validated the call.
    unsafe { body::pool2d::<__m512>(p, op, x, y) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
unsafe fn run_global_pool(op: GlobalPoolOp, plane: usize, x: &[f32], y: &mut [f32]) {
    // SAFETY: this function's features are `__m512`'s ISA; the caller validated the call.
    unsafe { body::global_pool::<__m512>(op, plane, x, y) }
}
