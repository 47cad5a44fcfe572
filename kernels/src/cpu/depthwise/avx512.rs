//! The depthwise body on AVX-512 (16 lanes).

use std::arch::x86_64::__m512;

use super::body::{self, Call};
use super::{validate, DepthwiseParams, Epilogue};
use crate::cpu::activation::Activation;
use crate::cpu::{CpuFeatures, Isa};
use crate::KernelError;

/// [`super::DepthwiseFn`] on AVX-512 (16 lanes).
pub(crate) fn depthwise(
    p: &DepthwiseParams,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    act: Option<Activation>,
    y: &mut [f32],
) -> Result<(), KernelError> {
    let (out_h, out_w) = validate(p, x, w, bias, act, y)?;
    if !CpuFeatures::detect().supports(Isa::Avx512) {
        return Err(KernelError::unsupported(
            "depthwise_f32_avx512: this CPU lacks Avx512",
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
    // SAFETY: the CPU supports Isa::Avx512 (checked just above; the kernel table and the
    // variants list only offer this variant where it does), and `call` passed `validate`.
    unsafe { run(&call, y) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
unsafe fn run(call: &Call<'_>, y: &mut [f32]) -> Result<(), KernelError> {
    // SAFETY: this function's features are `__m512`'s ISA; the caller validated `call`.
    unsafe { body::depthwise::<__m512>(call, y) }
}
