//! Ops that produce values from shapes: Shape, Size and ConstantOfShape (the sequences and
//! masks built from parameters, Range, EyeLike, OneHot and Trilu, are in `sequence`).

use super::ints;
use crate::backend::cpu::ops::{Inputs, Outputs};
use crate::ir::ops::shape::rules;
use crate::{Result, Tensor};

pub(super) fn shape(
    ins: &Inputs<'_>,
    out: &mut Outputs,
    start: i64,
    end: Option<i64>,
) -> Result<()> {
    let x = ins.get(0)?;
    let (b, e) = rules::shape_range(x.rank(), start, end);
    let dims: Vec<i64> = x.shape[b..e].iter().map(|&d| d as i64).collect();
    out.alloc_typed::<i64>(0, &[dims.len()])?
        .copy_from_slice(&dims);
    Ok(())
}

pub(super) fn size(ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let n = ins.get(0)?.len() as i64;
    out.alloc_typed::<i64>(0, &[])?[0] = n;
    Ok(())
}

pub(super) fn constant_of_shape(ins: &Inputs<'_>, out: &mut Outputs, value: &Tensor) -> Result<()> {
    let dims = ints(ins, 0)?
        .into_iter()
        .map(|d| rules::to_dim(d, "a ConstantOfShape dim"))
        .collect::<Result<Vec<_>>>()?;
    let y = out.alloc_uninit(0, value.dtype(), &dims)?;
    for chunk in y.bytes.chunks_exact_mut(value.dtype().size()) {
        chunk.copy_from_slice(value.bytes());
    }
    Ok(())
}
