//! x86_64 micro-kernels: AVX-512 VNNI and AVX-VNNI (`vpdpbusd`), AVX2 (`vpmaddwd`).

use std::arch::x86_64::*;
use std::ops::Range;

use super::driver::{pack_group_x4, prepare, qgemm_with, run, QMicroKernel};
use super::output::{QColumnBlock, RequantParams, RequantRow};
use super::pack::AEnc;
use super::{PackedQWeights, QGemm, QGemmKernels, QLayout, QOutput};
use crate::cpu::{CpuFeatures, Isa};
use crate::KernelError;

/// `8 × 32` tile of `vpdpbusd`: weights are the `s8` side (4 depth values of one row broadcast
/// as one `i32`), activations the `u8` side (`i8` ones flipped by `^ 0x80`, i.e. `+ 128`).
///
/// Why `8×32`: per group of 4 depth steps, 2 loads of `B` and 8 broadcasts of `A` feed 16
/// `vpdpbusd` into 16 independent accumulators (enough to cover the latency on both ports).
pub(crate) struct Vnni8x32;

impl QMicroKernel for Vnni8x32 {
    const LAYOUT: QLayout = QLayout {
        mr: 8,
        kg: 4,
        enc: AEnc::S8,
    };
    const NR: usize = 32;
    type A = i8;
    type B = u8;

    fn weights(a: &PackedQWeights) -> &[i8] {
        a.bytes()
    }

    #[inline(always)]
    fn encode(raw: u8, signed: bool, _zero_point: i32) -> u8 {
        if signed {
            raw ^ 0x80
        } else {
            raw
        }
    }

    #[inline(always)]
    fn widen(b: u8) -> i32 {
        i32::from(b)
    }

    fn enc_zero_point(signed: bool, zero_point: i32) -> i32 {
        if signed {
            zero_point + 128
        } else {
            zero_point
        }
    }

    #[inline(always)]
    unsafe fn tile(a: &[i8], b: &[u8], groups: usize, out: &mut [i32]) {
        debug_assert!(a.len() >= groups * 32 && b.len() >= groups * 128 && out.len() >= 256);
        // SAFETY: lengths and CPU support are the caller's contract.
        unsafe { vnni_tile(a.as_ptr(), b.as_ptr(), groups, out.as_mut_ptr()) }
    }

    #[inline(always)]
    unsafe fn tile_requant(
        a: &[i8],
        b: &[u8],
        groups: usize,
        rows: &[RequantRow],
        params: RequantParams,
    ) -> bool {
        debug_assert!(a.len() >= groups * 32 && b.len() >= groups * 128 && rows.len() == 8);
        // SAFETY: lengths, destinations and CPU support are the caller's contract.
        unsafe { vnni_tile_requant(a.as_ptr(), b.as_ptr(), groups, rows.as_ptr(), params) };
        true
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
        let flip = if signed { 0x80 } else { 0 };
        pack_group_x4::<{ Self::NR }, false>(raw, wp, valid, flip, groups, gi, packed, col_sums)
    }
}

/// The accumulators of one `8 × 32` tile: `acc[r][h]` holds columns `16h .. 16h + 16` of row `r`.
///
/// # Safety
/// The CPU supports AVX-512 F/BW/VNNI; `a` holds `groups·32` values, `b` `groups·128`.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline]
unsafe fn vnni_acc(a: *const i8, b: *const u8, groups: usize) -> [[__m512i; 2]; 8] {
    let mut acc = [[_mm512_setzero_si512(); 2]; 8];
    for gi in 0..groups {
        // SAFETY: `gi < groups`: `b + gi·128 .. + 128` and `a + gi·32 .. + 32` are inside the
        // panels (caller's contract).
        unsafe {
            let bp = b.add(gi * 128);
            let b0 = _mm512_loadu_si512(bp.cast());
            let b1 = _mm512_loadu_si512(bp.add(64).cast());
            let ap = a.add(gi * 32);
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let av = _mm512_set1_epi32(ap.add(r * 4).cast::<i32>().read_unaligned());
                acc_r[0] = _mm512_dpbusd_epi32(acc_r[0], b0, av);
                acc_r[1] = _mm512_dpbusd_epi32(acc_r[1], b1, av);
            }
        }
    }
    acc
}

#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn vnni_tile(a: *const i8, b: *const u8, groups: usize, out: *mut i32) {
    // SAFETY: the features are enabled here; lengths are the caller's contract.
    let acc = unsafe { vnni_acc(a, b, groups) };
    for (r, acc_r) in acc.iter().enumerate() {
        // SAFETY: `out` holds 8·32 values (caller's contract).
        unsafe {
            _mm512_storeu_si512(out.add(r * 32).cast(), acc_r[0]);
            _mm512_storeu_si512(out.add(r * 32 + 16).cast(), acc_r[1]);
        }
    }
}

/// [`vnni_tile`] requantised from the registers into `rows` (8 rows of 32 bytes), step by step
/// as `output::requant`: `i32` add (wrapping), conversion and product rounded to nearest even
/// (explicitly, whatever MXCSR says; `requant` assumes the default mode), clamp, rounding to
/// nearest even, zero point, low byte: the same bytes as `output::requant`.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn vnni_tile_requant(
    a: *const i8,
    b: *const u8,
    groups: usize,
    rows: *const RequantRow,
    p: RequantParams,
) {
    const RN: i32 = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
    // SAFETY: the features are enabled here; lengths are the caller's contract.
    let acc = unsafe { vnni_acc(a, b, groups) };
    let zp = _mm512_set1_epi32(p.zero_point);
    // Clamping the float to `[lo − zp, hi − zp]` before rounding gives the integers the
    // reference's clamp to ±65536, rounding, `+ zp` and clamp to `[lo, hi]` give (rounding is
    // monotonic, the bounds are integers within ±383), with two fewer operations per vector.
    let (min, max) = (
        _mm512_set1_ps((p.lo - p.zero_point) as f32),
        _mm512_set1_ps((p.hi - p.zero_point) as f32),
    );
    for (r, acc_r) in acc.iter().enumerate() {
        // SAFETY: `rows` holds 8 rows (caller's contract).
        let row = unsafe { rows.add(r).read() };
        let (bias, scale) = (_mm512_set1_epi32(row.bias), _mm512_set1_ps(row.scale));
        for (h, &x) in acc_r.iter().enumerate() {
            let v = _mm512_cvt_roundepi32_ps::<RN>(_mm512_add_epi32(x, bias));
            let v = _mm512_mul_round_ps::<RN>(v, scale);
            let v = _mm512_min_ps(_mm512_max_ps(v, min), max);
            let q = _mm512_add_epi32(_mm512_cvt_roundps_epi32::<RN>(v), zp);
            // SAFETY: each row is valid for 32 bytes (caller's contract).
            unsafe { _mm_storeu_si128(row.dst.add(16 * h).cast(), _mm512_cvtepi32_epi8(q)) };
        }
    }
}

/// `6 × 16` tile of the 256-bit (VEX) `vpdpbusd` of AVX-VNNI, for CPUs without AVX-512: the
/// same encoding and corrections as [`Vnni8x32`]; 12 accumulators, 2 loads of `B` and a
/// broadcast fill the 16 `ymm` registers.
pub(crate) struct AvxVnni6x16;

impl QMicroKernel for AvxVnni6x16 {
    const LAYOUT: QLayout = QLayout {
        mr: 6,
        kg: 4,
        enc: AEnc::S8,
    };
    const NR: usize = 16;
    type A = i8;
    type B = u8;

    fn weights(a: &PackedQWeights) -> &[i8] {
        a.bytes()
    }

    #[inline(always)]
    fn encode(raw: u8, signed: bool, zero_point: i32) -> u8 {
        Vnni8x32::encode(raw, signed, zero_point)
    }

    #[inline(always)]
    fn widen(b: u8) -> i32 {
        i32::from(b)
    }

    fn enc_zero_point(signed: bool, zero_point: i32) -> i32 {
        Vnni8x32::enc_zero_point(signed, zero_point)
    }

    #[inline(always)]
    unsafe fn tile(a: &[i8], b: &[u8], groups: usize, out: &mut [i32]) {
        debug_assert!(a.len() >= groups * 24 && b.len() >= groups * 64 && out.len() >= 96);
        // SAFETY: lengths and CPU support are the caller's contract.
        unsafe { avxvnni_tile(a.as_ptr(), b.as_ptr(), groups, out.as_mut_ptr()) }
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
        let flip = if signed { 0x80 } else { 0 };
        pack_group_x4::<{ Self::NR }, false>(raw, wp, valid, flip, groups, gi, packed, col_sums)
    }
}

#[target_feature(enable = "avx2,avxvnni")]
unsafe fn avxvnni_tile(a: *const i8, b: *const u8, groups: usize, out: *mut i32) {
    let mut acc = [[_mm256_setzero_si256(); 2]; 6];
    for gi in 0..groups {
        // SAFETY: `gi < groups`: `b + gi·64 .. + 64` and `a + gi·24 .. + 24` are inside the
        // panels (caller's contract).
        unsafe {
            let bp = b.add(gi * 64);
            let b0 = _mm256_loadu_si256(bp.cast());
            let b1 = _mm256_loadu_si256(bp.add(32).cast());
            let ap = a.add(gi * 24);
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let av = _mm256_set1_epi32(ap.add(r * 4).cast::<i32>().read_unaligned());
                acc_r[0] = _mm256_dpbusd_avx_epi32(acc_r[0], b0, av);
                acc_r[1] = _mm256_dpbusd_avx_epi32(acc_r[1], b1, av);
            }
        }
    }
    for (r, acc_r) in acc.iter().enumerate() {
        // SAFETY: `out` holds 6·16 values (caller's contract).
        unsafe {
            _mm256_storeu_si256(out.add(r * 16).cast(), acc_r[0]);
            _mm256_storeu_si256(out.add(r * 16 + 8).cast(), acc_r[1]);
        }
    }
}

/// `6 × 16` tile of `vpmaddwd` on `i16` operands with the zero points subtracted (`|x| <= 255`,
/// so each pair's sum, `<= 2·255²`, is exact; `vpmaddubsw` would saturate on raw bytes).
pub(crate) struct Avx2x6x16;

impl QMicroKernel for Avx2x6x16 {
    const LAYOUT: QLayout = QLayout {
        mr: 6,
        kg: 2,
        enc: AEnc::I16,
    };
    const NR: usize = 16;
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
        debug_assert!(a.len() >= groups * 12 && b.len() >= groups * 32 && out.len() >= 96);
        // SAFETY: lengths and CPU support are the caller's contract.
        unsafe { avx2_tile(a.as_ptr(), b.as_ptr(), groups, out.as_mut_ptr()) }
    }
}

#[target_feature(enable = "avx2")]
unsafe fn avx2_tile(a: *const i16, b: *const i16, groups: usize, out: *mut i32) {
    let mut acc = [[_mm256_setzero_si256(); 2]; 6];
    for gi in 0..groups {
        // SAFETY: `gi < groups`: `b + gi·32 .. + 32` and `a + gi·12 .. + 12` are inside the
        // panels (caller's contract).
        unsafe {
            let bp = b.add(gi * 32);
            let b0 = _mm256_loadu_si256(bp.cast());
            let b1 = _mm256_loadu_si256(bp.add(16).cast());
            let ap = a.add(gi * 12);
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let av = _mm256_set1_epi32(ap.add(r * 2).cast::<i32>().read_unaligned());
                acc_r[0] = _mm256_add_epi32(acc_r[0], _mm256_madd_epi16(b0, av));
                acc_r[1] = _mm256_add_epi32(acc_r[1], _mm256_madd_epi16(b1, av));
            }
        }
    }
    for (r, acc_r) in acc.iter().enumerate() {
        // SAFETY: `out` holds 6·16 values (caller's contract).
        unsafe {
            _mm256_storeu_si256(out.add(r * 16).cast(), acc_r[0]);
            _mm256_storeu_si256(out.add(r * 16 + 8).cast(), acc_r[1]);
        }
    }
}

/// The VNNI variant's entry points.
#[cfg(feature = "avx512")]
pub(crate) const VNNI: QGemmKernels = QGemmKernels {
    qgemm: qgemm_vnni,
    qgemm_block: qgemm_block_vnni,
    layout: Vnni8x32::LAYOUT,
};

/// The AVX2 variant's entry points.
pub(crate) const AVX2: QGemmKernels = QGemmKernels {
    qgemm: qgemm_avx2,
    qgemm_block: qgemm_block_avx2,
    layout: Avx2x6x16::LAYOUT,
};

#[cfg(feature = "avx512")]
fn qgemm_vnni(g: &QGemm<'_>, out: QOutput<'_>, cols: Range<usize>) -> Result<(), KernelError> {
    qgemm_with(g, out, cols, qgemm_block_vnni)
}

#[cfg(feature = "avx512")]
fn qgemm_block_vnni(g: &QGemm<'_>, mut c: QColumnBlock<'_>) -> Result<(), KernelError> {
    if prepare::<Vnni8x32>(g, &c)? {
        debug_assert!(CpuFeatures::detect().supports(Isa::Avx512Vnni));
        // SAFETY: reachable only through the kernel table and `variants()`, which hand it out
        // (or run it, in tests and benches) only where `CpuFeatures` supports
        // `Isa::Avx512Vnni`, i.e. every feature enabled below.
        unsafe { run_vnni(g, &mut c) };
    }
    Ok(())
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")]
#[cfg(feature = "avx512")]
unsafe fn run_vnni(g: &QGemm<'_>, c: &mut QColumnBlock<'_>) {
    // SAFETY: the features are enabled here, and the caller checked the CPU.
    unsafe { run::<Vnni8x32>(g, c) }
}

fn qgemm_avx2(g: &QGemm<'_>, out: QOutput<'_>, cols: Range<usize>) -> Result<(), KernelError> {
    qgemm_with(g, out, cols, qgemm_block_avx2)
}

fn qgemm_block_avx2(g: &QGemm<'_>, mut c: QColumnBlock<'_>) -> Result<(), KernelError> {
    if prepare::<Avx2x6x16>(g, &c)? {
        debug_assert!(CpuFeatures::detect().supports(Isa::Avx2));
        // SAFETY: reachable only through the kernel table and `variants()`, which check that
        // `CpuFeatures` supports `Isa::Avx2` (AVX2 + FMA) first.
        unsafe { run_avx2(g, &mut c) };
    }
    Ok(())
}

#[target_feature(enable = "avx2,fma")]
unsafe fn run_avx2(g: &QGemm<'_>, c: &mut QColumnBlock<'_>) {
    // SAFETY: the features are enabled here, and the caller checked the CPU.
    unsafe { run::<Avx2x6x16>(g, c) }
}

/// The AVX-VNNI variant's entry points.
pub(crate) const AVXVNNI: QGemmKernels = QGemmKernels {
    qgemm: qgemm_avxvnni,
    qgemm_block: qgemm_block_avxvnni,
    layout: AvxVnni6x16::LAYOUT,
};

fn qgemm_avxvnni(g: &QGemm<'_>, out: QOutput<'_>, cols: Range<usize>) -> Result<(), KernelError> {
    qgemm_with(g, out, cols, qgemm_block_avxvnni)
}

fn qgemm_block_avxvnni(g: &QGemm<'_>, mut c: QColumnBlock<'_>) -> Result<(), KernelError> {
    if prepare::<AvxVnni6x16>(g, &c)? {
        debug_assert!(CpuFeatures::detect().supports(Isa::AvxVnni));
        // SAFETY: reachable only through the kernel table and `variants()`, which check that
        // `CpuFeatures` supports `Isa::AvxVnni` (AVX2 + FMA + AVX-VNNI) first.
        unsafe { run_avxvnni(g, &mut c) };
    }
    Ok(())
}

#[target_feature(enable = "avx2,fma,avxvnni")]
unsafe fn run_avxvnni(g: &QGemm<'_>, c: &mut QColumnBlock<'_>) {
    // SAFETY: the features are enabled here, and the caller checked the CPU.
    unsafe { run::<AvxVnni6x16>(g, c) }
}
