//! How reductions visit their input.
//!
//! Over a set of axes ([`Walk`]): adjacent dims of the same kind (kept or reduced) are merged
//! first, then output element `o` combines the input elements at `kept[o] + r` for every
//! offset `r` of the reduced set, enumerated as a table of outer offsets times one strided
//! inner run (so reducing everything needs no table at all). Along one axis ([`Lines`]):
//! `outer × len × inner` lines of strided elements.

use crate::tensor::strides_of;

/// The offsets a reduction over a set of axes visits.
pub(super) struct Walk {
    /// Input offset of each output element's first reduced element, in output order.
    pub(super) kept: Vec<usize>,
    /// Offsets of the reduced positions outside the inner run.
    reduced_outer: Vec<usize>,
    /// The innermost reduced dims (merged) as `(length, stride)`.
    run: (usize, usize),
}

impl Walk {
    /// The walk of a tensor of `shape` reduced over the axes where `mask` is true.
    pub(super) fn new(shape: &[usize], mask: &[bool]) -> Walk {
        let dims = coalesce(shape, mask);
        let kept = offsets(
            dims.iter()
                .filter(|d| !d.reduced)
                .map(|d| (d.size, d.stride)),
        );
        let mut reduced: Vec<(usize, usize)> = dims
            .iter()
            .filter(|d| d.reduced)
            .map(|d| (d.size, d.stride))
            .collect();
        let run = reduced.pop().unwrap_or((1, 0));
        Walk {
            kept,
            reduced_outer: offsets(reduced.into_iter()),
            run,
        }
    }

    /// Number of elements each output combines (0 for an empty set).
    pub(super) fn reduced_len(&self) -> usize {
        self.reduced_outer.len() * self.run.0
    }

    /// The input offsets combined into the output whose kept offset is `base`.
    pub(super) fn reduced_offsets(&self, base: usize) -> impl Iterator<Item = usize> + Clone + '_ {
        let (len, stride) = self.run;
        self.reduced_outer
            .iter()
            .flat_map(move |&o| (0..len).map(move |k| base + o + k * stride))
    }
}

/// One dim after merging: its size, stride and whether it is reduced.
struct Dim {
    size: usize,
    stride: usize,
    reduced: bool,
}

/// The dims of a row-major `shape` with size-1 dims dropped (they add no offsets) and
/// neighbours of the same kind merged (their offsets form one strided range).
fn coalesce(shape: &[usize], mask: &[bool]) -> Vec<Dim> {
    let strides = strides_of(shape);
    let mut dims: Vec<Dim> = Vec::with_capacity(shape.len());
    for (i, (&size, &stride)) in shape.iter().zip(&strides).enumerate() {
        let reduced = mask.get(i).copied().unwrap_or(false);
        if size == 1 {
            continue;
        }
        match dims.last_mut() {
            Some(last) if last.reduced == reduced && last.stride == size * stride => {
                last.size *= size;
                last.stride = stride;
            }
            _ => dims.push(Dim {
                size,
                stride,
                reduced,
            }),
        }
    }
    dims
}

/// Every offset reached by the given `(size, stride)` dims, row-major (the last dim varies
/// fastest). No dims give the single offset 0; a size-0 dim gives none.
fn offsets(dims: impl Iterator<Item = (usize, usize)>) -> Vec<usize> {
    let mut out = vec![0];
    for (size, stride) in dims {
        out = out
            .iter()
            .flat_map(|&o| (0..size).map(move |k| o + k * stride))
            .collect();
    }
    out
}

/// A tensor seen as `outer × len × inner` around one axis: the lines along the axis start at
/// `o * len * inner + i` and step by `inner`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Lines {
    pub(super) outer: usize,
    pub(super) len: usize,
    pub(super) inner: usize,
}

impl Lines {
    /// The lines along `axis` of `shape` (a rank-0 tensor is one line of one element).
    pub(super) fn around(shape: &[usize], axis: usize) -> Lines {
        Lines {
            outer: shape.iter().take(axis).product(),
            len: shape.get(axis).copied().unwrap_or(1),
            inner: shape.iter().skip(axis + 1).product(),
        }
    }

    /// The offsets of each line's elements, one iterator per line, in row-major order of
    /// the remaining dims.
    pub(super) fn each(
        self,
    ) -> impl Iterator<Item = impl DoubleEndedIterator<Item = usize> + Clone> {
        let Lines { outer, len, inner } = self;
        (0..outer).flat_map(move |o| {
            (0..inner).map(move |i| (0..len).map(move |k| (o * len + k) * inner + i))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn middle_axis() {
        let w = Walk::new(&[2, 3, 2], &[false, true, false]);
        assert_eq!(w.kept, vec![0, 1, 6, 7]);
        assert_eq!(w.reduced_offsets(0).collect::<Vec<_>>(), vec![0, 2, 4]);
    }

    #[test]
    fn outer_and_inner_axes() {
        let w = Walk::new(&[2, 3, 2], &[true, false, true]);
        assert_eq!(w.kept, vec![0, 2, 4]);
        assert_eq!(w.reduced_offsets(0).collect::<Vec<_>>(), vec![0, 1, 6, 7]);
        assert_eq!(w.reduced_offsets(2).collect::<Vec<_>>(), vec![2, 3, 8, 9]);
    }

    #[test]
    fn empty_reduction_and_empty_output() {
        let w = Walk::new(&[2, 0, 4], &[false, true, false]);
        assert_eq!(w.kept.len(), 8);
        assert_eq!(w.reduced_len(), 0);
        assert_eq!(w.reduced_offsets(0).count(), 0);
        let w = Walk::new(&[2, 0, 4], &[true, false, false]);
        assert!(w.kept.is_empty());
    }

    #[test]
    fn reducing_everything_is_one_run() {
        let w = Walk::new(&[2, 1, 3, 4], &[true; 4]);
        assert_eq!(
            (w.kept.clone(), w.reduced_outer.clone(), w.run),
            (vec![0], vec![0], (24, 1))
        );
        let w = Walk::new(&[2, 3], &[false, false]);
        assert_eq!((w.kept.len(), w.reduced_len()), (6, 1));
    }

    #[test]
    fn lines_around_middle_axis() {
        let offsets: Vec<Vec<usize>> = Lines::around(&[2, 3, 2], 1)
            .each()
            .map(|l| l.collect())
            .collect();
        assert_eq!(
            offsets,
            vec![vec![0, 2, 4], vec![1, 3, 5], vec![6, 8, 10], vec![7, 9, 11]]
        );
    }
}
