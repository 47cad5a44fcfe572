//! The per-ISA entry points of `activate`: safe [`super::ActivateFn`]s, each running the one
//! generic body ([`super::kernel::activate`]) inside a `#[target_feature]` function.

use super::{kernel, ActivateFn, Activation};
use crate::cpu::{select, variants, CpuFeatures, Isa, Kernel, KernelInfo, MaxIsa, Variant};

/// AVX-512 [`super::ActivateFn`] (16 lanes, masked tail).
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
pub(crate) fn activate_avx512(act: Activation, x: &mut [f32]) {
    debug_assert!(crate::cpu::CpuFeatures::detect().supports(crate::cpu::Isa::Avx512));
    // SAFETY: this function is reachable only through the kernel table and `variants()`, which
    // hand it out (or run it, in tests and benches) only where `CpuFeatures` supports
    // `Isa::Avx512`, i.e. every feature enabled below.
    unsafe { activate_avx512_impl(act, x) }
}

#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
unsafe fn activate_avx512_impl(act: Activation, x: &mut [f32]) {
    // SAFETY: the features are enabled on this function, and its caller checked the CPU.
    let s = unsafe { super::simd::Avx512::new_unchecked() };
    kernel::activate(s, act, x)
}

/// AVX2 + FMA [`super::ActivateFn`] (8 lanes).
#[cfg(target_arch = "x86_64")]
pub(crate) fn activate_avx2(act: Activation, x: &mut [f32]) {
    debug_assert!(crate::cpu::CpuFeatures::detect().supports(crate::cpu::Isa::Avx2));
    // SAFETY: reachable only through the kernel table and `variants()`, which check that
    // `CpuFeatures` supports `Isa::Avx2` (AVX2 + FMA) first.
    unsafe { activate_avx2_impl(act, x) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn activate_avx2_impl(act: Activation, x: &mut [f32]) {
    // SAFETY: the features are enabled on this function, and its caller checked the CPU.
    let s = unsafe { super::simd::Avx2::new_unchecked() };
    kernel::activate(s, act, x)
}

/// NEON [`super::ActivateFn`] (4 lanes).
#[cfg(target_arch = "aarch64")]
pub(crate) fn activate_neon(act: Activation, x: &mut [f32]) {
    debug_assert!(crate::cpu::CpuFeatures::detect().supports(crate::cpu::Isa::Neon));
    // SAFETY: reachable only through the kernel table and `variants()`, which check that
    // `CpuFeatures` supports `Isa::Neon` first.
    unsafe { activate_neon_impl(act, x) }
}

#[cfg(target_arch = "aarch64")]
#[target_feature(enable = "neon")]
unsafe fn activate_neon_impl(act: Activation, x: &mut [f32]) {
    // SAFETY: the feature is enabled on this function, and its caller checked the CPU.
    let s = unsafe { super::simd::Neon::new_unchecked() };
    kernel::activate(s, act, x)
}

/// The `activation` / `f32` oracle's registry entry.
pub(crate) const REFERENCE: Variant = variant(
    Isa::Generic,
    "activation_f32_reference",
    true,
    super::reference::activate,
);
/// The AVX2 + FMA entry.
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX2: Variant = variant(Isa::Avx2, "activation_f32_avx2", false, activate_avx2);
/// The AVX-512 entry.
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
pub(crate) const AVX512: Variant =
    variant(Isa::Avx512, "activation_f32_avx512", false, activate_avx512);
/// The NEON entry.
#[cfg(target_arch = "aarch64")]
pub(crate) const NEON: Variant = variant(Isa::Neon, "activation_f32_neon", false, activate_neon);

const fn variant(isa: Isa, name: &'static str, reference: bool, f: ActivateFn) -> Variant {
    Variant {
        info: KernelInfo {
            family: "activation",
            dtype: "f32",
            isa,
            name,
            reference,
        },
        kernel: Kernel::Activate(f),
    }
}

/// The [`crate::cpu::KernelTable`] choice for this family.
pub(crate) fn choose(features: &CpuFeatures, max_isa: Option<MaxIsa>) -> ActivateFn {
    select(variants(), "activation", "f32", features, max_isa)
        .and_then(Variant::activate)
        .unwrap_or(super::reference::activate)
}
