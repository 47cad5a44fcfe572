//! The transpose on NEON: 4×4 blocks in 4 `q` registers (`trn1`/`trn2` on 32-bit, then on
//! 64-bit elements); the edges (at most 3 rows and 3 columns) element by element, NEON having
//! no masked loads.

use std::arch::aarch64::*;

use super::body::{self, At, Block};
use super::{validate, TransposeParams};
use crate::cpu::{CpuFeatures, Isa};
use crate::KernelError;

/// [`super::TransposeFn`] on NEON (4×4 blocks).
pub(crate) fn transpose(p: &TransposeParams, x: &[f32], y: &mut [f32]) -> Result<(), KernelError> {
    validate(p, x, y)?;
    if !CpuFeatures::detect().supports(Isa::Neon) {
        return Err(KernelError::unsupported(
            "transpose_f32_neon: this CPU lacks Neon",
        ));
    }
    // SAFETY: the CPU supports Isa::Neon (checked just above; the kernel table and the
    // variants list only offer this variant where it does).
    unsafe { run(p, x, y) };
    Ok(())
}

#[target_feature(enable = "neon")]
unsafe fn run(p: &TransposeParams, x: &[f32], y: &mut [f32]) {
    // SAFETY: the feature is enabled on this function, and its caller checked the CPU.
    let b = unsafe { NeonBlock::new_unchecked() };
    body::transpose(b, p, x, y)
}

/// Witness that the CPU has NEON ([`Isa::Neon`]).
#[derive(Clone, Copy, Debug)]
struct NeonBlock(());

const N: usize = 4;

impl NeonBlock {
    /// # Safety
    /// The running CPU must support [`Isa::Neon`].
    #[inline(always)]
    unsafe fn new_unchecked() -> Self {
        NeonBlock(())
    }
}

// SAFETY (every `unsafe` block below): a `NeonBlock` exists only where the CPU has NEON; each
// load or store touches the first 4 elements of a slice checked to hold them.
impl Block for NeonBlock {
    const N: usize = N;

    #[inline(always)]
    fn full(self, x: &[f32], y: &mut [f32], at: At) {
        let mut r = [unsafe { vdupq_n_f32(0.0) }; N];
        for (k, r) in r.iter_mut().enumerate() {
            let row = &x[at.x + k * at.x_stride..][..N];
            *r = unsafe { vld1q_f32(row.as_ptr()) };
        }
        let out = unsafe {
            // t0 = (r0[0], r1[0], r0[2], r1[2]), t1 = (r0[1], r1[1], r0[3], r1[3]); likewise
            // t2, t3 from rows 2 and 3. Column c is then the low (c < 2) or high (c >= 2)
            // 64-bit halves of t[c % 2] and t[2 + c % 2].
            let t0 = vreinterpretq_f64_f32(vtrn1q_f32(r[0], r[1]));
            let t1 = vreinterpretq_f64_f32(vtrn2q_f32(r[0], r[1]));
            let t2 = vreinterpretq_f64_f32(vtrn1q_f32(r[2], r[3]));
            let t3 = vreinterpretq_f64_f32(vtrn2q_f32(r[2], r[3]));
            [
                vreinterpretq_f32_f64(vtrn1q_f64(t0, t2)),
                vreinterpretq_f32_f64(vtrn1q_f64(t1, t3)),
                vreinterpretq_f32_f64(vtrn2q_f64(t0, t2)),
                vreinterpretq_f32_f64(vtrn2q_f64(t1, t3)),
            ]
        };
        for (k, v) in out.into_iter().enumerate() {
            let row = &mut y[at.y + k * at.y_stride..][..N];
            unsafe { vst1q_f32(row.as_mut_ptr(), v) };
        }
    }

    #[inline(always)]
    fn partial(self, x: &[f32], y: &mut [f32], at: At, rows: usize, cols: usize) {
        body::scalar_block(x, y, at, rows, cols)
    }
}
