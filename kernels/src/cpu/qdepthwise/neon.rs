//! The quantized depthwise body on NEON (8 lanes).

use super::lanes::Neon8;
use super::{body, validate, QDepthwise, QDepthwiseOut};
use crate::cpu::{CpuFeatures, Isa};
use crate::KernelError;

/// [`super::QDepthwiseFn`] on NEON.
pub(crate) fn qdepthwise(q: &QDepthwise<'_>, y: QDepthwiseOut<'_>) -> Result<(), KernelError> {
    let (out_h, out_w) = validate(q, &y)?;
    if !CpuFeatures::detect().supports(Isa::Neon) {
        return Err(KernelError::unsupported(
            "qdepthwise_u8_neon: this CPU lacks Neon",
        ));
    }
    // SAFETY: the CPU supports Isa::Neon (checked just above), and the call passed `validate`.
    unsafe { run(q, out_h, out_w, y) }
}

#[target_feature(enable = "neon")]
unsafe fn run(
    q: &QDepthwise<'_>,
    out_h: usize,
    out_w: usize,
    y: QDepthwiseOut<'_>,
) -> Result<(), KernelError> {
    // SAFETY: this function's features are `Neon8`'s ISA; the caller validated the call.
    unsafe { body::qdepthwise::<Neon8>(q, out_h, out_w, y) }
}
