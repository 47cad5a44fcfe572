//! The family's bodies on NEON (4 lanes) and the NEON `tbl` table lookup.

use std::arch::aarch64::*;

use super::{body, check_binary, check_binary_runs, check_len, check_params};
use super::{qbinary_by_table, requantize_by_table};
use super::{QBinaryOp, QParams, QuantizeKernels};
use crate::cpu::{CpuFeatures, Isa};
use crate::KernelError;

/// The entry points; the functions of one byte go through a `tbl` lookup on long slices.
pub(crate) const KERNELS: QuantizeKernels = QuantizeKernels {
    quantize,
    dequantize,
    qbinary: qbinary_table,
    qbinary_runs,
    requantize: requantize_table,
    lut8,
};

fn requantize_table(x: &[u8], qx: QParams, qy: QParams, y: &mut [u8]) -> Result<(), KernelError> {
    requantize_by_table(requantize, lut8, x, qx, qy, y)
}

fn qbinary_table(
    op: QBinaryOp,
    a: &[u8],
    qa: QParams,
    b: &[u8],
    qb: QParams,
    qy: QParams,
    y: &mut [u8],
) -> Result<(), KernelError> {
    qbinary_by_table(qbinary, lut8, op, a, qa, b, qb, qy, y)
}

fn cpu() -> Result<(), KernelError> {
    if CpuFeatures::detect().supports(Isa::Neon) {
        Ok(())
    } else {
        Err(KernelError::unsupported(
            "quantize_u8_neon: this CPU lacks Neon",
        ))
    }
}

fn quantize(
    x: &[f32],
    scale: f32,
    zero_point: i32,
    signed: bool,
    y: &mut [u8],
) -> Result<(), KernelError> {
    let q = QParams {
        scale,
        zero_point,
        signed,
    };
    check_params("quantize", q)?;
    check_len("quantize y", y.len(), x.len())?;
    cpu()?;
    // SAFETY: NEON is available (`cpu` above); the call was validated.
    unsafe { body::quantize::<float32x4_t>(x, scale, zero_point, signed, y) };
    Ok(())
}

fn dequantize(
    x: &[u8],
    signed: bool,
    scale: f32,
    zero_point: i32,
    y: &mut [f32],
) -> Result<(), KernelError> {
    let q = QParams {
        scale,
        zero_point,
        signed,
    };
    check_params("dequantize", q)?;
    check_len("dequantize y", y.len(), x.len())?;
    cpu()?;
    // SAFETY: as in `quantize`.
    unsafe { body::dequantize::<float32x4_t>(x, signed, scale, zero_point, y) };
    Ok(())
}

fn qbinary(
    op: QBinaryOp,
    a: &[u8],
    qa: QParams,
    b: &[u8],
    qb: QParams,
    qy: QParams,
    y: &mut [u8],
) -> Result<(), KernelError> {
    check_binary(a, qa, b, qb, qy, y)?;
    cpu()?;
    // SAFETY: as in `quantize`.
    unsafe { body::qbinary::<float32x4_t>(op, a, qa, b, qb, qy, y) };
    Ok(())
}

#[allow(clippy::too_many_arguments)] // The QBinaryRunsFn arguments.
fn qbinary_runs(
    op: QBinaryOp,
    a: &[u8],
    qa: QParams,
    b: &[u8],
    qb: QParams,
    qy: QParams,
    y: &mut [u8],
    run: usize,
) -> Result<(), KernelError> {
    check_binary_runs(a, qa, b, qb, qy, y, run)?;
    cpu()?;
    // SAFETY: as in `quantize`.
    unsafe { body::qbinary_runs::<float32x4_t>(op, a, qa, b, qb, qy, y, run) };
    Ok(())
}

fn requantize(x: &[u8], qx: QParams, qy: QParams, y: &mut [u8]) -> Result<(), KernelError> {
    check_params("requantize x", qx)?;
    check_params("requantize y", qy)?;
    check_len("requantize y", y.len(), x.len())?;
    cpu()?;
    // SAFETY: as in `quantize`.
    unsafe { body::requantize::<float32x4_t>(x, qx, qy, y) };
    Ok(())
}

/// [`super::Lut8Fn`] with `tbl` over the four 64-byte quarters of the table: an index outside
/// a quarter's 0..64 (after subtracting its start, wrapping) reads 0, so OR-ing the four
/// lookups gives the entry.
fn lut8(x: &[u8], table: &[u8; 256], y: &mut [u8]) -> Result<(), KernelError> {
    check_len("lut8 y", y.len(), x.len())?;
    cpu()?;
    // SAFETY: NEON is available; the table is 256 bytes (four 64-byte loads); full blocks lie
    // inside `x`/`y` (equal lengths), the tail goes through a stack buffer.
    unsafe {
        let t = table.as_ptr();
        let q = [
            vld1q_u8_x4(t),
            vld1q_u8_x4(t.add(64)),
            vld1q_u8_x4(t.add(128)),
            vld1q_u8_x4(t.add(192)),
        ];
        let (n, full) = (x.len(), x.len() / 16 * 16);
        let mut i = 0;
        while i < full {
            vst1q_u8(y.as_mut_ptr().add(i), look(&q, vld1q_u8(x.as_ptr().add(i))));
            i += 16;
        }
        if full < n {
            let (mut xb, mut yb) = ([0u8; 16], [0u8; 16]);
            xb[..n - full].copy_from_slice(&x[full..]);
            vst1q_u8(yb.as_mut_ptr(), look(&q, vld1q_u8(xb.as_ptr())));
            y[full..].copy_from_slice(&yb[..n - full]);
        }
    }
    Ok(())
}

/// `table[idx]` per byte.
///
/// # Safety
///
/// NEON is available.
#[inline(always)]
unsafe fn look(q: &[uint8x16x4_t; 4], idx: uint8x16_t) -> uint8x16_t {
    // SAFETY: NEON per the caller; no memory is touched.
    unsafe {
        let r0 = vqtbl4q_u8(q[0], idx);
        let r1 = vqtbl4q_u8(q[1], vsubq_u8(idx, vdupq_n_u8(64)));
        let r2 = vqtbl4q_u8(q[2], vsubq_u8(idx, vdupq_n_u8(128)));
        let r3 = vqtbl4q_u8(q[3], vsubq_u8(idx, vdupq_n_u8(192)));
        vorrq_u8(vorrq_u8(r0, r1), vorrq_u8(r2, r3))
    }
}
