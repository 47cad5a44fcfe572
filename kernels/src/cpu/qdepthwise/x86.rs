//! The quantized depthwise body on AVX-512 BW (+ VNNI) (16 lanes) and AVX2 (8 lanes).

use std::arch::x86_64::__m256i;
#[cfg(feature = "avx512")]
use std::arch::x86_64::__m512i;

#[cfg(feature = "avx512")]
use super::lanes::Vnni;
use super::{body, validate, QDepthwise, QDepthwiseOut};
use crate::cpu::{CpuFeatures, Isa};
use crate::KernelError;

/// Output rows this narrow run on 8-lane vectors even where 16 are available: a 16-lane
/// vector would compute (and discard) at least half its lanes.
#[cfg(feature = "avx512")]
const NARROW: usize = 8;

/// [`super::QDepthwiseFn`] on AVX-512 BW.
#[cfg(feature = "avx512")]
pub(crate) fn qdepthwise_avx512(
    q: &QDepthwise<'_>,
    y: QDepthwiseOut<'_>,
) -> Result<(), KernelError> {
    let (out_h, out_w) = validate(q, &y)?;
    if !CpuFeatures::detect().supports(Isa::Avx512) {
        return Err(KernelError::unsupported(
            "qdepthwise_u8_avx512: this CPU lacks Avx512",
        ));
    }
    // SAFETY: the CPU supports Isa::Avx512 (checked just above), and the call passed
    // `validate`.
    unsafe { run_avx512(q, out_h, out_w, y) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
#[cfg(feature = "avx512")]
unsafe fn run_avx512(
    q: &QDepthwise<'_>,
    out_h: usize,
    out_w: usize,
    y: QDepthwiseOut<'_>,
) -> Result<(), KernelError> {
    // SAFETY: this function's features are `__m512i`'s and `__m256i`'s ISA; the caller
    // validated the call.
    unsafe {
        if out_w <= NARROW {
            body::qdepthwise::<__m256i>(q, out_h, out_w, y)
        } else {
            body::qdepthwise::<__m512i>(q, out_h, out_w, y)
        }
    }
}

/// [`super::QDepthwiseFn`] on AVX2.
pub(crate) fn qdepthwise_avx2(q: &QDepthwise<'_>, y: QDepthwiseOut<'_>) -> Result<(), KernelError> {
    let (out_h, out_w) = validate(q, &y)?;
    if !CpuFeatures::detect().supports(Isa::Avx2) {
        return Err(KernelError::unsupported(
            "qdepthwise_u8_avx2: this CPU lacks Avx2",
        ));
    }
    // SAFETY: the CPU supports Isa::Avx2 (checked just above), and the call passed `validate`.
    unsafe { run_avx2(q, out_h, out_w, y) }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn run_avx2(
    q: &QDepthwise<'_>,
    out_h: usize,
    out_w: usize,
    y: QDepthwiseOut<'_>,
) -> Result<(), KernelError> {
    // SAFETY: this function's features are `__m256i`'s ISA; the caller validated the call.
    unsafe { body::qdepthwise::<__m256i>(q, out_h, out_w, y) }
}

/// [`super::QDepthwiseFn`] on AVX-512 BW + VNNI.
#[cfg(feature = "avx512")]
pub(crate) fn qdepthwise_avx512vnni(
    q: &QDepthwise<'_>,
    y: QDepthwiseOut<'_>,
) -> Result<(), KernelError> {
    let (out_h, out_w) = validate(q, &y)?;
    if !CpuFeatures::detect().supports(Isa::Avx512Vnni) {
        return Err(KernelError::unsupported(
            "qdepthwise_u8_avx512vnni: this CPU lacks Avx512Vnni",
        ));
    }
    // SAFETY: the CPU supports Isa::Avx512Vnni (checked just above), and the call passed
    // `validate`.
    unsafe { run_avx512vnni(q, out_h, out_w, y) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")]
#[cfg(feature = "avx512")]
unsafe fn run_avx512vnni(
    q: &QDepthwise<'_>,
    out_h: usize,
    out_w: usize,
    y: QDepthwiseOut<'_>,
) -> Result<(), KernelError> {
    // SAFETY: this function's features are `Vnni`'s and `__m256i`'s ISA; the caller validated
    // the call.
    unsafe {
        if out_w <= NARROW {
            body::qdepthwise::<__m256i>(q, out_h, out_w, y)
        } else {
            body::qdepthwise::<Vnni>(q, out_h, out_w, y)
        }
    }
}
