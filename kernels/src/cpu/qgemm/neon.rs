//! NEON micro-kernel: `8 × 8` tile of widening `vmlal` on `i16` operands with the zero points
//! subtracted (`|x| <= 255`, products exact in `i32`). Runs on any aarch64.

use std::arch::aarch64::*;
use std::ops::Range;

use super::driver::{prepare, qgemm_with, run, QMicroKernel};
use super::output::QColumnBlock;
use super::pack::AEnc;
use super::{PackedQWeights, QGemm, QGemmKernels, QLayout, QOutput};
use crate::cpu::{CpuFeatures, Isa};
use crate::KernelError;

/// Per depth step: one load of 8 `B` values, one of 8 `A` values, 16 `vmlal` by lane into 16
/// accumulators.
pub(crate) struct Neon8x8;

impl QMicroKernel for Neon8x8 {
    const LAYOUT: QLayout = QLayout {
        mr: 8,
        kg: 1,
        enc: AEnc::I16,
    };
    const NR: usize = 8;
    type A = i16;
    type B = i16;

    fn weights(a: &PackedQWeights) -> &[i16] {
        a.words()
    }

    #[inline(always)]
    fn encode(raw: u8, signed: bool, zero_point: i32) -> i16 {
        let v = if signed {
            i32::from(raw as i8)
        } else {
            i32::from(raw)
        };
        (v - zero_point) as i16
    }

    #[inline(always)]
    fn widen(b: i16) -> i32 {
        i32::from(b)
    }

    fn enc_zero_point(_signed: bool, _zero_point: i32) -> i32 {
        0
    }

    #[inline(always)]
    unsafe fn tile(a: &[i16], b: &[i16], groups: usize, out: &mut [i32]) {
        debug_assert!(a.len() >= groups * 8 && b.len() >= groups * 8 && out.len() >= 64);
        // SAFETY: lengths and CPU support are the caller's contract.
        unsafe { neon_tile(a.as_ptr(), b.as_ptr(), groups, out.as_mut_ptr()) }
    }
}

#[target_feature(enable = "neon")]
unsafe fn neon_tile(a: *const i16, b: *const i16, depth: usize, out: *mut i32) {
    let mut acc = [[vdupq_n_s32(0); 2]; 8];
    for l in 0..depth {
        // SAFETY: `l < depth`: `a + l·8 .. + 8` and `b + l·8 .. + 8` are inside the panels.
        let (av, bv) = unsafe { (vld1q_s16(a.add(l * 8)), vld1q_s16(b.add(l * 8))) };
        let (lo, hi) = (vget_low_s16(bv), vget_high_s16(bv));
        macro_rules! row {
            ($r:literal) => {
                acc[$r][0] = vmlal_laneq_s16::<$r>(acc[$r][0], lo, av);
                acc[$r][1] = vmlal_laneq_s16::<$r>(acc[$r][1], hi, av);
            };
        }
        row!(0);
        row!(1);
        row!(2);
        row!(3);
        row!(4);
        row!(5);
        row!(6);
        row!(7);
    }
    for (r, acc_r) in acc.iter().enumerate() {
        // SAFETY: `out` holds 8·8 values (caller's contract).
        unsafe {
            vst1q_s32(out.add(r * 8), acc_r[0]);
            vst1q_s32(out.add(r * 8 + 4), acc_r[1]);
        }
    }
}

/// The NEON variant's entry points.
pub(crate) const NEON: QGemmKernels = QGemmKernels {
    qgemm: qgemm_neon,
    qgemm_block: qgemm_block_neon,
    layout: Neon8x8::LAYOUT,
};

fn qgemm_neon(g: &QGemm<'_>, out: QOutput<'_>, cols: Range<usize>) -> Result<(), KernelError> {
    qgemm_with(g, out, cols, qgemm_block_neon)
}

fn qgemm_block_neon(g: &QGemm<'_>, mut c: QColumnBlock<'_>) -> Result<(), KernelError> {
    if prepare::<Neon8x8>(g, &c)? {
        debug_assert!(CpuFeatures::detect().supports(Isa::Neon));
        // SAFETY: reachable only through the kernel table and `variants()`, which check that
        // `CpuFeatures` supports `Isa::Neon` first.
        unsafe { run_neon(g, &mut c) };
    }
    Ok(())
}

#[target_feature(enable = "neon")]
unsafe fn run_neon(g: &QGemm<'_>, c: &mut QColumnBlock<'_>) {
    // SAFETY: the feature is enabled here, and the caller checked the CPU.
    unsafe { run::<Neon8x8>(g, c) }
}
