//! What the three cell kinds share: the layer's sizes and index math for both layouts, the
//! per-direction weights ([`Sweep`]), and the gate matmuls on the kernels' SGEMM.

use crate::ir::ops::rnn::{Activation, RnnDims};
use crate::{Error, Result};
use mote_kernels::cpu::matmul::{sgemm, GemmParams};

/// The layer's sizes, layout and per-batch sequence lengths, with the index math for `X`,
/// `Y` and the states.
pub(super) struct Layout {
    pub(super) dims: RnnDims,
    pub(super) batch_major: bool,
    /// Valid steps of each batch entry (`sequence_lens`, or the full length).
    pub(super) lens: Vec<usize>,
}

impl Layout {
    /// Row of `X` (and of the input projection) holding step `t` of batch entry `b`.
    pub(super) fn x_row(&self, t: usize, b: usize) -> usize {
        let RnnDims { seq, batch, .. } = self.dims;
        if self.batch_major {
            b * seq + t
        } else {
            t * batch + b
        }
    }

    /// Offset in `Y` of the hidden vector of step `t`, direction `d`, batch entry `b`.
    pub(super) fn y_offset(&self, t: usize, d: usize, b: usize) -> usize {
        let RnnDims {
            seq,
            batch,
            dirs,
            hidden,
            ..
        } = self.dims;
        let row = if self.batch_major {
            (b * seq + t) * dirs + d
        } else {
            (t * dirs + d) * batch + b
        };
        row * hidden
    }

    /// Offset in a state tensor (`initial_h`, `Y_h`...) of direction `d`, batch entry `b`.
    pub(super) fn state_offset(&self, d: usize, b: usize) -> usize {
        let RnnDims {
            batch,
            dirs,
            hidden,
            ..
        } = self.dims;
        let row = if self.batch_major {
            b * dirs + d
        } else {
            d * batch + b
        };
        row * hidden
    }

    /// The time index that step `s` of a sweep visits for batch entry `b`, or `None` once
    /// past that entry's length (reverse sweeps start at each entry's own last step).
    pub(super) fn time(&self, s: usize, b: usize, reverse: bool) -> Option<usize> {
        let len = self.lens.get(b).copied().unwrap_or(0);
        (s < len).then(|| if reverse { len - 1 - s } else { s })
    }

    /// Copies direction `d`'s slice of a state tensor into a dense `[batch, hidden]` buffer.
    pub(super) fn gather_state(&self, state: &[f32], d: usize) -> Vec<f32> {
        let RnnDims { batch, hidden, .. } = self.dims;
        (0..batch)
            .flat_map(|b| &state[self.state_offset(d, b)..][..hidden])
            .copied()
            .collect()
    }

    /// Writes a dense `[batch, hidden]` buffer as direction `d`'s slice of a state tensor.
    pub(super) fn scatter_state(&self, dense: &[f32], d: usize, state: &mut [f32]) {
        let hidden = self.dims.hidden;
        if hidden == 0 {
            return;
        }
        for (b, row) in dense.chunks_exact(hidden).enumerate() {
            state[self.state_offset(d, b)..][..hidden].copy_from_slice(row);
        }
    }
}

/// One direction's view of the layer: its weights, activations and time order.
pub(super) struct Sweep<'a> {
    pub(super) layout: &'a Layout,
    /// Direction index (0, or 1 for the backward half of a bidirectional layer).
    pub(super) index: usize,
    /// Whether this sweep reads the sequence from its end.
    pub(super) reverse: bool,
    /// The whole input, `[seq·batch, input]` in the layout's row order.
    pub(super) x: &'a [f32],
    /// Input weights `[gates·hidden, input]`.
    pub(super) w: &'a [f32],
    /// Recurrence weights `[gates·hidden, hidden]`.
    pub(super) r: &'a [f32],
    /// Input bias `[gates·hidden]` (zeros when `B` is omitted).
    pub(super) wb: &'a [f32],
    /// Recurrence bias `[gates·hidden]`.
    pub(super) rb: &'a [f32],
    /// This direction's activation functions.
    pub(super) activations: &'a [Activation],
    /// Gate pre-activations are clamped to `[-clip, clip]` (∞ when not clipping).
    pub(super) clip: f32,
}

impl Sweep<'_> {
    /// `x · Wᵀ + bias` for every step at once: `[seq·batch, gates·hidden]`.
    pub(super) fn project_inputs(&self, bias: &[f32]) -> Result<Vec<f32>> {
        let RnnDims {
            seq, batch, input, ..
        } = self.layout.dims;
        let rows = seq * batch;
        let mut proj = vec![0.0; rows * bias.len()];
        matmul_by_transposed(self.x, rows, input, self.w, bias.len(), &mut proj)?;
        if !bias.is_empty() {
            for row in proj.chunks_exact_mut(bias.len()) {
                row.iter_mut().zip(bias).for_each(|(p, b)| *p += b);
            }
        }
        Ok(proj)
    }

    /// Clamps a gate pre-activation.
    #[inline]
    pub(super) fn clip(&self, v: f32) -> f32 {
        v.clamp(-self.clip, self.clip)
    }

    /// Writes step `t`'s hidden vector of batch entry `b` into `Y`.
    pub(super) fn emit(&self, y: &mut [f32], t: usize, b: usize, h: &[f32]) {
        let hidden = self.layout.dims.hidden;
        y[self.layout.y_offset(t, self.index, b)..][..hidden].copy_from_slice(h);
    }
}

/// `out[m×n] = a[m×k] · wᵀ` for `w` stored `[n×k]` row-major, as ONNX stores gate weights.
pub(super) fn matmul_by_transposed(
    a: &[f32],
    m: usize,
    k: usize,
    w: &[f32],
    n: usize,
    out: &mut [f32],
) -> Result<()> {
    if k == 0 {
        out.iter_mut().take(m * n).for_each(|v| *v = 0.0);
        return Ok(());
    }
    let stride = |v: usize| {
        isize::try_from(v)
            .map_err(|_| Error::shape(format!("gate matmul dimension {v} is too large")))
    };
    let params = GemmParams {
        m,
        n,
        k,
        a_row_stride: stride(k)?,
        a_col_stride: 1,
        b_row_stride: 1,
        b_col_stride: stride(k)?,
        c_row_stride: stride(n)?,
        alpha: 1.0,
        beta: 0.0,
    };
    sgemm(&params, a, w, out).map_err(|e| Error::internal(format!("recurrent gate matmul: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(batch_major: bool, lens: Vec<usize>) -> Layout {
        let dims = RnnDims {
            seq: 3,
            batch: 2,
            input: 1,
            hidden: 4,
            dirs: 2,
        };
        Layout {
            dims,
            batch_major,
            lens,
        }
    }

    #[test]
    fn offsets_in_both_layouts() {
        let l = layout(false, vec![3, 3]);
        assert_eq!(l.x_row(2, 1), 5);
        assert_eq!(l.y_offset(1, 1, 0), ((2 + 1) * 2) * 4);
        assert_eq!(l.state_offset(1, 0), 2 * 4);
        let l = layout(true, vec![3, 3]);
        assert_eq!(l.x_row(2, 1), 5);
        assert_eq!(l.y_offset(1, 1, 0), 3 * 4);
        assert_eq!(l.state_offset(1, 0), 4);
    }

    #[test]
    fn reverse_sweeps_start_at_each_length() {
        let l = layout(false, vec![3, 2]);
        assert_eq!(l.time(0, 1, true), Some(1));
        assert_eq!(l.time(2, 1, true), None);
        assert_eq!(l.time(2, 0, false), Some(2));
    }

    #[test]
    fn matmul_against_transposed_weights() {
        // a = [[1, 2]], w = [[1, 0], [0, 1], [1, 1]] -> [[1, 2, 3]]
        let mut out = [0.0; 3];
        matmul_by_transposed(
            &[1.0, 2.0],
            1,
            2,
            &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0],
            3,
            &mut out,
        )
        .unwrap();
        assert_eq!(out, [1.0, 2.0, 3.0]);
    }
}
