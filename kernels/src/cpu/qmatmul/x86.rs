//! AVX-512 VNNI: tiles of 8 activation rows × 32 features (two panels), 16 `i32`
//! accumulators. Per group of 4 depth steps: 2 panel loads, 8 broadcasts of 4 activation
//! bytes, 16 `vpdpbusd`. The epilogue runs on the accumulators in registers and stores each
//! row's 16-feature segments with a mask at the end of the row.

use std::arch::x86_64::*;

use super::{validate, QMatMulCall, QMatMulOutput, GROUP, LANES};
use crate::KernelError;

/// Activation rows per tile.
const MR: usize = 8;

/// AVX-512 VNNI [`super::QMatMulFn`].
pub(super) fn qmatmul_vnni(g: &QMatMulCall<'_>, out: QMatMulOutput<'_>) -> Result<(), KernelError> {
    validate(g, &out)?;
    debug_assert!(crate::cpu::CpuFeatures::detect().supports(crate::cpu::Isa::Avx512Vnni));
    let (n, k) = (g.w.n, g.w.k);
    if g.rows == 0 || n == 0 {
        return Ok(());
    }
    let za = g.a_zero_point + if g.a_signed { 128 } else { 0 };
    let bias = match &out {
        QMatMulOutput::Requant { bias, .. } => *bias,
        QMatMulOutput::I32 { .. } | QMatMulOutput::F32 { .. } => &[],
    };
    // Per feature: bias + K·za'·zw'[c] − za'·Σw'[c] (wrapping, as the sums are).
    let col_term: Vec<i32> = (0..g.w.sums.len())
        .map(|c| {
            let b = bias.get(c).copied().unwrap_or(0);
            (k as i32)
                .wrapping_mul(za)
                .wrapping_mul(g.w.zero_points[c])
                .wrapping_sub(za.wrapping_mul(g.w.sums[c]))
                .wrapping_add(b)
        })
        .collect();
    let shape = Shape {
        n,
        k,
        groups: k.div_ceil(GROUP),
        row_sums: g.w.zero_points.iter().any(|&z| z != 0),
    };
    // SAFETY: reachable only through the kernel table and `variants()`, which check that
    // `CpuFeatures` supports `Isa::Avx512Vnni` (AVX-512 F/BW/VL + VNNI) first; `validate`
    // checked `A` and `Y` against `rows`, `k`, `n` and their strides; the packing is the
    // weights' own (`n`, `k`, whole panels and groups); `col_term` holds whole panels.
    unsafe {
        if g.a_signed {
            run::<true>(g, out, &shape, &col_term)
        } else {
            run::<false>(g, out, &shape, &col_term)
        }
    };
    Ok(())
}

/// The call's dimensions as the loops use them.
struct Shape {
    n: usize,
    k: usize,
    groups: usize,
    /// Some `zw'[c] != 0`: each row's `Σ a'` is needed.
    row_sums: bool,
}

/// The lanes of a 16-feature segment starting at feature `c0`.
#[inline(always)]
fn lanes(n: usize, c0: usize) -> u16 {
    let len = n - c0;
    if len >= LANES {
        u16::MAX
    } else {
        (1u16 << len) - 1
    }
}

/// # Safety
/// As [`qmatmul_vnni`]'s call of it.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn run<const FLIP: bool>(
    g: &QMatMulCall<'_>,
    mut out: QMatMulOutput<'_>,
    s: &Shape,
    col_term: &[i32],
) {
    let panels = s.n.div_ceil(LANES);
    let panel_len = s.groups * LANES * GROUP;
    for j0 in (0..g.rows).step_by(MR) {
        let mr = MR.min(g.rows - j0);
        // The tail group's 4-byte words (bytes past `k` are 0: the weights there are 0 too),
        // and the rows' sums of `a'` when zero points need them.
        let mut tail = [0u32; MR];
        let mut row_sums = [0i32; MR];
        for i in 0..mr {
            let row = &g.a[(j0 + i) * g.lda..(j0 + i) * g.lda + s.k];
            let rest = &row[s.k / GROUP * GROUP..];
            let mut word = [0u8; 4];
            for (w, &b) in word.iter_mut().zip(rest) {
                *w = if FLIP { b ^ 0x80 } else { b };
            }
            tail[i] = u32::from_le_bytes(word);
            if s.row_sums {
                row_sums[i] = row
                    .iter()
                    .map(|&b| i32::from(if FLIP { b ^ 0x80 } else { b }))
                    .sum();
            }
        }
        let rows = j0..j0 + mr;
        for p0 in (0..panels).step_by(2) {
            let two = p0 + 1 < panels;
            // SAFETY: panels `p0` (and `p0 + 1` when `two`) exist; rows `j0..j0 + mr` of `A`
            // hold `k` bytes each (validated).
            let acc = unsafe {
                let w0 = g.w.data.as_ptr().add(p0 * panel_len);
                match (mr, two) {
                    (8, true) => tile::<8, true, FLIP>(g, j0, s, w0, &tail),
                    (8, false) => tile::<8, false, FLIP>(g, j0, s, w0, &tail),
                    (m, t) => tile_short::<FLIP>(g, j0, m, t, s, w0, &tail),
                }
            };
            for h in 0..if two { 2 } else { 1 } {
                let c0 = (p0 + h) * LANES;
                for (i, j) in rows.clone().enumerate() {
                    // SAFETY: `c0` is inside the padded per-feature vectors; row `j`, features
                    // `c0..` under the mask are inside `Y` (validated).
                    unsafe { store(&mut out, s, j, c0, acc[i][h], col_term, row_sums[i], g.w) };
                }
            }
        }
    }
}

/// A full-height tile: `MR` rows × one or two panels.
///
/// # Safety
/// AVX-512 F + VNNI; `w0` points at a panel (and the next one when `TWO`); rows `j0..j0 + R`
/// of `A` hold `k` bytes each.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
unsafe fn tile<const R: usize, const TWO: bool, const FLIP: bool>(
    g: &QMatMulCall<'_>,
    j0: usize,
    s: &Shape,
    w0: *const i8,
    tail: &[u32; MR],
) -> [[__m512i; 2]; MR] {
    let panel_len = s.groups * LANES * GROUP;
    let full = s.k / GROUP;
    let mut acc = [[_mm512_setzero_si512(); 2]; MR];
    let rows: [*const u8; R] = std::array::from_fn(|i| {
        // SAFETY: row `j0 + i` starts inside `A` (the caller's contract).
        unsafe { g.a.as_ptr().add((j0 + i) * g.lda) }
    });
    let flip = if FLIP { 0x8080_8080u32 } else { 0 };
    for gi in 0..s.groups {
        // SAFETY: group `gi` of the panel(s) is 64 bytes inside the packing.
        let (b0, b1) = unsafe {
            (
                _mm512_loadu_si512(w0.add(gi * 64).cast()),
                if TWO {
                    _mm512_loadu_si512(w0.add(panel_len + gi * 64).cast())
                } else {
                    _mm512_setzero_si512()
                },
            )
        };
        for i in 0..R {
            let word = if gi < full {
                // SAFETY: bytes `4·gi .. 4·gi + 4 <= k` of row `i`.
                (unsafe { rows[i].add(gi * GROUP).cast::<u32>().read_unaligned() }) ^ flip
            } else {
                tail[i]
            };
            let a = _mm512_set1_epi32(word as i32);
            acc[i][0] = _mm512_dpbusd_epi32(acc[i][0], a, b0);
            if TWO {
                acc[i][1] = _mm512_dpbusd_epi32(acc[i][1], a, b1);
            }
        }
    }
    acc
}

/// The last rows (fewer than [`MR`]), or a last single panel of a full-height row block: one
/// row height compiled per count, without unrolling a table of every combination.
///
/// # Safety
/// As [`tile`], with `m <= MR` rows.
#[inline(never)]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn tile_short<const FLIP: bool>(
    g: &QMatMulCall<'_>,
    j0: usize,
    m: usize,
    two: bool,
    s: &Shape,
    w0: *const i8,
    tail: &[u32; MR],
) -> [[__m512i; 2]; MR] {
    // SAFETY: the caller's contract, `R = m`.
    unsafe {
        match (m, two) {
            (1, true) => tile::<1, true, FLIP>(g, j0, s, w0, tail),
            (1, false) => tile::<1, false, FLIP>(g, j0, s, w0, tail),
            (2, true) => tile::<2, true, FLIP>(g, j0, s, w0, tail),
            (2, false) => tile::<2, false, FLIP>(g, j0, s, w0, tail),
            (3, true) => tile::<3, true, FLIP>(g, j0, s, w0, tail),
            (3, false) => tile::<3, false, FLIP>(g, j0, s, w0, tail),
            (4, true) => tile::<4, true, FLIP>(g, j0, s, w0, tail),
            (4, false) => tile::<4, false, FLIP>(g, j0, s, w0, tail),
            (5, true) => tile::<5, true, FLIP>(g, j0, s, w0, tail),
            (5, false) => tile::<5, false, FLIP>(g, j0, s, w0, tail),
            (6, true) => tile::<6, true, FLIP>(g, j0, s, w0, tail),
            (6, false) => tile::<6, false, FLIP>(g, j0, s, w0, tail),
            (7, true) => tile::<7, true, FLIP>(g, j0, s, w0, tail),
            (7, false) => tile::<7, false, FLIP>(g, j0, s, w0, tail),
            (_, true) => tile::<8, true, FLIP>(g, j0, s, w0, tail),
            (_, false) => tile::<8, false, FLIP>(g, j0, s, w0, tail),
        }
    }
}

/// Row `j`, features `c0 .. c0 + 16` (masked at `n`) of the output from its accumulator.
///
/// # Safety
/// AVX-512 F/BW/VL; `c0 < n` is a panel start; row `j` of `Y` holds `n` elements.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
#[inline]
#[allow(clippy::too_many_arguments)]
unsafe fn store(
    out: &mut QMatMulOutput<'_>,
    s: &Shape,
    j: usize,
    c0: usize,
    acc: __m512i,
    col_term: &[i32],
    row_sum: i32,
    w: &super::PackedQMatMulWeights,
) {
    let mask = lanes(s.n, c0);
    // SAFETY: the per-feature vectors hold whole panels.
    let mut v = _mm512_add_epi32(acc, unsafe {
        _mm512_loadu_si512(col_term.as_ptr().add(c0).cast())
    });
    if s.row_sums {
        // SAFETY: as above.
        let zw = unsafe { _mm512_loadu_si512(w.zero_points.as_ptr().add(c0).cast()) };
        v = _mm512_sub_epi32(v, _mm512_mullo_epi32(zw, _mm512_set1_epi32(row_sum)));
    }
    match out {
        QMatMulOutput::I32 { y, ldy } => {
            // SAFETY: the masked lanes are features `c0..n` of row `j`, inside `Y`.
            unsafe { _mm512_mask_storeu_epi32(y.as_mut_ptr().add(j * *ldy + c0).cast(), mask, v) }
        }
        QMatMulOutput::F32 { y, ldy, scale } => {
            const RN: i32 = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
            // SAFETY: masked-off lanes of `scale` (past `n`) are not read.
            let sc = unsafe { _mm512_maskz_loadu_ps(mask, scale.as_ptr().add(c0)) };
            // As `acc as f32 * scale`: both steps rounded to nearest even.
            let f = _mm512_mul_round_ps::<RN>(_mm512_cvt_roundepi32_ps::<RN>(v), sc);
            // SAFETY: the masked lanes are features `c0..n` of row `j`, inside `Y`.
            unsafe { _mm512_mask_storeu_ps(y.as_mut_ptr().add(j * *ldy + c0), mask, f) }
        }
        QMatMulOutput::Requant {
            y,
            ldy,
            scale,
            zero_point,
            lo,
            hi,
            ..
        } => {
            // As `qgemm::requant`: conversion and one `f32` product rounded to nearest even
            // (explicitly, whatever MXCSR says), clamped to ±65536, rounded to nearest even,
            // plus the zero point, clamped to the range.
            const RN: i32 = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
            // SAFETY: masked-off lanes of `scale` (past `n`) are not read.
            let sc = unsafe { _mm512_maskz_loadu_ps(mask, scale.as_ptr().add(c0)) };
            let f = _mm512_mul_round_ps::<RN>(_mm512_cvt_roundepi32_ps::<RN>(v), sc);
            let f = _mm512_min_ps(
                _mm512_max_ps(f, _mm512_set1_ps(-65536.0)),
                _mm512_set1_ps(65536.0),
            );
            let q = _mm512_add_epi32(
                _mm512_cvt_roundps_epi32::<RN>(f),
                _mm512_set1_epi32(*zero_point),
            );
            let q = _mm512_min_epi32(
                _mm512_max_epi32(q, _mm512_set1_epi32(*lo)),
                _mm512_set1_epi32(*hi),
            );
            // SAFETY: the masked lanes are features `c0..n` of row `j`, inside `Y`.
            unsafe {
                _mm_mask_storeu_epi8(
                    y.as_mut_ptr().add(j * *ldy + c0).cast(),
                    mask,
                    _mm512_cvtepi32_epi8(q),
                )
            }
        }
    }
}
