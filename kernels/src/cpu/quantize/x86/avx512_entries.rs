//! The AVX-512 BW entry points of the family, and the AVX-512 VBMI table lookup (feature
//! `avx512`).

use std::arch::x86_64::*;

use super::avx512;
use crate::cpu::quantize::{check_len, qbinary_by_table, reference, requantize_by_table};
use crate::cpu::quantize::{QBinaryOp, QParams, QuantizeKernels};
use crate::cpu::{CpuFeatures, Isa};
use crate::KernelError;

/// AVX-512 BW entry points (the table lookup is the reference's).
pub(crate) const AVX512: QuantizeKernels = QuantizeKernels {
    quantize: avx512::quantize,
    dequantize: avx512::dequantize,
    qbinary: avx512::qbinary,
    qbinary_runs: avx512::qbinary_runs,
    requantize: avx512::requantize,
    lut8: reference::lut8,
};

/// AVX-512 BW entry points with the VBMI table lookup (also for the functions of one byte on
/// long slices).
pub(crate) const AVX512_VBMI: QuantizeKernels = QuantizeKernels {
    quantize: avx512::quantize,
    dequantize: avx512::dequantize,
    qbinary: qbinary_vbmi,
    qbinary_runs: avx512::qbinary_runs,
    requantize: requantize_vbmi,
    lut8: lut8_vbmi,
};

/// [`super::RequantizeFn`]: AVX-512 body, through a VBMI lookup on long slices.
fn requantize_vbmi(x: &[u8], qx: QParams, qy: QParams, y: &mut [u8]) -> Result<(), KernelError> {
    requantize_by_table(avx512::requantize, lut8_vbmi, x, qx, qy, y)
}

/// [`super::QBinaryFn`]: AVX-512 body, through a VBMI lookup on long slices with one repeated
/// operand.
fn qbinary_vbmi(
    op: QBinaryOp,
    a: &[u8],
    qa: QParams,
    b: &[u8],
    qb: QParams,
    qy: QParams,
    y: &mut [u8],
) -> Result<(), KernelError> {
    qbinary_by_table(avx512::qbinary, lut8_vbmi, op, a, qa, b, qb, qy, y)
}

/// [`super::Lut8Fn`] with `vpermi2b`: each 64-byte block looks up both 128-byte halves of the
/// table by the index's low 7 bits, and bit 7 picks the half.
fn lut8_vbmi(x: &[u8], table: &[u8; 256], y: &mut [u8]) -> Result<(), KernelError> {
    check_len("lut8 y", y.len(), x.len())?;
    if !CpuFeatures::detect().supports(Isa::Avx512Vbmi) {
        return Err(KernelError::unsupported(
            "quantize_u8_avx512vbmi: this CPU lacks Avx512Vbmi",
        ));
    }
    // SAFETY: the CPU supports Isa::Avx512Vbmi (checked just above); lengths are equal.
    unsafe { lut8_vbmi_run(x, table, y) };
    Ok(())
}

#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
unsafe fn lut8_vbmi_run(x: &[u8], table: &[u8; 256], y: &mut [u8]) {
    // SAFETY: AVX-512 F/BW/VBMI per this function's features; the table is 256 bytes (four
    // 64-byte loads); full blocks lie inside `x`/`y` (equal lengths), the tail is masked.
    unsafe {
        let t = table.as_ptr();
        let (t0, t1) = (
            _mm512_loadu_si512(t.cast()),
            _mm512_loadu_si512(t.add(64).cast()),
        );
        let (t2, t3) = (
            _mm512_loadu_si512(t.add(128).cast()),
            _mm512_loadu_si512(t.add(192).cast()),
        );
        let t = [t0, t1, t2, t3];
        let (n, full) = (x.len(), x.len() / 64 * 64);
        let (xp, yp) = (x.as_ptr(), y.as_mut_ptr());
        let mut i = 0;
        while i < full {
            let v = look(&t, _mm512_loadu_si512(xp.add(i).cast()));
            _mm512_storeu_si512(yp.add(i).cast(), v);
            i += 64;
        }
        if full < n {
            let mask: __mmask64 = (1u64 << (n - full)) - 1;
            let v = look(&t, _mm512_maskz_loadu_epi8(mask, xp.add(full).cast()));
            _mm512_mask_storeu_epi8(yp.add(full).cast(), mask, v);
        }
    }
}

/// `table[idx]` per byte, the table in four 64-byte quarters (a function, not a closure, so
/// it inlines into its `#[target_feature]` caller with the intrinsics).
///
/// # Safety
///
/// AVX-512 F/BW/VBMI are available.
#[inline(always)]
unsafe fn look(t: &[__m512i; 4], idx: __m512i) -> __m512i {
    // SAFETY: the ISA per the caller; no memory is touched.
    unsafe {
        let low = _mm512_permutex2var_epi8(t[0], idx, t[1]);
        let high = _mm512_permutex2var_epi8(t[2], idx, t[3]);
        _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), low, high)
    }
}
