//! aarch64 NEON micro-kernel: an `8×8` tile of `C` in 16 `q` accumulators.
//!
//! Why `8×8`: each depth step loads two 4-lane vectors of `B` and two of `A` (8 values) and
//! issues 16 lane-indexed FMAs (`fmla v, v, v.s[lane]`), so no broadcasts are needed; 16
//! accumulators + 4 operands use 20 of the 32 vector registers.

use std::arch::aarch64::*;

use super::driver::MicroKernel;
use super::TileShape;

/// The NEON `8×8` micro-kernel.
pub(crate) struct Neon8x8;

const MR: usize = 8;
const NR: usize = 8;

impl MicroKernel for Neon8x8 {
    const TILE: TileShape = TileShape {
        mr: MR,
        nr: NR,
        kc: 256,
    };
    const MC: usize = 128;
    const NC: usize = 2048;

    unsafe fn tile(
        kc: usize,
        a: &[f32],
        b: &[f32],
        c: *mut f32,
        ldc: usize,
        alpha: f32,
        beta: f32,
    ) {
        debug_assert!(a.len() >= kc * MR && b.len() >= kc * NR);
        // SAFETY: the panel lengths and the C tile are the caller's contract; the kernel table
        // hands this kernel out only on CPUs with NEON.
        unsafe { kernel(kc, a.as_ptr(), b.as_ptr(), c, ldc, alpha, beta) }
    }
}

#[target_feature(enable = "neon")]
unsafe fn kernel(
    kc: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    alpha: f32,
    beta: f32,
) {
    let z = vdupq_n_f32(0.0);
    let mut acc = [[z; 2]; MR];
    for l in 0..kc {
        // SAFETY: `l < kc`, so `b + l·NR .. + NR` and `a + l·MR .. + MR` are inside the panels.
        unsafe {
            let (b0, b1) = (vld1q_f32(b.add(l * NR)), vld1q_f32(b.add(l * NR + 4)));
            let (lo, hi) = (vld1q_f32(a.add(l * MR)), vld1q_f32(a.add(l * MR + 4)));
            acc[0] = [
                vfmaq_laneq_f32::<0>(acc[0][0], b0, lo),
                vfmaq_laneq_f32::<0>(acc[0][1], b1, lo),
            ];
            acc[1] = [
                vfmaq_laneq_f32::<1>(acc[1][0], b0, lo),
                vfmaq_laneq_f32::<1>(acc[1][1], b1, lo),
            ];
            acc[2] = [
                vfmaq_laneq_f32::<2>(acc[2][0], b0, lo),
                vfmaq_laneq_f32::<2>(acc[2][1], b1, lo),
            ];
            acc[3] = [
                vfmaq_laneq_f32::<3>(acc[3][0], b0, lo),
                vfmaq_laneq_f32::<3>(acc[3][1], b1, lo),
            ];
            acc[4] = [
                vfmaq_laneq_f32::<0>(acc[4][0], b0, hi),
                vfmaq_laneq_f32::<0>(acc[4][1], b1, hi),
            ];
            acc[5] = [
                vfmaq_laneq_f32::<1>(acc[5][0], b0, hi),
                vfmaq_laneq_f32::<1>(acc[5][1], b1, hi),
            ];
            acc[6] = [
                vfmaq_laneq_f32::<2>(acc[6][0], b0, hi),
                vfmaq_laneq_f32::<2>(acc[6][1], b1, hi),
            ];
            acc[7] = [
                vfmaq_laneq_f32::<3>(acc[7][0], b0, hi),
                vfmaq_laneq_f32::<3>(acc[7][1], b1, hi),
            ];
        }
    }
    let (va, vb) = (vdupq_n_f32(alpha), vdupq_n_f32(beta));
    for (r, row) in acc.iter().enumerate() {
        // SAFETY: the caller guarantees `MR` rows of `NR` writable floats at stride `ldc`.
        unsafe {
            let out = c.add(r * ldc);
            for (h, &v) in row.iter().enumerate() {
                let p = out.add(4 * h);
                let v = if beta == 0.0 {
                    vmulq_f32(va, v)
                } else {
                    vfmaq_f32(vmulq_f32(va, v), vb, vld1q_f32(p))
                };
                vst1q_f32(p, v);
            }
        }
    }
}
