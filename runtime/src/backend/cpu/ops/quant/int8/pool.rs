//! `QGlobalAveragePool`: exact `i32` sums per plane, one rounding.

use super::super::super::{Inputs, Outputs};
use super::{bytes_of, quantize};
use crate::ir::ops::quant::QGlobalAveragePool;
use crate::{bail, Result};

pub(in crate::backend::cpu::ops::quant) fn qglobal_average_pool(
    q: &QGlobalAveragePool,
    ins: &Inputs<'_>,
    out: &mut Outputs,
) -> Result<()> {
    let x = ins.get(0)?;
    let bytes = bytes_of("QGlobalAveragePool", &x, q.x)?;
    if x.shape.len() < 3 {
        bail!(
            shape,
            "QGlobalAveragePool: input {:?} has no spatial axes",
            x.shape
        );
    }
    let plane: usize = x.shape[2..].iter().product();
    let mut shape = x.shape.to_vec();
    shape[2..].iter_mut().for_each(|d| *d = 1);
    let y = out.alloc_uninit(0, q.y.dtype(), &shape)?;
    if plane == 0 {
        bail!(
            shape,
            "QGlobalAveragePool: empty spatial axes {:?}",
            x.shape
        );
    }
    for (o, p) in y.bytes.iter_mut().zip(bytes.chunks_exact(plane)) {
        let sum: i64 = if q.x.signed {
            p.iter().map(|&b| b as i8 as i64).sum()
        } else {
            p.iter().map(|&b| b as i64).sum()
        };
        let centered = sum - plane as i64 * q.x.zero_point as i64;
        let mean = (centered as f64 * q.x.scale as f64 / plane as f64) as f32;
        *o = quantize(mean, q.y);
    }
    Ok(())
}
