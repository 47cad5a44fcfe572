//! `MaxUnpool`: the values of a `MaxPool` output scattered back to the flat indices its
//! `Indices` output recorded, zeros elsewhere.
//!
//! As in the ONNX reference, indices address the unpooled tensor `[N, C, (in − 1) · stride +
//! kernel − pads]`; an explicit `output_shape` (at least that large on every axis) receives it
//! in its leading corner.

use super::copy_window;
use crate::backend::cpu::ops::{Inputs, Outputs};
use crate::ir::ops::nn::MaxUnpool;
use crate::tensor::{numel, Element};
use crate::{Error, Result};

pub(super) fn max_unpool(attrs: &MaxUnpool, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let (x, indices) = (ins.get(0)?, ins.get(1)?);
    if x.rank() < 3 || indices.shape != x.shape {
        crate::bail!(
            shape,
            "MaxUnpool: input {:?} and indices {:?} must match, rank >= 3",
            x.shape,
            indices.shape
        );
    }
    let unpooled: Vec<usize> = [&x.shape[..2], &attrs.unpooled_spatial(&x.shape[2..])?].concat();
    let shape = match ins.opt(2) {
        None => unpooled.clone(),
        Some(s) => {
            let s = s.to_i64_vec()?;
            let fits =
                s.len() == unpooled.len() && s.iter().zip(&unpooled).all(|(&d, &u)| d >= u as i64);
            if !fits {
                crate::bail!(
                    shape,
                    "MaxUnpool: output_shape {s:?} cannot hold the unpooled shape {unpooled:?}"
                );
            }
            s.iter().map(|&d| d as usize).collect()
        }
    };
    let indices = indices.to_i64_vec()?;
    crate::with_numeric_type!(x.dtype, T => scatter::<T>(x.as_slice::<T>()?, &indices, &unpooled, &shape, out),
        _ => Err(Error::unsupported("MaxUnpool", format!("dtype {}", x.dtype))))
}

fn scatter<T: Element>(
    x: &[T],
    indices: &[i64],
    unpooled: &[usize],
    shape: &[usize],
    out: &mut Outputs,
) -> Result<()> {
    let y = out.alloc_typed::<T>(0, shape)?;
    let same = unpooled == shape;
    let mut scratch = if same {
        Vec::new()
    } else {
        vec![T::default(); numel(unpooled)]
    };
    let target: &mut [T] = if same { &mut *y } else { &mut scratch };
    for (&v, &i) in x.iter().zip(indices) {
        let slot = usize::try_from(i)
            .ok()
            .and_then(|i| target.get_mut(i))
            .ok_or_else(|| {
                Error::shape(format!(
                    "MaxUnpool: index {i} is outside the unpooled shape {unpooled:?}"
                ))
            })?;
        *slot = v;
    }
    if !same {
        copy_window(&scratch, unpooled, y, shape, &vec![0; shape.len()]);
    }
    Ok(())
}
