//! The per-ISA entry points of `softmax`: safe [`super::SoftmaxFn`]s, each validating, then
//! running the one generic body ([`super::kernel::softmax`]) inside a `#[target_feature]`
//! function.

use super::{kernel, validate, SoftmaxFn, SoftmaxParams};
use crate::cpu::{select, variants, CpuFeatures, Isa, Kernel, KernelInfo, MaxIsa, Variant};
use crate::KernelError;

/// AVX-512 [`super::SoftmaxFn`].
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
pub(crate) fn softmax_avx512(
    p: &SoftmaxParams,
    x: &[f32],
    y: &mut [f32],
) -> Result<(), KernelError> {
    validate(p, x, y)?;
    debug_assert!(crate::cpu::CpuFeatures::detect().supports(crate::cpu::Isa::Avx512));
    // SAFETY: this function is reachable only through the kernel table and `variants()`, which
    // hand it out (or run it, in tests and benches) only where `CpuFeatures` supports
    // `Isa::Avx512`, i.e. every feature enabled below.
    unsafe { softmax_avx512_impl(p, x, y) };
    Ok(())
}

#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
unsafe fn softmax_avx512_impl(p: &SoftmaxParams, x: &[f32], y: &mut [f32]) {
    // SAFETY: the features are enabled on this function, and its caller checked the CPU.
    let s = unsafe { crate::cpu::activation::simd::Avx512::new_unchecked() };
    kernel::softmax(s, p, x, y)
}

/// AVX2 + FMA [`super::SoftmaxFn`].
#[cfg(target_arch = "x86_64")]
pub(crate) fn softmax_avx2(p: &SoftmaxParams, x: &[f32], y: &mut [f32]) -> Result<(), KernelError> {
    validate(p, x, y)?;
    debug_assert!(crate::cpu::CpuFeatures::detect().supports(crate::cpu::Isa::Avx2));
    // SAFETY: reachable only through the kernel table and `variants()`, which check that
    // `CpuFeatures` supports `Isa::Avx2` (AVX2 + FMA) first.
    unsafe { softmax_avx2_impl(p, x, y) };
    Ok(())
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn softmax_avx2_impl(p: &SoftmaxParams, x: &[f32], y: &mut [f32]) {
    // SAFETY: the features are enabled on this function, and its caller checked the CPU.
    let s = unsafe { crate::cpu::activation::simd::Avx2::new_unchecked() };
    kernel::softmax(s, p, x, y)
}

/// NEON [`super::SoftmaxFn`].
#[cfg(target_arch = "aarch64")]
pub(crate) fn softmax_neon(p: &SoftmaxParams, x: &[f32], y: &mut [f32]) -> Result<(), KernelError> {
    validate(p, x, y)?;
    debug_assert!(crate::cpu::CpuFeatures::detect().supports(crate::cpu::Isa::Neon));
    // SAFETY: reachable only through the kernel table and `variants()`, which check that
    // `CpuFeatures` supports `Isa::Neon` first.
    unsafe { softmax_neon_impl(p, x, y) };
    Ok(())
}

#[cfg(target_arch = "aarch64")]
#[target_feature(enable = "neon")]
unsafe fn softmax_neon_impl(p: &SoftmaxParams, x: &[f32], y: &mut [f32]) {
    // SAFETY: the feature is enabled on this function, and its caller checked the CPU.
    let s = unsafe { crate::cpu::activation::simd::Neon::new_unchecked() };
    kernel::softmax(s, p, x, y)
}

/// The `softmax` / `f32` oracle's registry entry.
pub(crate) const REFERENCE: Variant = variant(
    Isa::Generic,
    "softmax_f32_reference",
    true,
    super::reference::softmax,
);
/// The AVX2 + FMA entry.
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX2: Variant = variant(Isa::Avx2, "softmax_f32_avx2", false, softmax_avx2);
/// The AVX-512 entry.
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
pub(crate) const AVX512: Variant =
    variant(Isa::Avx512, "softmax_f32_avx512", false, softmax_avx512);
/// The NEON entry.
#[cfg(target_arch = "aarch64")]
pub(crate) const NEON: Variant = variant(Isa::Neon, "softmax_f32_neon", false, softmax_neon);

const fn variant(isa: Isa, name: &'static str, reference: bool, f: SoftmaxFn) -> Variant {
    Variant {
        info: KernelInfo {
            family: "softmax",
            dtype: "f32",
            isa,
            name,
            reference,
        },
        kernel: Kernel::Softmax(f),
    }
}

/// The [`crate::cpu::KernelTable`] choice for this family.
pub(crate) fn choose(features: &CpuFeatures, max_isa: Option<MaxIsa>) -> SoftmaxFn {
    select(variants(), "softmax", "f32", features, max_isa)
        .and_then(Variant::softmax)
        .unwrap_or(super::reference::softmax)
}
