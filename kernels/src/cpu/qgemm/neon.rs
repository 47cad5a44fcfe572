//! NEON micro-kernels: `8 × 8` tile of widening `vmlal` on `i16` operands with the zero points
//! subtracted (`|x| <= 255`, products exact in `i32`), which runs on any aarch64; and an
//! `8 × 8` tile of `SDOT` (`s8 × s8`, 4 depth steps per instruction) where the CPU has the
//! dot-product extension. `SDOT`'s intrinsics are unstable, so it is emitted with `asm!`.

use std::arch::aarch64::*;
use std::arch::asm;
use std::ops::Range;

use super::driver::{pack_group_x4, prepare, qgemm_with, run, QMicroKernel};
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

/// `8 × 8` tile of `SDOT` by element: weights `A'` are the `S8` encoding (as for VNNI), the
/// activations are flipped to `s8` when they are `u8` (`^ 0x80`, i.e. `− 128`, zero point
/// `zb − 128`); the driver's row/column-sum corrections do the rest. Per group of 4 depth
/// steps: 2 loads of `B` (8 columns × 4), 2 of `A` (8 rows × 4), 16 `SDOT` into 16 accumulators.
pub(crate) struct NeonDot8x8;

impl QMicroKernel for NeonDot8x8 {
    const LAYOUT: QLayout = QLayout {
        mr: 8,
        kg: 4,
        enc: AEnc::S8,
    };
    const NR: usize = 8;
    type A = i8;
    type B = u8;

    fn weights(a: &PackedQWeights) -> &[i8] {
        a.bytes()
    }

    #[inline(always)]
    fn encode(raw: u8, signed: bool, _zero_point: i32) -> u8 {
        if signed {
            raw
        } else {
            raw ^ 0x80
        }
    }

    #[inline(always)]
    fn widen(b: u8) -> i32 {
        i32::from(b as i8)
    }

    fn enc_zero_point(signed: bool, zero_point: i32) -> i32 {
        if signed {
            zero_point
        } else {
            zero_point - 128
        }
    }

    #[inline(always)]
    unsafe fn tile(a: &[i8], b: &[u8], groups: usize, out: &mut [i32]) {
        debug_assert!(a.len() >= groups * 32 && b.len() >= groups * 32 && out.len() >= 64);
        // SAFETY: lengths and CPU support are the caller's contract.
        unsafe { sdot_tile(a.as_ptr(), b.as_ptr(), groups, out.as_mut_ptr()) }
    }

    #[inline(always)]
    fn pack_group(
        raw: &mut [u8],
        wp: usize,
        valid: usize,
        signed: bool,
        _zb: i32,
        groups: usize,
        gi: usize,
        packed: &mut [u8],
        col_sums: Option<&mut [i32]>,
    ) {
        let flip = if signed { 0 } else { 0x80 };
        pack_group_x4::<{ Self::NR }, true>(raw, wp, valid, flip, groups, gi, packed, col_sums)
    }
}

/// `acc.4s += b.16b · a.4b[lane]`: each lane of `acc` (a column) gains the dot product of its
/// 4 bytes of `b` with bytes `4·lane .. 4·lane + 4` of `a` (a row's 4 depth values).
macro_rules! sdot {
    ($acc:expr, $b:expr, $a:expr, $lane:literal) => {
        // SAFETY: a pure register instruction; the enclosing function enables `dotprod`.
        unsafe {
            asm!(
                concat!("sdot {acc:v}.4s, {b:v}.16b, {a:v}.4b[", $lane, "]"),
                acc = inout(vreg) $acc,
                b = in(vreg) $b,
                a = in(vreg) $a,
                options(pure, nomem, nostack, preserves_flags)
            )
        }
    };
}

#[target_feature(enable = "neon,dotprod")]
unsafe fn sdot_tile(a: *const i8, b: *const u8, groups: usize, out: *mut i32) {
    let mut acc = [[vdupq_n_s32(0); 2]; 8];
    for gi in 0..groups {
        // SAFETY: `gi < groups`: `a + gi·32 .. + 32` and `b + gi·32 .. + 32` are inside the
        // panels (caller's contract).
        let (a0, a1, b0, b1) = unsafe {
            (
                vld1q_s8(a.add(gi * 32)),
                vld1q_s8(a.add(gi * 32 + 16)),
                vreinterpretq_s8_u8(vld1q_u8(b.add(gi * 32))),
                vreinterpretq_s8_u8(vld1q_u8(b.add(gi * 32 + 16))),
            )
        };
        sdot!(acc[0][0], b0, a0, 0);
        sdot!(acc[0][1], b1, a0, 0);
        sdot!(acc[1][0], b0, a0, 1);
        sdot!(acc[1][1], b1, a0, 1);
        sdot!(acc[2][0], b0, a0, 2);
        sdot!(acc[2][1], b1, a0, 2);
        sdot!(acc[3][0], b0, a0, 3);
        sdot!(acc[3][1], b1, a0, 3);
        sdot!(acc[4][0], b0, a1, 0);
        sdot!(acc[4][1], b1, a1, 0);
        sdot!(acc[5][0], b0, a1, 1);
        sdot!(acc[5][1], b1, a1, 1);
        sdot!(acc[6][0], b0, a1, 2);
        sdot!(acc[6][1], b1, a1, 2);
        sdot!(acc[7][0], b0, a1, 3);
        sdot!(acc[7][1], b1, a1, 3);
    }
    for (r, acc_r) in acc.iter().enumerate() {
        // SAFETY: `out` holds 8·8 values (caller's contract).
        unsafe {
            vst1q_s32(out.add(r * 8), acc_r[0]);
            vst1q_s32(out.add(r * 8 + 4), acc_r[1]);
        }
    }
}

/// The SDOT variant's entry points.
pub(crate) const NEON_DOT: QGemmKernels = QGemmKernels {
    qgemm: qgemm_dot,
    qgemm_block: qgemm_block_dot,
    layout: NeonDot8x8::LAYOUT,
};

fn qgemm_dot(g: &QGemm<'_>, out: QOutput<'_>, cols: Range<usize>) -> Result<(), KernelError> {
    qgemm_with(g, out, cols, qgemm_block_dot)
}

fn qgemm_block_dot(g: &QGemm<'_>, mut c: QColumnBlock<'_>) -> Result<(), KernelError> {
    if prepare::<NeonDot8x8>(g, &c)? {
        debug_assert!(CpuFeatures::detect().supports(Isa::NeonDotprod));
        // SAFETY: reachable only through the kernel table and `variants()`, which check that
        // `CpuFeatures` supports `Isa::NeonDotprod` (NEON + dotprod) first.
        unsafe { run_dot(g, &mut c) };
    }
    Ok(())
}

#[target_feature(enable = "neon,dotprod")]
unsafe fn run_dot(g: &QGemm<'_>, c: &mut QColumnBlock<'_>) {
    // SAFETY: the features are enabled here, and the caller checked the CPU.
    unsafe { run::<NeonDot8x8>(g, c) }
}
