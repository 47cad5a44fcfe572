//! The per-ISA entry points of `binary`: safe [`super::BinaryFn`]s, each validating, then
//! running the one generic body ([`super::kernel::binary`]) inside a `#[target_feature]`
//! function.

use super::{kernel, validate, BinaryFn, BinaryOp};
use crate::cpu::{select, variants, CpuFeatures, Isa, Kernel, KernelInfo, MaxIsa, Variant};
use crate::KernelError;

/// AVX-512 [`super::BinaryFn`] (16 lanes, masked tail).
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
pub(crate) fn binary_avx512(
    op: BinaryOp,
    a: &[f32],
    b: &[f32],
    out: &mut [f32],
) -> Result<(), KernelError> {
    validate(a, b, out)?;
    debug_assert!(CpuFeatures::detect().supports(Isa::Avx512));
    // SAFETY: this function is reachable only through the kernel table and `variants()`, which
    // hand it out (or run it, in tests and benches) only where `CpuFeatures` supports
    // `Isa::Avx512`, i.e. every feature enabled below.
    unsafe { binary_avx512_impl(op, a, b, out) };
    Ok(())
}

#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
unsafe fn binary_avx512_impl(op: BinaryOp, a: &[f32], b: &[f32], out: &mut [f32]) {
    // SAFETY: the features are enabled on this function, and its caller checked the CPU.
    let s = unsafe { crate::cpu::activation::simd::Avx512::new_unchecked() };
    kernel::binary(s, op, a, b, out)
}

/// AVX2 + FMA [`super::BinaryFn`] (8 lanes).
#[cfg(target_arch = "x86_64")]
pub(crate) fn binary_avx2(
    op: BinaryOp,
    a: &[f32],
    b: &[f32],
    out: &mut [f32],
) -> Result<(), KernelError> {
    validate(a, b, out)?;
    debug_assert!(CpuFeatures::detect().supports(Isa::Avx2));
    // SAFETY: reachable only through the kernel table and `variants()`, which check that
    // `CpuFeatures` supports `Isa::Avx2` (AVX2 + FMA) first.
    unsafe { binary_avx2_impl(op, a, b, out) };
    Ok(())
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn binary_avx2_impl(op: BinaryOp, a: &[f32], b: &[f32], out: &mut [f32]) {
    // SAFETY: the features are enabled on this function, and its caller checked the CPU.
    let s = unsafe { crate::cpu::activation::simd::Avx2::new_unchecked() };
    kernel::binary(s, op, a, b, out)
}

/// NEON [`super::BinaryFn`] (4 lanes).
#[cfg(target_arch = "aarch64")]
pub(crate) fn binary_neon(
    op: BinaryOp,
    a: &[f32],
    b: &[f32],
    out: &mut [f32],
) -> Result<(), KernelError> {
    validate(a, b, out)?;
    debug_assert!(CpuFeatures::detect().supports(Isa::Neon));
    // SAFETY: reachable only through the kernel table and `variants()`, which check that
    // `CpuFeatures` supports `Isa::Neon` first.
    unsafe { binary_neon_impl(op, a, b, out) };
    Ok(())
}

#[cfg(target_arch = "aarch64")]
#[target_feature(enable = "neon")]
unsafe fn binary_neon_impl(op: BinaryOp, a: &[f32], b: &[f32], out: &mut [f32]) {
    // SAFETY: the feature is enabled on this function, and its caller checked the CPU.
    let s = unsafe { crate::cpu::activation::simd::Neon::new_unchecked() };
    kernel::binary(s, op, a, b, out)
}

/// The `binary` / `f32` oracle's registry entry.
pub(crate) const REFERENCE: Variant = variant(
    Isa::Generic,
    "binary_f32_reference",
    true,
    super::reference::binary,
);
/// The AVX2 + FMA entry.
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX2: Variant = variant(Isa::Avx2, "binary_f32_avx2", false, binary_avx2);
/// The AVX-512 entry.
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
pub(crate) const AVX512: Variant = variant(Isa::Avx512, "binary_f32_avx512", false, binary_avx512);
/// The NEON entry.
#[cfg(target_arch = "aarch64")]
pub(crate) const NEON: Variant = variant(Isa::Neon, "binary_f32_neon", false, binary_neon);

const fn variant(isa: Isa, name: &'static str, reference: bool, f: BinaryFn) -> Variant {
    Variant {
        info: KernelInfo {
            family: "binary",
            dtype: "f32",
            isa,
            name,
            reference,
        },
        kernel: Kernel::Binary(f),
    }
}

/// The [`crate::cpu::KernelTable`] choice for this family.
pub(crate) fn choose(features: &CpuFeatures, max_isa: Option<MaxIsa>) -> BinaryFn {
    select(variants(), "binary", "f32", features, max_isa)
        .and_then(Variant::binary)
        .unwrap_or(super::reference::binary)
}
