//! `QGlobalAveragePool`: exact `i32` sums per plane, one rounding.

use super::super::super::{Inputs, Outputs};
use super::{bytes_of, kernel_error};
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
    // Exact sums of all planes in one kernel call, then the means, then one vectorized
    // quantization of them all (a scalar rounding per channel costs a library call on
    // baseline x86-64).
    let mut sums = vec![0i64; bytes.len() / plane];
    mote_kernels::cpu::bytesum::byte_sums(bytes, plane, q.x.signed, &mut sums)
        .map_err(|e| kernel_error("QGlobalAveragePool", e))?;
    let means: Vec<f32> = sums
        .iter()
        .map(|&sum| {
            let centered = sum - plane as i64 * q.x.zero_point as i64;
            (centered as f64 * q.x.scale as f64 / plane as f64) as f32
        })
        .collect();
    let kernel = mote_kernels::cpu::table().quantize;
    kernel(&means, q.y.scale, q.y.zero_point, q.y.signed, y.bytes)
        .map_err(|e| kernel_error("QGlobalAveragePool", e))?;
    Ok(())
}
