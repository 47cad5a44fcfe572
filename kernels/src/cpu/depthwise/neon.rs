//! The depthwise body on aarch64 NEON (4 lanes).

use std::arch::aarch64::float32x4_t;

use super::body::{self, Call};
use super::{validate, DepthwiseParams, Epilogue};
use crate::cpu::activation::Activation;
use crate::cpu::{CpuFeatures, Isa};
use crate::KernelError;

/// [`super::DepthwiseFn`] on NEON.
pub(crate) fn depthwise(
    p: &DepthwiseParams,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    act: Option<Activation>,
    y: &mut [f32],
) -> Result<(), KernelError> {
    let (out_h, out_w) = validate(p, x, w, bias, act, y)?;
    if !CpuFeatures::detect().supports(Isa::Neon) {
        return Err(KernelError::unsupported(
            "depthwise_f32_neon: this CPU lacks NEON",
        ));
    }
    let call = Call {
        p,
        out_h,
        out_w,
        x,
        w,
        bias,
        epilogue: Epilogue::new(act),
    };
    // SAFETY: the CPU supports NEON (checked just above; the kernel table and the variants
    // list only offer this variant where it does), and `call` passed `validate`.
    unsafe { run(&call, y) }
}

#[target_feature(enable = "neon")]
unsafe fn run(call: &Call<'_>, y: &mut [f32]) -> Result<(), KernelError> {
    // SAFETY: this function's feature is `float32x4_t`'s ISA; the caller validated `call`.
    unsafe { body::depthwise::<float32x4_t>(call, y) }
}
