//! `Lut`: one table lookup per byte.

use super::super::super::{Inputs, Outputs};
use crate::ir::ops::quant::{ChannelLut, Lut};
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

/// `ChannelLut`: channel `c`'s table on each of its planes (axis 1 of `[N, C, ...]`).
pub(in crate::backend::cpu::ops::quant) fn channel_lut(
    l: &ChannelLut,
    ins: &Inputs<'_>,
    out: &mut Outputs,
) -> Result<()> {
    let x = ins.get(0)?;
    if !matches!(x.dtype, DType::U8 | DType::I8) {
        bail!(
            dtype,
            "ChannelLut: input is {}, expected an 8-bit type",
            x.dtype
        );
    }
    let channels = l.tables.len();
    if x.shape.len() < 2 || x.shape[1] != channels {
        bail!(
            shape,
            "ChannelLut: input {:?} for {channels} channel tables",
            x.shape
        );
    }
    let plane: usize = x.shape[2..].iter().product();
    let shape = x.shape.to_vec();
    let y = out.alloc_uninit(0, l.output, &shape)?;
    if plane == 0 {
        return Ok(());
    }
    let lut8 = mote_kernels::cpu::table().lut8;
    for (i, (dst, src)) in y
        .bytes
        .chunks_exact_mut(plane)
        .zip(x.bytes.chunks_exact(plane))
        .enumerate()
    {
        lut8(src, &l.tables[i % channels], dst)
            .map_err(|e| crate::Error::internal(format!("ChannelLut: {e}")))?;
    }
    Ok(())
}
