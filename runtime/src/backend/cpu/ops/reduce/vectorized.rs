//! `f32` reductions over one contiguous run of axes on the `reduce` kernels: the layout is
//! `[outer, len, inner]` once size-1 axes are set aside, so the kernel's two loop shapes
//! (contiguous rows, or whole rows folded together) cover `ReduceMean` over the last axis as
//! in layer norms, and over the channels or the spatial axes alike. Mean, L2 and log-sum are
//! a kernel sum followed by one scalar step; product and log-sum-exp keep the generic path.

use crate::ir::ops::reduce::ReduceKind;
use crate::{Error, Result};
use mote_kernels::cpu::reduce::{ReduceOp, ReduceParams};

/// `[outer, len, inner]` of `shape` reduced where `mask` is set, if the reduced axes of size
/// above 1 are adjacent (any axis of size 1 can be counted on either side).
pub(super) fn layout(shape: &[usize], mask: &[bool]) -> Option<ReduceParams> {
    let sized: Vec<(usize, bool)> = shape
        .iter()
        .zip(mask)
        .filter(|(&d, _)| d != 1)
        .map(|(&d, &m)| (d, m))
        .collect();
    let first = sized.iter().position(|&(_, m)| m).unwrap_or(sized.len());
    let end = sized[first..]
        .iter()
        .position(|&(_, m)| !m)
        .map_or(sized.len(), |k| first + k);
    if sized[end..].iter().any(|&(_, m)| m) {
        return None;
    }
    let product = |part: &[(usize, bool)]| part.iter().map(|&(d, _)| d).product();
    Some(ReduceParams {
        outer: product(&sized[..first]),
        len: product(&sized[first..end]),
        inner: product(&sized[end..]),
    })
}

/// A kernel reduction, then an optional scalar step on each result (given the count).
pub(super) struct KernelReduce {
    op: ReduceOp,
    finish: Option<fn(f32, usize) -> f32>,
}

impl KernelReduce {
    /// The kernel form of `kind`, if the kernels cover it.
    pub(super) fn of(kind: ReduceKind) -> Option<Self> {
        let (op, finish): (ReduceOp, Option<fn(f32, usize) -> f32>) = match kind {
            ReduceKind::Sum => (ReduceOp::Sum, None),
            ReduceKind::Mean => (ReduceOp::Sum, Some(|s, n| s / n as f32)),
            ReduceKind::Max => (ReduceOp::Max, None),
            ReduceKind::Min => (ReduceOp::Min, None),
            ReduceKind::SumSquare => (ReduceOp::SumSquare, None),
            ReduceKind::L1 => (ReduceOp::SumAbs, None),
            ReduceKind::L2 => (ReduceOp::SumSquare, Some(|s, _| s.sqrt())),
            ReduceKind::LogSum => (ReduceOp::Sum, Some(|s, _| s.ln())),
            ReduceKind::Prod | ReduceKind::LogSumExp => return None,
        };
        Some(KernelReduce { op, finish })
    }

    /// Reduces `x` (of layout `p`) into `y`.
    pub(super) fn run(&self, p: &ReduceParams, x: &[f32], y: &mut [f32]) -> Result<()> {
        (mote_kernels::cpu::table().reduce)(self.op, p, x, y)
            .map_err(|e| Error::internal(format!("reduce kernel: {e}")))?;
        if let Some(finish) = self.finish {
            y.iter_mut().for_each(|v| *v = finish(*v, p.len));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::layout;
    use mote_kernels::cpu::reduce::ReduceParams;

    fn p(outer: usize, len: usize, inner: usize) -> Option<ReduceParams> {
        Some(ReduceParams { outer, len, inner })
    }

    #[test]
    fn contiguous_reduced_axes_have_a_layout() {
        let (t, f) = (true, false);
        assert_eq!(layout(&[2, 3, 4], &[f, f, t]), p(6, 4, 1));
        assert_eq!(layout(&[2, 3, 4], &[t, f, f]), p(1, 2, 12));
        assert_eq!(layout(&[2, 3, 4, 5], &[f, t, t, f]), p(2, 12, 5));
        assert_eq!(layout(&[2, 3, 4], &[t, t, t]), p(1, 24, 1));
        assert_eq!(layout(&[2, 3, 4], &[f, f, f]), p(24, 1, 1));
        // Size-1 axes do not break a run, whichever way they are marked.
        assert_eq!(layout(&[2, 1, 3, 1, 4], &[t, f, t, t, f]), p(1, 6, 4));
        assert_eq!(layout(&[1, 40, 1, 120], &[f, f, t, t]), p(40, 120, 1));
        assert_eq!(layout(&[0, 3], &[f, t]), p(0, 3, 1));
    }

    #[test]
    fn scattered_reduced_axes_have_none() {
        let (t, f) = (true, false);
        assert_eq!(layout(&[2, 3, 4], &[t, f, t]), None);
        assert_eq!(layout(&[2, 3, 4, 5], &[f, t, f, t]), None);
    }
}
