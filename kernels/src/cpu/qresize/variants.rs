//! The x86-64 entry points of `qresize`: safe [`super::QResizeFn`]s, each validating, then
//! running the one generic body ([`super::kernel::run`]) inside a `#[target_feature]`
//! function, so that its row loops are vectorised for that ISA.

use super::{kernel, validate, QResizeParams, Taps};
use crate::cpu::{CpuFeatures, Isa};
use crate::KernelError;

/// AVX-512 [`super::QResizeFn`].
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
pub(crate) fn qresize_avx512(
    p: &QResizeParams,
    rows: &Taps<'_>,
    cols: &Taps<'_>,
    x: &[u8],
    y: &mut [u8],
) -> Result<(), KernelError> {
    validate(p, rows, cols, x, y)?;
    debug_assert!(CpuFeatures::detect().supports(Isa::Avx512));
    // SAFETY: this function is reachable only through the kernel table and `variants()`, which
    // hand it out (or run it, in tests and benches) only where `CpuFeatures` supports
    // `Isa::Avx512`, i.e. every feature enabled below.
    unsafe { qresize_avx512_impl(p, rows, cols, x, y) };
    Ok(())
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
unsafe fn qresize_avx512_impl(
    p: &QResizeParams,
    rows: &Taps<'_>,
    cols: &Taps<'_>,
    x: &[u8],
    y: &mut [u8],
) {
    kernel::run(p, rows, cols, x, y)
}

/// AVX2 + FMA [`super::QResizeFn`].
pub(crate) fn qresize_avx2(
    p: &QResizeParams,
    rows: &Taps<'_>,
    cols: &Taps<'_>,
    x: &[u8],
    y: &mut [u8],
) -> Result<(), KernelError> {
    validate(p, rows, cols, x, y)?;
    debug_assert!(CpuFeatures::detect().supports(Isa::Avx2));
    // SAFETY: reachable only through the kernel table and `variants()`, which check that
    // `CpuFeatures` supports `Isa::Avx2` (AVX2 + FMA) first.
    unsafe { qresize_avx2_impl(p, rows, cols, x, y) };
    Ok(())
}

#[target_feature(enable = "avx2,fma")]
unsafe fn qresize_avx2_impl(
    p: &QResizeParams,
    rows: &Taps<'_>,
    cols: &Taps<'_>,
    x: &[u8],
    y: &mut [u8],
) {
    kernel::run(p, rows, cols, x, y)
}
