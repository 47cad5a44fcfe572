//! `Where(condition, x, y)`: a pure selection, so it moves elements by their byte width and
//! works for every dtype (bool and the raw-bit float8/int4 types included).

use super::broadcast::{out_run, parallel, Walk};
use crate::backend::cpu::ops::{Inputs, Outputs};
use crate::tensor::broadcast_shapes;
use crate::{DType, Error, Result};

pub(super) fn eval(ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let (cond, x, y) = (ins.get(0)?, ins.get(1)?, ins.get(2)?);
    if cond.dtype != DType::Bool {
        return Err(Error::dtype(format!(
            "Where condition is {}, not bool",
            cond.dtype
        )));
    }
    if x.dtype != y.dtype {
        return Err(Error::dtype(format!(
            "Where of {} and {}: the dtypes must match",
            x.dtype, y.dtype
        )));
    }
    let shapes = [cond.shape, x.shape, y.shape];
    let shape = broadcast_shapes(&shapes)?;
    let walk = Walk::new(&shape, &shapes)?.with_threads(ins.threads());
    let z = out.alloc_uninit(0, x.dtype, &shape)?;
    let element_bytes = x.dtype.size();
    let (c, x, y, z) = (cond.bytes, x.bytes, y.bytes, z.bytes);
    match element_bytes {
        1 => select::<u8>(&walk, c, x, y, z),
        2 => select::<u16>(&walk, c, cast(x)?, cast(y)?, cast_mut(z)?),
        4 => select::<u32>(&walk, c, cast(x)?, cast(y)?, cast_mut(z)?),
        8 => select::<u64>(&walk, c, cast(x)?, cast(y)?, cast_mut(z)?),
        n => Err(Error::internal(format!("Where on {n}-byte elements"))),
    }
}

fn cast<T: bytemuck::Pod>(bytes: &[u8]) -> Result<&[T]> {
    bytemuck::try_cast_slice(bytes)
        .map_err(|e| Error::internal(format!("Where input not viewable: {e}")))
}

fn cast_mut<T: bytemuck::Pod>(bytes: &mut [u8]) -> Result<&mut [T]> {
    bytemuck::try_cast_slice_mut(bytes)
        .map_err(|e| Error::internal(format!("Where output not viewable: {e}")))
}

fn select<T: Copy + Send + Sync>(
    walk: &Walk,
    cond: &[u8],
    x: &[T],
    y: &[T],
    out: &mut [T],
) -> Result<()> {
    // Per operand: 1 to step along a run, 0 to repeat its one element.
    let step = |k| walk.contiguous(k) as usize;
    let (sc, sx, sy) = (step(0), step(1), step(2));
    parallel(out, walk.threads(), |chunk, start| {
        walk.for_each_run(start..start + chunk.len(), &mut |pos, offsets, len| {
            let dst = out_run(chunk, pos - start, len)?;
            let c = walk.run_of(cond, 0, offsets[0], len)?;
            let xs = walk.run_of(x, 1, offsets[1], len)?;
            let ys = walk.run_of(y, 2, offsets[2], len)?;
            if sc + sx + sy == 3 {
                for (((d, &c), &x), &y) in dst.iter_mut().zip(c).zip(xs).zip(ys) {
                    *d = if c != 0 { x } else { y };
                }
            } else {
                // Each run slice holds `len` elements or one, so `i * step` stays in bounds.
                for (i, d) in dst.iter_mut().enumerate() {
                    *d = if c[i * sc] != 0 {
                        xs[i * sx]
                    } else {
                        ys[i * sy]
                    };
                }
            }
            Ok(())
        })
    })
}
