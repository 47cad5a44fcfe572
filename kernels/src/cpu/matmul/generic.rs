//! The portable micro-kernel (the "generic" tier): a `6×8` accumulator array with fixed trip
//! counts, which LLVM keeps in vector registers and vectorises for whatever the target baseline
//! offers (SSE2 on plain x86_64, NEON on aarch64).

use super::driver::MicroKernel;
use super::TileShape;

/// The portable `6×8` micro-kernel.
pub(crate) struct Generic6x8;

const MR: usize = 6;
const NR: usize = 8;

impl MicroKernel for Generic6x8 {
    const TILE: TileShape = TileShape {
        mr: MR,
        nr: NR,
        kc: 256,
    };
    const MC: usize = 96;
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
        let mut acc = [[0.0f32; NR]; MR];
        for (ak, bk) in a[..kc * MR]
            .chunks_exact(MR)
            .zip(b[..kc * NR].chunks_exact(NR))
        {
            let (Some(ak), Some(bk)) = (ak.first_chunk::<MR>(), bk.first_chunk::<NR>()) else {
                continue; // Unreachable: chunks_exact yields exactly MR / NR elements.
            };
            for (row, &x) in acc.iter_mut().zip(ak) {
                for (acc_rj, &y) in row.iter_mut().zip(bk) {
                    *acc_rj += x * y;
                }
            }
        }
        for (r, row) in acc.iter().enumerate() {
            // SAFETY: the caller guarantees `MR` rows of `NR` writable floats at stride `ldc`.
            let out = unsafe { std::slice::from_raw_parts_mut(c.add(r * ldc), NR) };
            if beta == 0.0 {
                out.iter_mut().zip(row).for_each(|(o, &v)| *o = alpha * v);
            } else {
                out.iter_mut()
                    .zip(row)
                    .for_each(|(o, &v)| *o = alpha * v + beta * *o);
            }
        }
    }
}
