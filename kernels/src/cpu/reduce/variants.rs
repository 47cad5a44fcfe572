//! The per-ISA entry points of `reduce`: safe [`super::ReduceFn`]s, each validating, then
//! running the one generic body ([`super::kernel::reduce`]) inside a `#[target_feature]`
//! function.

use super::{kernel, validate, ReduceFn, ReduceOp, ReduceParams};
use crate::cpu::{select, variants, CpuFeatures, Isa, Kernel, KernelInfo, MaxIsa, Variant};
use crate::KernelError;

/// AVX-512 [`super::ReduceFn`].
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
pub(crate) fn reduce_avx512(
    op: ReduceOp,
    p: &ReduceParams,
    x: &[f32],
    y: &mut [f32],
) -> Result<(), KernelError> {
    validate(p, x, y)?;
    debug_assert!(CpuFeatures::detect().supports(Isa::Avx512));
    // SAFETY: this function is reachable only through the kernel table and `variants()`, which
    // hand it out (or run it, in tests and benches) only where `CpuFeatures` supports
    // `Isa::Avx512`, i.e. every feature enabled below.
    unsafe { reduce_avx512_impl(op, p, x, y) };
    Ok(())
}

#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
unsafe fn reduce_avx512_impl(op: ReduceOp, p: &ReduceParams, x: &[f32], y: &mut [f32]) {
    // SAFETY: the features are enabled on this function, and its caller checked the CPU.
    let s = unsafe { crate::cpu::activation::simd::Avx512::new_unchecked() };
    kernel::reduce(s, op, p, x, y)
}

/// AVX2 + FMA [`super::ReduceFn`].
#[cfg(target_arch = "x86_64")]
pub(crate) fn reduce_avx2(
    op: ReduceOp,
    p: &ReduceParams,
    x: &[f32],
    y: &mut [f32],
) -> Result<(), KernelError> {
    validate(p, x, y)?;
    debug_assert!(CpuFeatures::detect().supports(Isa::Avx2));
    // SAFETY: reachable only through the kernel table and `variants()`, which check that
    // `CpuFeatures` supports `Isa::Avx2` (AVX2 + FMA) first.
    unsafe { reduce_avx2_impl(op, p, x, y) };
    Ok(())
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn reduce_avx2_impl(op: ReduceOp, p: &ReduceParams, x: &[f32], y: &mut [f32]) {
    // SAFETY: the features are enabled on this function, and its caller checked the CPU.
    let s = unsafe { crate::cpu::activation::simd::Avx2::new_unchecked() };
    kernel::reduce(s, op, p, x, y)
}

/// NEON [`super::ReduceFn`].
#[cfg(target_arch = "aarch64")]
pub(crate) fn reduce_neon(
    op: ReduceOp,
    p: &ReduceParams,
    x: &[f32],
    y: &mut [f32],
) -> Result<(), KernelError> {
    validate(p, x, y)?;
    debug_assert!(CpuFeatures::detect().supports(Isa::Neon));
    // SAFETY: reachable only through the kernel table and `variants()`, which check that
    // `CpuFeatures` supports `Isa::Neon` first.
    unsafe { reduce_neon_impl(op, p, x, y) };
    Ok(())
}

#[cfg(target_arch = "aarch64")]
#[target_feature(enable = "neon")]
unsafe fn reduce_neon_impl(op: ReduceOp, p: &ReduceParams, x: &[f32], y: &mut [f32]) {
    // SAFETY: the feature is enabled on this function, and its caller checked the CPU.
    let s = unsafe { crate::cpu::activation::simd::Neon::new_unchecked() };
    kernel::reduce(s, op, p, x, y)
}

/// The `reduce` / `f32` oracle's registry entry.
pub(crate) const REFERENCE: Variant = variant(
    Isa::Generic,
    "reduce_f32_reference",
    true,
    super::reference::reduce,
);
/// The AVX2 + FMA entry.
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX2: Variant = variant(Isa::Avx2, "reduce_f32_avx2", false, reduce_avx2);
/// The AVX-512 entry.
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
pub(crate) const AVX512: Variant = variant(Isa::Avx512, "reduce_f32_avx512", false, reduce_avx512);
/// The NEON entry.
#[cfg(target_arch = "aarch64")]
pub(crate) const NEON: Variant = variant(Isa::Neon, "reduce_f32_neon", false, reduce_neon);

const fn variant(isa: Isa, name: &'static str, reference: bool, f: ReduceFn) -> Variant {
    Variant {
        info: KernelInfo {
            family: "reduce",
            dtype: "f32",
            isa,
            name,
            reference,
        },
        kernel: Kernel::Reduce(f),
    }
}

/// The [`crate::cpu::KernelTable`] choice for this family.
pub(crate) fn choose(features: &CpuFeatures, max_isa: Option<MaxIsa>) -> ReduceFn {
    select(variants(), "reduce", "f32", features, max_isa)
        .and_then(Variant::reduce)
        .unwrap_or(super::reference::reduce)
}
