//! `QSoftmax`: softmax over the last axis of 8-bit rows, `e^x` from a 256-entry table made
//! at load time (`Prepared::QSoftmax`).

use super::super::super::{Inputs, Outputs};
use super::{bytes_of, kernel_error};
use crate::backend::cpu::prepare::Prepared;
use crate::ir::ops::quant::QSoftmax;
use crate::{bail, Result};
use mote_kernels::cpu::softmax::quantized::{qsoftmax as kernel, QSoftmaxParams, QSoftmaxTable};

/// The exp table of `q`'s input quantization.
pub(crate) fn table(q: &QSoftmax) -> Result<QSoftmaxTable> {
    QSoftmaxTable::new(q.x.scale).map_err(|e| kernel_error("QSoftmax", e))
}

pub(in crate::backend::cpu::ops::quant) fn qsoftmax(
    q: &QSoftmax,
    ins: &Inputs<'_>,
    out: &mut Outputs,
) -> Result<()> {
    let x = ins.get(0)?;
    let bytes = bytes_of("QSoftmax", &x, q.x)?;
    let Some(&row_len) = x.shape.last() else {
        bail!(shape, "QSoftmax: scalar input");
    };
    let y = out.alloc_uninit(0, q.y.dtype(), x.shape)?;
    if y.bytes.is_empty() {
        return Ok(());
    }
    let fresh;
    let table = match ins.prepared() {
        Some(Prepared::QSoftmax(t)) => t,
        _ => {
            fresh = table(q)?;
            &fresh
        }
    };
    let params = QSoftmaxParams {
        row_len,
        x_signed: q.x.signed,
        y_scale: q.y.scale,
        y_zero_point: q.y.zero_point,
        y_signed: q.y.signed,
    };
    kernel(&params, table, bytes, y.bytes).map_err(|e| kernel_error("QSoftmax", e))
}
