//! The per-ISA entry points of `layer_norm`: safe [`super::LayerNormFn`]s, each validating, then
//! running the one generic body ([`super::kernel::layer_norm`]) inside a `#[target_feature]`
//! function.

use super::{kernel, validate, LayerNormFn, LayerNormParams, RowStats};
use crate::cpu::{select, variants, CpuFeatures, Isa, Kernel, KernelInfo, MaxIsa, Variant};
use crate::KernelError;

/// AVX-512 [`super::LayerNormFn`].
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
pub(crate) fn layer_norm_avx512(
    p: &LayerNormParams,
    x: &[f32],
    scale: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
    stats: Option<RowStats<'_>>,
) -> Result<(), KernelError> {
    validate(p, x, scale, bias, y, stats.as_ref())?;
    debug_assert!(crate::cpu::CpuFeatures::detect().supports(crate::cpu::Isa::Avx512));
    // SAFETY: this function is reachable only through the kernel table and `variants()`, which
    // hand it out (or run it, in tests and benches) only where `CpuFeatures` supports
    // `Isa::Avx512`, i.e. every feature enabled below.
    unsafe { layer_norm_avx512_impl(p, x, scale, bias, y, stats) };
    Ok(())
}

#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
unsafe fn layer_norm_avx512_impl(
    p: &LayerNormParams,
    x: &[f32],
    scale: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
    stats: Option<RowStats<'_>>,
) {
    // SAFETY: the features are enabled on this function, and its caller checked the CPU.
    let s = unsafe { crate::cpu::activation::simd::Avx512::new_unchecked() };
    kernel::layer_norm(s, p, x, scale, bias, y, stats)
}

/// AVX2 + FMA [`super::LayerNormFn`].
#[cfg(target_arch = "x86_64")]
pub(crate) fn layer_norm_avx2(
    p: &LayerNormParams,
    x: &[f32],
    scale: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
    stats: Option<RowStats<'_>>,
) -> Result<(), KernelError> {
    validate(p, x, scale, bias, y, stats.as_ref())?;
    debug_assert!(crate::cpu::CpuFeatures::detect().supports(crate::cpu::Isa::Avx2));
    // SAFETY: reachable only through the kernel table and `variants()`, which check that
    // `CpuFeatures` supports `Isa::Avx2` (AVX2 + FMA) first.
    unsafe { layer_norm_avx2_impl(p, x, scale, bias, y, stats) };
    Ok(())
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn layer_norm_avx2_impl(
    p: &LayerNormParams,
    x: &[f32],
    scale: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
    stats: Option<RowStats<'_>>,
) {
    // SAFETY: the features are enabled on this function, and its caller checked the CPU.
    let s = unsafe { crate::cpu::activation::simd::Avx2::new_unchecked() };
    kernel::layer_norm(s, p, x, scale, bias, y, stats)
}

/// NEON [`super::LayerNormFn`].
#[cfg(target_arch = "aarch64")]
pub(crate) fn layer_norm_neon(
    p: &LayerNormParams,
    x: &[f32],
    scale: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
    stats: Option<RowStats<'_>>,
) -> Result<(), KernelError> {
    validate(p, x, scale, bias, y, stats.as_ref())?;
    debug_assert!(crate::cpu::CpuFeatures::detect().supports(crate::cpu::Isa::Neon));
    // SAFETY: reachable only through the kernel table and `variants()`, which check that
    // `CpuFeatures` supports `Isa::Neon` first.
    unsafe { layer_norm_neon_impl(p, x, scale, bias, y, stats) };
    Ok(())
}

#[cfg(target_arch = "aarch64")]
#[target_feature(enable = "neon")]
unsafe fn layer_norm_neon_impl(
    p: &LayerNormParams,
    x: &[f32],
    scale: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
    stats: Option<RowStats<'_>>,
) {
    // SAFETY: the features are enabled on this function, and its caller checked the CPU.
    let s = unsafe { crate::cpu::activation::simd::Neon::new_unchecked() };
    kernel::layer_norm(s, p, x, scale, bias, y, stats)
}

/// The `layernorm` / `f32` oracle's registry entry.
pub(crate) const REFERENCE: Variant = variant(
    Isa::Generic,
    "layernorm_f32_reference",
    true,
    super::reference::layer_norm,
);
/// The AVX2 + FMA entry.
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX2: Variant = variant(Isa::Avx2, "layernorm_f32_avx2", false, layer_norm_avx2);
/// The AVX-512 entry.
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
pub(crate) const AVX512: Variant = variant(
    Isa::Avx512,
    "layernorm_f32_avx512",
    false,
    layer_norm_avx512,
);
/// The NEON entry.
#[cfg(target_arch = "aarch64")]
pub(crate) const NEON: Variant = variant(Isa::Neon, "layernorm_f32_neon", false, layer_norm_neon);

const fn variant(isa: Isa, name: &'static str, reference: bool, f: LayerNormFn) -> Variant {
    Variant {
        info: KernelInfo {
            family: "layernorm",
            dtype: "f32",
            isa,
            name,
            reference,
        },
        kernel: Kernel::LayerNorm(f),
    }
}

/// The [`crate::cpu::KernelTable`] choice for this family.
pub(crate) fn choose(features: &CpuFeatures, max_isa: Option<MaxIsa>) -> LayerNormFn {
    select(variants(), "layernorm", "f32", features, max_isa)
        .and_then(Variant::layer_norm)
        .unwrap_or(super::reference::layer_norm)
}
