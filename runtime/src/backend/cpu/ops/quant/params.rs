//! Which scale / zero point applies to which element: per-tensor, per-axis or blocked
//! quantization (ONNX `QuantizeLinear` / `DequantizeLinear` granularities).

use crate::ir::ops::infer_util::axis as normalize_axis;
use crate::tensor::numel;
use crate::{bail, Result};
use std::ops::Range;

/// The granularity of a scale tensor relative to the quantized tensor, which is viewed as
/// `[outer, axis_len, inner]` around the quantization axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ParamLayout {
    /// One scale for everything (a scalar or a one-element scale).
    PerTensor,
    /// One scale per index along the axis (a 1-D scale of length `axis_len`).
    PerAxis { axis_len: usize, inner: usize },
    /// One scale per `block` consecutive indices along the axis, per position in the other
    /// dimensions (scale shape = x shape with `ceil(axis_len / block)` along the axis).
    Blocked {
        axis_len: usize,
        inner: usize,
        block: usize,
    },
}

impl ParamLayout {
    /// The layout of a scale of shape `scale` for an input of shape `x`.
    pub(super) fn new(
        x: &[usize],
        scale: &[usize],
        axis: i64,
        block_size: usize,
    ) -> Result<ParamLayout> {
        if numel(scale) == 1 && (block_size == 0 || scale.len() <= 1) {
            return Ok(ParamLayout::PerTensor);
        }
        let a = normalize_axis(axis, x.len())?;
        let (axis_len, inner) = (x[a], numel(&x[a + 1..]));
        if block_size == 0 {
            if scale != [axis_len] {
                bail!(
                    shape,
                    "per-axis scale of shape {scale:?} for axis {a} of input {x:?}"
                );
            }
            return Ok(ParamLayout::PerAxis { axis_len, inner });
        }
        let fits = scale.len() == x.len()
            && scale.iter().zip(x).enumerate().all(|(d, (&s, &n))| {
                if d == a {
                    s == n.div_ceil(block_size)
                } else {
                    s == n
                }
            });
        if !fits {
            bail!(
                shape,
                "blocked scale of shape {scale:?} (block {block_size}, axis {a}) for input {x:?}"
            );
        }
        Ok(ParamLayout::Blocked {
            axis_len,
            inner,
            block: block_size,
        })
    }

    /// Calls `f(elements, first_param, step)` for runs of consecutive elements of an input of
    /// `len` elements: element `elements.start + i` uses parameter `first_param + i * step`.
    pub(super) fn for_each_run(&self, len: usize, mut f: impl FnMut(Range<usize>, usize, usize)) {
        match *self {
            ParamLayout::PerTensor => f(0..len, 0, 0),
            ParamLayout::PerAxis { axis_len, inner } => {
                for (row, start) in (0..len).step_by(inner.max(1)).enumerate() {
                    f(start..start + inner, row % axis_len, 0);
                }
            }
            ParamLayout::Blocked {
                axis_len,
                inner,
                block,
            } => {
                let blocks = axis_len.div_ceil(block);
                for (row, start) in (0..len).step_by(inner.max(1)).enumerate() {
                    let (outer, along) = (row / axis_len, row % axis_len);
                    f(
                        start..start + inner,
                        (outer * blocks + along / block) * inner,
                        1,
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params_of(layout: ParamLayout, len: usize) -> Vec<usize> {
        let mut out = vec![usize::MAX; len];
        layout.for_each_run(len, |run, first, step| {
            for (i, e) in run.enumerate() {
                out[e] = first + i * step;
            }
        });
        out
    }

    #[test]
    fn per_axis_repeats_along_inner() {
        let l = ParamLayout::new(&[2, 3, 2], &[3], 1, 0).unwrap();
        assert_eq!(params_of(l, 12), vec![0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2]);
    }

    #[test]
    fn blocked_with_a_partial_last_block() {
        // x [2, 5], axis 1, block 2: scale [2, 3].
        let l = ParamLayout::new(&[2, 5], &[2, 3], 1, 2).unwrap();
        assert_eq!(params_of(l, 10), vec![0, 0, 1, 1, 2, 3, 3, 4, 4, 5]);
        // x [4, 2], axis 0, block 3: scale [2, 2].
        let l = ParamLayout::new(&[4, 2], &[2, 2], 0, 3).unwrap();
        assert_eq!(params_of(l, 8), vec![0, 1, 0, 1, 0, 1, 2, 3]);
    }

    #[test]
    fn rejects_mismatched_scales() {
        assert!(ParamLayout::new(&[2, 3], &[2], 1, 0).is_err());
        assert!(ParamLayout::new(&[2, 5], &[2, 2], 1, 2).is_err());
        assert!(ParamLayout::new(&[2, 3], &[3], 5, 0).is_err());
    }
}
