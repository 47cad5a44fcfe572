//! `Lut`: one table lookup per byte.

use super::super::super::{Inputs, Outputs};
use crate::ir::ops::quant::Lut;
use crate::{bail, DType, Result};

pub(in crate::backend::cpu::ops::quant) fn lut(
    l: &Lut,
    ins: &Inputs<'_>,
    out: &mut Outputs,
) -> Result<()> {
    let x = ins.get(0)?;
    if !matches!(x.dtype, DType::U8 | DType::I8) {
        bail!(dtype, "Lut: input is {}, expected an 8-bit type", x.dtype);
    }
    let shape = x.shape.to_vec();
    let y = out.alloc_uninit(0, l.output, &shape)?;
    (mote_kernels::cpu::table().lut8)(x.bytes, &l.table, y.bytes)
        .map_err(|e| crate::Error::internal(format!("Lut: {e}")))
}
