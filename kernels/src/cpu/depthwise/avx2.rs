//! The depthwise body on AVX2 + FMA (8 lanes).

use std::arch::x86_64::__m256;

use super::body::{self, Call};
use super::{validate, DepthwiseParams, Epilogue};
use crate::cpu::activation::Activation;
use crate::cpu::{CpuFeatures, Isa};
use crate::KernelError;

/// [`super::DepthwiseFn`] on AVX2 + FMA (8 lanes).
pub(crate) fn depthwise(
    p: &DepthwiseParams,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    act: Option<Activation>,
    y: &mut [f32],
) -> Result<(), KernelError> {
    let (out_h, out_w) = validate(p, x, w, bias, act, y)?;
    if !CpuFeatures::detect().supports(Isa::Avx2) {
        return Err(KernelError::unsupported(
            "depthwise_f32_avx2: this CPU lacks Avx2",
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
    // SAFETY: the CPU supports Isa::Avx2 (checked just above; the kernel table and the
    // variants list only offer this variant where it does), and `call` passed `validate`.
    unsafe { run(&call, y) }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn run(call: &Call<'_>, y: &mut [f32]) -> Result<(), KernelError> {
    // SAFETY: this function's features are `__m256`'s ISA; the caller validated `call`.
    unsafe { body::depthwise::<__m256>(call, y) }
}
