//! The loop nest every optimised variant shares: for each block of `NC` columns, pack `B` into
//! `NR`-column panels (encoded for the micro-kernel, depth in groups of `kg`, with column sums
//! when the zero-point correction needs them), then run the micro-kernel over every
//! `MR`-row panel of the packed weights × every column panel, correct, and store.
//!
//! The whole depth is done in one pass (no `kc` slicing): the `A` panel (`MR·k` bytes) stays in
//! L1 while the `B` block (`k·NC`) sits in L2, and the `i32` accumulators never leave registers.

use std::cell::Cell;
use std::ops::Range;

use super::output::{block, QColumnBlock, RequantParams, RequantRow};
use super::pack::fill_row;
use super::{check_call, QGemm, QLayout, QOutput};
use crate::KernelError;

/// Largest `MR·NR` of any micro-kernel (the tile buffer is on the stack).
pub(crate) const MAX_TILE: usize = 8 * 32;
/// Largest `MR` of any micro-kernel.
const MAX_MR: usize = 8;

/// A register-tile micro-kernel and its packing.
pub(crate) trait QMicroKernel {
    /// How the weights must be packed (`mr`, `kg`, encoding).
    const LAYOUT: QLayout;
    /// Columns of a tile.
    const NR: usize;
    /// A packed weight value.
    type A: Copy;
    /// A packed activation value.
    type B: bytemuck::Pod + Default;
    /// The packed weight panels.
    fn weights(a: &super::PackedQWeights) -> &[Self::A];
    /// The encoding of an activation byte; `0 → Self::B::default()` must be what contributes
    /// nothing (the depth padding).
    fn encode(raw: u8, signed: bool, zero_point: i32) -> Self::B;
    /// The encoded value, for column sums.
    fn widen(b: Self::B) -> i32;
    /// The zero point in the encoded domain (what the corrections use).
    fn enc_zero_point(signed: bool, zero_point: i32) -> i32;
    /// `out[r·NR + j] = Σ_l a[l, r] · b[l, j]` over `groups` depth groups of one `MR × NR` tile.
    ///
    /// # Safety
    /// The CPU supports the variant's instruction set; `a` holds `groups·MR·kg` values and `b`
    /// `groups·NR·kg`, `out` `MR·NR`.
    unsafe fn tile(a: &[Self::A], b: &[Self::B], groups: usize, out: &mut [i32]);

    /// A full `MR × NR` tile requantised straight from the accumulators (no round trip through
    /// memory): row `i` of the tile goes to `rows[i]` (with its zero-point correction in the
    /// bias), exactly as [`super::output::requant`] would store it. `false` when the kernel
    /// has no such path: the driver then uses [`Self::tile`] and the shared epilogue.
    ///
    /// # Safety
    /// As [`Self::tile`]; `rows` holds `MR` rows, each valid for `NR` bytes.
    #[inline(always)]
    unsafe fn tile_requant(
        _a: &[Self::A],
        _b: &[Self::B],
        _groups: usize,
        _rows: &[RequantRow],
        _params: RequantParams,
    ) -> bool {
        false
    }

    /// Encodes depth group `gi` of the `B` block (row `t < valid` of the group is
    /// `raw[t·wp .. (t + 1)·wp]`; rows past `valid` are depth padding) into its place in every
    /// panel of `packed` (`[wp / NR][groups][NR][kg]`), and adds the encoded values to
    /// `col_sums` (`wp` long) when given.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn pack_group(
        raw: &mut [u8],
        wp: usize,
        valid: usize,
        signed: bool,
        zb: i32,
        groups: usize,
        gi: usize,
        packed: &mut [Self::B],
        col_sums: Option<&mut [i32]>,
    ) where
        Self: Sized,
    {
        pack_group_generic::<Self>(raw, wp, valid, signed, zb, groups, gi, packed, col_sums)
    }
}

/// [`super::QGemmFn`] for `K`, with the body `run` (the `#[target_feature]` wrapper of [`run`]).
#[inline(always)]
pub(crate) fn qgemm_with(
    g: &QGemm<'_>,
    out: QOutput<'_>,
    cols: Range<usize>,
    block_fn: super::QGemmBlockFn,
) -> Result<(), KernelError> {
    block_fn(g, block(out, g.m, g.n, cols)?)
}

/// Checks the call for `K`; `Ok(false)` when there is nothing to compute.
pub(crate) fn prepare<K: QMicroKernel>(
    g: &QGemm<'_>,
    c: &QColumnBlock<'_>,
) -> Result<bool, KernelError> {
    check_call(g, c, K::LAYOUT)?;
    Ok(g.m > 0 && !c.columns().is_empty())
}

/// The loop nest. The call and block are checked ([`prepare`]), `m > 0`, columns non-empty.
///
/// # Safety
/// The CPU supports `K`'s instruction set.
#[inline(always)]
pub(crate) unsafe fn run<K: QMicroKernel>(g: &QGemm<'_>, c: &mut QColumnBlock<'_>) {
    let (kg, nr) = (K::LAYOUT.kg, K::NR);
    if g.k == 0 {
        // Empty sums: every accumulator is 0.
        let zeros = [0i32; MAX_TILE];
        let cols = c.columns();
        for r in 0..g.m {
            for j in cols.clone().step_by(MAX_TILE) {
                c.store(r, j, &zeros[..MAX_TILE.min(cols.end - j)]);
            }
        }
        return;
    }
    let groups = g.k.div_ceil(kg);
    let za = g.a.enc_zero_points();
    let zb = K::enc_zero_point(g.b_signed, g.b_zero_point);
    // acc = Σa'b' − zb'·rowsum'[r] − za'[r]·colsum'[c] + k·za'[r]·zb' (wrapping, like the sums).
    let k = g.k as i32;
    let row_term: Vec<i32> = (0..g.m)
        .map(|r| {
            k.wrapping_mul(za[r])
                .wrapping_mul(zb)
                .wrapping_sub(zb.wrapping_mul(g.a.row_sums()[r]))
        })
        .collect();
    let need_col_sums = za.iter().any(|&z| z != 0);
    // `NC` columns of `B` per block: about 512 KiB packed, for L2.
    let bytes_per_col = (groups * kg * std::mem::size_of::<K::B>()).max(1);
    let cols = c.columns();
    // No bigger than the block needs: small calls must not zero a large buffer.
    let nc = ((512 << 10) / bytes_per_col / nr)
        .clamp(1, 64)
        .min(cols.len().div_ceil(nr))
        * nr;
    let packed_len = groups * kg * nc;
    // The buffers are taken out of the thread-local and put back rather than used inside a
    // `LocalKey::with` closure: a closure is compiled as its own function, without the
    // caller's `#[target_feature]`s, and everything inlined into it (packing, epilogue) would
    // run as baseline SSE2 code.
    let mut s = SCRATCH.with(|cell| cell.take());
    // Every element the loop reads is packed first, so stale contents do not matter.
    let words = (packed_len * std::mem::size_of::<K::B>()).div_ceil(8);
    grow(&mut s.packed, words);
    grow(&mut s.col_sums, nc);
    grow(&mut s.raw, kg * nc);
    {
        let packed = &mut bytemuck::cast_slice_mut::<u64, K::B>(&mut s.packed)[..packed_len];
        let (col_sums, raw) = (&mut s.col_sums[..nc], &mut s.raw[..kg * nc]);
        // SAFETY: the CPU supports K (our caller's contract).
        unsafe {
            drive::<K>(
                g,
                c,
                nc,
                groups,
                &row_term,
                need_col_sums,
                packed,
                col_sums,
                raw,
            )
        };
    }
    SCRATCH.with(|cell| cell.replace(s));
}

/// Packing buffers, reused across calls on one thread so a hot loop does not allocate.
/// `packed` is `u64` so that it can be viewed as any [`QMicroKernel::B`].
#[derive(Default)]
struct Scratch {
    packed: Vec<u64>,
    col_sums: Vec<i32>,
    raw: Vec<u8>,
}

thread_local! {
    static SCRATCH: Cell<Scratch> = Cell::new(Scratch::default());
}

fn grow<T: Default + Clone>(v: &mut Vec<T>, len: usize) {
    if v.len() < len {
        v.resize(len, T::default());
    }
}

/// The column blocks of [`run`], with its buffers.
///
/// # Safety
/// The CPU supports `K`'s instruction set.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn drive<K: QMicroKernel>(
    g: &QGemm<'_>,
    c: &mut QColumnBlock<'_>,
    nc: usize,
    groups: usize,
    row_term: &[i32],
    need_col_sums: bool,
    packed: &mut [K::B],
    col_sums: &mut [i32],
    raw: &mut [u8],
) {
    let (mr, kg, nr) = (K::LAYOUT.mr, K::LAYOUT.kg, K::NR);
    let a = K::weights(g.a);
    let a_panel = groups * mr * kg;
    let za = g.a.enc_zero_points();
    let cols = c.columns();
    let mut tile = [0i32; MAX_TILE];
    // Full tiles of a requantised output without column-sum corrections may be stored from
    // registers by the kernel.
    let requant = if need_col_sums {
        None
    } else {
        c.requant_params()
    };
    let mut j0 = cols.start;
    while j0 < cols.end {
        let width = nc.min(cols.end - j0);
        let panels = width.div_ceil(nr);
        let wp = panels * nr;
        pack_b::<K>(
            g,
            j0,
            width,
            wp,
            groups,
            raw,
            packed,
            col_sums,
            need_col_sums,
        );
        for (p, a_p) in a.chunks_exact(a_panel).enumerate() {
            let r0 = p * mr;
            let rows = mr.min(g.m - r0);
            for q in 0..panels {
                let b_q = &packed[q * groups * nr * kg..(q + 1) * groups * nr * kg];
                if let Some(params) = requant.filter(|_| rows == mr && (q + 1) * nr <= width) {
                    let j = j0 + q * nr;
                    let mut rr = [RequantRow {
                        dst: std::ptr::null_mut(),
                        bias: 0,
                        scale: 0.0,
                    }; MAX_MR];
                    let mut all = true;
                    for (i, x) in rr[..mr].iter_mut().enumerate() {
                        match c.requant_row(r0 + i, j, nr, row_term[r0 + i]) {
                            Some(row) => *x = row,
                            None => all = false,
                        }
                    }
                    // SAFETY: the CPU supports K (our caller's contract); the panels are as
                    // for `tile` below, and every row is valid for `nr` bytes (`requant_row`).
                    if all && unsafe { K::tile_requant(a_p, b_q, groups, &rr[..mr], params) } {
                        continue;
                    }
                }
                // SAFETY: the CPU supports K (our caller's contract); the panels have the lengths `tile`
                // needs (`a_panel`, `groups·nr·kg`) and `tile` holds `mr·nr <= MAX_TILE`.
                unsafe { K::tile(a_p, b_q, groups, &mut tile[..mr * nr]) };
                let w = nr.min(width - q * nr);
                for i in 0..rows {
                    let r = r0 + i;
                    let t = &tile[i * nr..i * nr + w];
                    let col = need_col_sums.then(|| (za[r], &col_sums[q * nr..q * nr + w]));
                    c.store_corrected(r, j0 + q * nr, t, row_term[r], col);
                }
            }
        }
        j0 += width;
    }
}

/// Packs columns `j0 .. j0 + width` of `B` into `wp / NR` panels of `[groups][NR][kg]` encoded
/// values (columns past `width` hold junk whose results are never stored; depth past `k` holds
/// zeros), and their column sums.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn pack_b<K: QMicroKernel>(
    g: &QGemm<'_>,
    j0: usize,
    width: usize,
    wp: usize,
    groups: usize,
    raw: &mut [u8],
    packed: &mut [K::B],
    col_sums: &mut [i32],
    need_col_sums: bool,
) {
    let kg = K::LAYOUT.kg;
    let (signed, zb) = (g.b_signed, g.b_zero_point);
    let raw = &mut raw[..kg * wp];
    let col_sums = &mut col_sums[..wp];
    col_sums.fill(0);
    for gi in 0..groups {
        let valid = kg.min(g.k - gi * kg);
        for (t, row) in raw.chunks_exact_mut(wp).enumerate() {
            if t < valid {
                fill_row(&g.b, gi * kg + t, j0, &mut row[..width]);
            }
        }
        let sums = need_col_sums.then_some(&mut *col_sums);
        K::pack_group(raw, wp, valid, signed, zb, groups, gi, packed, sums);
    }
}

/// The portable [`QMicroKernel::pack_group`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn pack_group_generic<K: QMicroKernel>(
    raw: &[u8],
    wp: usize,
    valid: usize,
    signed: bool,
    zb: i32,
    groups: usize,
    gi: usize,
    packed: &mut [K::B],
    col_sums: Option<&mut [i32]>,
) {
    let (kg, nr) = (K::LAYOUT.kg, K::NR);
    for q in 0..wp / nr {
        let dst = &mut packed[(q * groups + gi) * nr * kg..(q * groups + gi + 1) * nr * kg];
        for (jj, d) in dst.chunks_exact_mut(kg).enumerate() {
            let j = q * nr + jj;
            for (t, x) in d.iter_mut().enumerate() {
                *x = if t < valid {
                    K::encode(raw[t * wp + j], signed, zb)
                } else {
                    K::B::default()
                };
            }
        }
    }
    if let Some(col_sums) = col_sums {
        for row in raw.chunks_exact(wp).take(valid) {
            for (s, &x) in col_sums.iter_mut().zip(row) {
                *s += K::widen(K::encode(x, signed, zb));
            }
        }
    }
}

/// [`QMicroKernel::pack_group`] for the dot-product kernels (`kg = 4`, one byte per value):
/// four rows to one `u32` per column, each byte `^ flip` (the encoding), written so that it
/// vectorises. Column sums read the encoded bytes as `i8` when `SIGNED`, else as `u8`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn pack_group_x4<const NR: usize, const SIGNED: bool>(
    raw: &mut [u8],
    wp: usize,
    valid: usize,
    flip: u8,
    groups: usize,
    gi: usize,
    packed: &mut [u8],
    col_sums: Option<&mut [i32]>,
) {
    // Depth padding must encode to 0: the raw byte `flip` does.
    raw[valid * wp..4 * wp].fill(flip);
    let (r0, rest) = raw.split_at(wp);
    let (r1, rest) = rest.split_at(wp);
    let (r2, r3) = rest.split_at(wp);
    let mask = u32::from_ne_bytes([flip; 4]);
    for q in 0..wp / NR {
        let j = q * NR;
        let dst = &mut packed[(q * groups + gi) * NR * 4..(q * groups + gi + 1) * NR * 4];
        let (r0, r1, r2, r3) = (
            &r0[j..j + NR],
            &r1[j..j + NR],
            &r2[j..j + NR],
            &r3[j..j + NR],
        );
        for (jj, d) in dst.chunks_exact_mut(4).enumerate() {
            let v = u32::from_le_bytes([r0[jj], r1[jj], r2[jj], r3[jj]]) ^ mask;
            d.copy_from_slice(&v.to_le_bytes());
        }
    }
    if let Some(sums) = col_sums {
        let e = |x: u8| {
            if SIGNED {
                i32::from((x ^ flip) as i8)
            } else {
                i32::from(x ^ flip)
            }
        };
        for ((((s, &a), &b), &c), &d) in sums.iter_mut().zip(r0).zip(r1).zip(r2).zip(r3) {
            *s += e(a) + e(b) + e(c) + e(d);
        }
    }
}
