//! THE ORACLE for the family: each element on its own, with exactly the `f32` operations the
//! module docs state.

use super::{centred, check_binary, check_binary_runs, check_len, check_params, mul_multiplier};
use super::{saturate, widen};
use super::{QBinaryOp, QParams};
use crate::KernelError;

/// Reference [`super::QuantizeFn`].
pub(crate) fn quantize(
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
    for (y, &x) in y.iter_mut().zip(x) {
        *y = saturate(x / scale, zero_point, signed);
    }
    Ok(())
}

/// Reference [`super::DequantizeFn`].
pub(crate) fn dequantize(
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
    for (y, &x) in y.iter_mut().zip(x) {
        *y = dq(x, q);
    }
    Ok(())
}

/// `(x − zero_point) as f32 · scale`.
#[inline(always)]
pub(crate) fn dq(x: u8, q: QParams) -> f32 {
    (widen(x, q.signed) - q.zero_point) as f32 * q.scale
}

/// `op(a, b)` in `f32`.
#[inline(always)]
pub(crate) fn apply(op: QBinaryOp, a: f32, b: f32) -> f32 {
    match op {
        QBinaryOp::Add => a + b,
        QBinaryOp::Sub => a - b,
        QBinaryOp::Mul => a * b,
        QBinaryOp::Div => a / b,
        // Operands are never NaN (an integer times a finite scale), so NaN handling does not
        // matter; of two equal zeros either may come back, and both quantize alike.
        QBinaryOp::Max => a.max(b),
        QBinaryOp::Min => a.min(b),
    }
}

/// Reference [`super::QBinaryFn`].
pub(crate) fn qbinary(
    op: QBinaryOp,
    a: &[u8],
    qa: QParams,
    b: &[u8],
    qb: QParams,
    qy: QParams,
    y: &mut [u8],
) -> Result<(), KernelError> {
    check_binary(a, qa, b, qb, qy, y)?;
    if let (QBinaryOp::Mul, Some(m)) = (op, mul_multiplier(qa, qb, qy)) {
        let (ca, cb) = (centred(qa), centred(qb));
        for (i, y) in y.iter_mut().enumerate() {
            let fa = dq(a[if a.len() == 1 { 0 } else { i }], ca);
            let fb = dq(b[if b.len() == 1 { 0 } else { i }], cb);
            *y = saturate(fa * fb * m, qy.zero_point, qy.signed);
        }
        return Ok(());
    }
    for (i, y) in y.iter_mut().enumerate() {
        let fa = dq(a[if a.len() == 1 { 0 } else { i }], qa);
        let fb = dq(b[if b.len() == 1 { 0 } else { i }], qb);
        *y = saturate(apply(op, fa, fb) / qy.scale, qy.zero_point, qy.signed);
    }
    Ok(())
}

/// Reference [`super::QBinaryRunsFn`]: the reference `qbinary` on each run.
#[allow(clippy::too_many_arguments)] // The QBinaryRunsFn arguments.
pub(crate) fn qbinary_runs(
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
    for ((a, b), y) in a.chunks_exact(run).zip(b).zip(y.chunks_exact_mut(run)) {
        qbinary(op, a, qa, std::slice::from_ref(b), qb, qy, y)?;
    }
    Ok(())
}

/// Reference [`super::RequantizeFn`].
pub(crate) fn requantize(
    x: &[u8],
    qx: QParams,
    qy: QParams,
    y: &mut [u8],
) -> Result<(), KernelError> {
    check_params("requantize x", qx)?;
    check_params("requantize y", qy)?;
    check_len("requantize y", y.len(), x.len())?;
    for (y, &x) in y.iter_mut().zip(x) {
        *y = saturate(dq(x, qx) / qy.scale, qy.zero_point, qy.signed);
    }
    Ok(())
}

/// Reference [`super::Lut8Fn`].
pub(crate) fn lut8(x: &[u8], table: &[u8; 256], y: &mut [u8]) -> Result<(), KernelError> {
    check_len("lut8 y", y.len(), x.len())?;
    for (y, &x) in y.iter_mut().zip(x) {
        *y = table[x as usize];
    }
    Ok(())
}
