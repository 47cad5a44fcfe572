//! Cache-blocked, packed, register-tiled GEMM in portable safe Rust (the "generic" tier).
//!
//! The BLIS loop nest: for each `NC`-wide column block of `B` and `KC`-deep slice of the
//! reduction, pack that `KC×NC` panel of `B` into `NR`-wide micro-panels; for each `MC`-tall row
//! block of `A`, pack it into `MR`-tall micro-panels; then every `MR×NR` tile of `C` is one
//! [`micro_kernel`] call over two contiguous micro-panels, and one store that applies
//! `alpha`/`beta` (and, on the last `KC` slice, the post-ops). Packing zero-pads ragged edges,
//! so the micro-kernel always computes a full tile and only the store looks at edge sizes.
//!
//! The micro-kernel's accumulator is a `[[f32; NR]; MR]` array with fixed trip counts: LLVM keeps
//! it in vector registers and vectorises the `NR` loop for whatever the target baseline offers
//! (SSE2 on plain x86_64, NEON on aarch64). SIMD tiers replace only [`micro_kernel`] (a
//! `#[target_feature]` wrapper around an `#[inline(always)]` body, or intrinsics) and reuse the
//! packing and the driver.

use std::cell::RefCell;

use super::{clip, offset, relu, scale_c_only, validate, GemmParams, PostOp};
use crate::KernelError;

/// Rows of the register tile.
const MR: usize = 6;
/// Columns of the register tile (a multiple of every target's vector width).
const NR: usize = 8;
/// Depth of one packed slice: an `NR`-wide micro-panel of `B` (`KC·NR·4` = 8 KiB) stays in L1.
const KC: usize = 256;
/// Rows of a packed block of `A` (`MC·KC·4` = 96 KiB, meant for L2). A multiple of `MR`.
const MC: usize = 96;
/// Columns of a packed panel of `B` (`KC·NC·4` = 2 MiB, meant for L3). A multiple of `NR`.
const NC: usize = 2048;

/// Packing buffers, reused across calls on one thread so a hot loop does not allocate.
struct Scratch {
    a: Vec<f32>,
    b: Vec<f32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = const { RefCell::new(Scratch { a: Vec::new(), b: Vec::new() }) };
}

/// Blocked [`super::SgemmFn`].
pub(crate) fn sgemm(
    p: &GemmParams,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
) -> Result<(), KernelError> {
    sgemm_fused(p, a, b, c, &[])
}

/// Blocked [`super::SgemmFusedFn`].
pub(crate) fn sgemm_fused(
    p: &GemmParams,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    post: &[PostOp<'_>],
) -> Result<(), KernelError> {
    validate(p, a, b, c, post)?;
    if p.m == 0 || p.n == 0 {
        return Ok(());
    }
    if p.k == 0 {
        scale_c_only(p, c, post);
        return Ok(());
    }
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => {
            let s = &mut *s;
            drive(p, a, b, c, post, &mut s.a, &mut s.b);
        }
        // Unreachable today (nothing inside `drive` re-enters GEMM); allocate rather than panic.
        Err(_) => drive(p, a, b, c, post, &mut Vec::new(), &mut Vec::new()),
    });
    Ok(())
}

/// The loop nest. `p` and `post` are validated, `m, n, k > 0`.
fn drive(
    p: &GemmParams,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    post: &[PostOp<'_>],
    apack: &mut Vec<f32>,
    bpack: &mut Vec<f32>,
) {
    for jc in (0..p.n).step_by(NC) {
        let nc = NC.min(p.n - jc);
        for pc in (0..p.k).step_by(KC) {
            let kc = KC.min(p.k - pc);
            let first = pc == 0;
            let last = pc + kc == p.k;
            pack_b(p, b, pc, kc, jc, nc, bpack);
            for ic in (0..p.m).step_by(MC) {
                let mc = MC.min(p.m - ic);
                pack_a(p, a, ic, mc, pc, kc, apack);
                for (jr, bpanel) in bpack.chunks_exact(kc * NR).enumerate() {
                    let j0 = jc + jr * NR;
                    let nr = NR.min(jc + nc - j0);
                    for (ir, apanel) in apack.chunks_exact(kc * MR).enumerate() {
                        let i0 = ic + ir * MR;
                        let mr = MR.min(ic + mc - i0);
                        let acc = micro_kernel(apanel, bpanel);
                        let tile = Tile { i0, j0, mr, nr };
                        store(p, c, acc, tile, first, if last { post } else { &[] });
                    }
                }
            }
        }
    }
}

/// `C[i0.., j0..] ← MR×NR` accumulator, of which `mr×nr` is inside `C`.
#[derive(Clone, Copy)]
struct Tile {
    i0: usize,
    j0: usize,
    mr: usize,
    nr: usize,
}

/// The register tile: `acc = Σ_l apanel[l][..MR] ⊗ bpanel[l][..NR]` over the packed depth.
#[inline(always)]
fn micro_kernel(apanel: &[f32], bpanel: &[f32]) -> [[f32; NR]; MR] {
    let mut acc = [[0.0f32; NR]; MR];
    for (ak, bk) in apanel.chunks_exact(MR).zip(bpanel.chunks_exact(NR)) {
        let (Some(ak), Some(bk)) = (ak.first_chunk::<MR>(), bk.first_chunk::<NR>()) else {
            continue; // Unreachable: chunks_exact yields exactly MR / NR elements.
        };
        for (row, &x) in acc.iter_mut().zip(ak) {
            for (acc_rj, &y) in row.iter_mut().zip(bk) {
                *acc_rj += x * y;
            }
        }
    }
    acc
}

/// Writes one tile: `alpha · acc + beta · C` on the first depth slice (`C` not read when
/// `beta == 0`), `alpha · acc + C` on later ones; `post` is non-empty only on the last slice
/// and is applied to the whole tile in registers before the single write.
#[inline(always)]
fn store(
    p: &GemmParams,
    c: &mut [f32],
    mut v: [[f32; NR]; MR],
    t: Tile,
    first: bool,
    post: &[PostOp<'_>],
) {
    let beta = if first { p.beta } else { 1.0 };
    if beta == 0.0 {
        v.as_flattened_mut().iter_mut().for_each(|x| *x *= p.alpha);
    } else {
        for (r, row) in v.iter_mut().enumerate().take(t.mr) {
            let start = offset(t.i0 + r, t.j0, p.c_row_stride, 1);
            let old = &c[start..start + t.nr];
            row.iter_mut()
                .zip(old)
                .for_each(|(x, &o)| *x = p.alpha * *x + beta * o);
        }
    }
    if !post.is_empty() {
        post_ops_on_tile(&mut v, t, post);
    }
    for (r, row) in v.iter().enumerate().take(t.mr) {
        let start = offset(t.i0 + r, t.j0, p.c_row_stride, 1);
        c[start..start + t.nr].copy_from_slice(&row[..t.nr]);
    }
}

/// [`super::apply_post_ops`] on a whole register tile (rows `>= t.mr` and columns `>= t.nr` are
/// padding and never stored): one pass per op with fixed trip counts, so each vectorises.
#[inline(always)]
fn post_ops_on_tile(v: &mut [[f32; NR]; MR], t: Tile, post: &[PostOp<'_>]) {
    for op in post {
        match *op {
            PostOp::BiasPerRow(bias) => {
                for (row, &b) in v.iter_mut().zip(&bias[t.i0..t.i0 + t.mr]) {
                    row.iter_mut().for_each(|x| *x += b);
                }
            }
            PostOp::BiasPerCol(bias) => {
                let mut b = [0.0f32; NR];
                b[..t.nr].copy_from_slice(&bias[t.j0..t.j0 + t.nr]);
                for row in v.iter_mut() {
                    row.iter_mut().zip(&b).for_each(|(x, &y)| *x += y);
                }
            }
            PostOp::Relu => v.as_flattened_mut().iter_mut().for_each(|x| *x = relu(*x)),
            PostOp::Clip { min, max } => v
                .as_flattened_mut()
                .iter_mut()
                .for_each(|x| *x = clip(*x, min, max)),
        }
    }
}

/// Packs `B[pc..pc+kc, jc..jc+nc]` as `ceil(nc/NR)` micro-panels of `kc × NR` (row `l` of a
/// micro-panel holds `NR` consecutive columns), zero-padded on the right.
fn pack_b(
    p: &GemmParams,
    b: &[f32],
    pc: usize,
    kc: usize,
    jc: usize,
    nc: usize,
    out: &mut Vec<f32>,
) {
    let panels = nc.div_ceil(NR);
    out.clear();
    out.resize(panels * kc * NR, 0.0);
    for (jp, panel) in out.chunks_exact_mut(kc * NR).enumerate() {
        let j0 = jc + jp * NR;
        let w = NR.min(jc + nc - j0);
        for (l, dst) in panel.chunks_exact_mut(NR).enumerate() {
            let start = offset(pc + l, j0, p.b_row_stride, p.b_col_stride);
            if p.b_col_stride == 1 {
                dst[..w].copy_from_slice(&b[start..start + w]);
            } else {
                for (j, d) in dst[..w].iter_mut().enumerate() {
                    *d = b[offset(pc + l, j0 + j, p.b_row_stride, p.b_col_stride)];
                }
            }
        }
    }
}

/// Packs `A[ic..ic+mc, pc..pc+kc]` as `ceil(mc/MR)` micro-panels of `kc × MR` (row `l` of a
/// micro-panel holds column `l` of `MR` consecutive rows), zero-padded at the bottom.
fn pack_a(
    p: &GemmParams,
    a: &[f32],
    ic: usize,
    mc: usize,
    pc: usize,
    kc: usize,
    out: &mut Vec<f32>,
) {
    let panels = mc.div_ceil(MR);
    out.clear();
    out.resize(panels * kc * MR, 0.0);
    for (ip, panel) in out.chunks_exact_mut(kc * MR).enumerate() {
        let i0 = ic + ip * MR;
        let h = MR.min(ic + mc - i0);
        for r in 0..h {
            let start = offset(i0 + r, pc, p.a_row_stride, p.a_col_stride);
            if p.a_col_stride == 1 {
                let src = &a[start..start + kc];
                for (dst, &x) in panel.chunks_exact_mut(MR).zip(src) {
                    dst[r] = x;
                }
            } else {
                for (l, dst) in panel.chunks_exact_mut(MR).enumerate() {
                    dst[r] = a[offset(i0 + r, pc + l, p.a_row_stride, p.a_col_stride)];
                }
            }
        }
    }
}
