//! `MaxUnpool`: the values of a `MaxPool` output written back to the flat indices its
//! `Indices` output recorded, zeros elsewhere.
//!
//! As in the ONNX reference, indices address the whole unpooled tensor
//! `[N, C, (in - 1) * stride + kernel - pads...]` (batch and channel included); an explicit
//! `output_shape`, at least as large on every axis, receives it in its leading corner.
//! Elements are moved as raw bytes, so every dtype is supported.

use super::{Inputs, Outputs};
use crate::ir::ops::vision::MaxUnpool;
use crate::tensor::{numel, strides_of};
use crate::{Error, Result};

const OP: &str = "MaxUnpool";

pub(super) fn max_unpool(attrs: &MaxUnpool, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let (x, indices) = (ins.get(0)?, ins.get(1)?);
    if indices.shape != x.shape {
        crate::bail!(
            shape,
            "{OP}: indices {:?} must have the shape of X {:?}",
            indices.shape,
            x.shape
        );
    }
    let unpooled = attrs.unpooled_shape(x.shape)?;
    let shape = match ins.opt(2) {
        None => unpooled.clone(),
        Some(s) => {
            let dims = s.to_i64_vec()?;
            let fits = dims.len() == unpooled.len()
                && dims.iter().zip(&unpooled).all(|(&d, &u)| d >= u as i64);
            if !fits {
                crate::bail!(
                    shape,
                    "{OP}: output_shape {dims:?} cannot hold the unpooled shape {unpooled:?}"
                );
            }
            dims.iter().map(|&d| d as usize).collect()
        }
    };
    let to_output = Remap::new(&unpooled, &shape);
    let size = x.dtype.size();
    let indices = indices.to_i64_vec()?;
    let y = out.alloc(0, x.dtype, &shape)?;
    for (value, &i) in x.bytes.chunks_exact(size).zip(&indices) {
        let o = usize::try_from(i)
            .ok()
            .and_then(|i| to_output.offset(i))
            .ok_or_else(|| {
                Error::argument(format!(
                    "{OP}: index {i} is outside the unpooled shape {unpooled:?}"
                ))
            })?;
        y.bytes[o * size..(o + 1) * size].copy_from_slice(value);
    }
    Ok(())
}

/// Flat offsets of the unpooled tensor to flat offsets of the (possibly larger) output.
struct Remap {
    len: usize,
    /// `(unpooled stride, output stride)` per axis; empty when the shapes are equal.
    strides: Vec<(usize, usize)>,
}

impl Remap {
    fn new(unpooled: &[usize], output: &[usize]) -> Remap {
        let strides = if unpooled == output {
            Vec::new()
        } else {
            strides_of(unpooled)
                .into_iter()
                .zip(strides_of(output))
                .collect()
        };
        Remap {
            len: numel(unpooled),
            strides,
        }
    }

    /// The output offset of unpooled offset `i`, `None` when `i` is out of range.
    fn offset(&self, i: usize) -> Option<usize> {
        if i >= self.len {
            return None;
        }
        if self.strides.is_empty() {
            return Some(i);
        }
        let mut rest = i;
        let mut o = 0;
        for &(from, to) in &self.strides {
            o += rest / from * to;
            rest %= from;
        }
        Some(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remap_into_a_larger_output_keeps_coordinates() {
        let r = Remap::new(&[1, 1, 4, 4], &[1, 1, 5, 5]);
        // (1, 1) of the 4x4 is (1, 1) of the 5x5.
        assert_eq!(r.offset(5), Some(6));
        assert_eq!(r.offset(15), Some(18));
        assert_eq!(r.offset(16), None);
        assert_eq!(Remap::new(&[2, 3], &[2, 3]).offset(5), Some(5));
    }
}
