//! Numpy-style broadcasting, walked row by row.
//!
//! A [`Walk`] merges the output dims that every operand reads contiguously (or not at all),
//! so that the innermost run, a *row*, is as long as possible and each operand reads it either
//! contiguously (stride 1) or as one repeated element (stride 0). Equal shapes give a single
//! row covering everything; a bias `[C, 1, 1]` added to `[N, C, H, W]` gives `N * C` rows of
//! `H * W`. The kernels then run tight loops over plain slices.

use super::widen::Widen;
use crate::backend::cpu::parallel::{for_each_chunk_mut, worker_count};
use crate::tensor::{numel, strides_of};
use crate::{Error, Result};
use std::ops::Range;

/// How to visit an output of some shape whose operands broadcast to it.
pub(super) struct Walk {
    /// Elements per row.
    row_len: usize,
    /// Per operand: 1 when it reads the row contiguously, 0 when it repeats one element.
    row_strides: Vec<usize>,
    /// The merged dims outside the row, outermost first, with each operand's stride in them.
    outer: Vec<(usize, Vec<usize>)>,
    /// Number of rows (0 for an empty output).
    rows: usize,
    /// Threads the kernels driven by this walk may use.
    threads: usize,
}

impl Walk {
    /// Plans the walk of `out_shape` for operands of `shapes`, which must broadcast to it.
    pub(super) fn new(out_shape: &[usize], shapes: &[&[usize]]) -> Result<Walk> {
        let rank = out_shape.len();
        // Each operand's stride in each output dim (0 where it repeats).
        let mut per_operand: Vec<Vec<usize>> = Vec::with_capacity(shapes.len());
        for shape in shapes {
            let offset = rank
                .checked_sub(shape.len())
                .ok_or_else(|| not_broadcastable(shape, out_shape))?;
            let own = strides_of(shape);
            let mut strides = vec![0; rank];
            for (i, &size) in shape.iter().enumerate() {
                if size == out_shape[offset + i] {
                    strides[offset + i] = own[i];
                } else if size != 1 {
                    return Err(not_broadcastable(shape, out_shape));
                }
            }
            per_operand.push(strides);
        }
        // Output dims of size > 1 with each operand's stride, merged where possible.
        let mut dims: Vec<(usize, Vec<usize>)> = Vec::with_capacity(rank);
        for (d, &size) in out_shape.iter().enumerate() {
            if size == 1 {
                continue;
            }
            let strides: Vec<usize> = per_operand.iter().map(|s| s[d]).collect();
            // Merge into the previous (outer) dim when every operand steps through both as one.
            match dims.last_mut() {
                Some((prev_size, prev_strides))
                    if prev_strides
                        .iter()
                        .zip(&strides)
                        .all(|(&p, &s)| p == s * size) =>
                {
                    *prev_size *= size;
                    *prev_strides = strides;
                }
                _ => dims.push((size, strides)),
            }
        }
        let (row_len, row_strides) = match dims.pop() {
            Some((size, strides)) => (size, strides),
            None => (1, vec![0; shapes.len()]),
        };
        let rows = if numel(out_shape) == 0 {
            0
        } else {
            dims.iter().map(|(size, _)| size).product()
        };
        Ok(Walk {
            row_len,
            row_strides,
            outer: dims,
            rows,
            threads: 1,
        })
    }

    /// Lets the kernels use up to `threads` threads.
    pub(super) fn with_threads(self, threads: usize) -> Walk {
        Walk {
            threads: threads.max(1),
            ..self
        }
    }

    /// The same walk with operands 0 and 1 exchanged (`x > y` as `y < x`).
    pub(super) fn swapped(&self) -> Walk {
        let swap = |strides: &[usize]| {
            let mut s = strides.to_vec();
            if s.len() >= 2 {
                s.swap(0, 1);
            }
            s
        };
        Walk {
            row_len: self.row_len,
            row_strides: swap(&self.row_strides),
            outer: self
                .outer
                .iter()
                .map(|(size, strides)| (*size, swap(strides)))
                .collect(),
            rows: self.rows,
            threads: self.threads,
        }
    }

    /// Threads the kernels may use.
    pub(super) fn threads(&self) -> usize {
        self.threads
    }

    /// Whether operand `k` reads rows contiguously (else it repeats one element per row).
    pub(super) fn contiguous(&self, k: usize) -> bool {
        self.row_strides.get(k).is_some_and(|&s| s != 0)
    }

    /// Calls `f(out_offset, operand_offsets, len)` for each run of output elements in
    /// `range`, in order: a run is a row, or the part of one that lies in `range`. Along a
    /// run, each operand reads `len` contiguous elements or repeats one.
    ///
    /// Compiled once, behind a `dyn` call per run: only the loop over a run's elements (in
    /// `f`) is specialized per op and element type. Inlined into every op and type, this index
    /// walking took ~1 MB of the shared library; a call per run costs nanoseconds against a
    /// run's elements (a row of the broadcast).
    #[inline(never)]
    pub(super) fn for_each_run(
        &self,
        range: Range<usize>,
        f: &mut dyn FnMut(usize, &[usize], usize) -> Result<()>,
    ) -> Result<()> {
        let n = self.row_len;
        if range.is_empty() || n == 0 {
            return Ok(());
        }
        let (mut row, mut col) = (range.start / n, range.start % n);
        // Odometer over the outer dims, positioned at `row`.
        let mut index = vec![0usize; self.outer.len()];
        let mut offsets = vec![0usize; self.row_strides.len()];
        let mut rest = row;
        for (d, (size, strides)) in self.outer.iter().enumerate().rev() {
            index[d] = rest % size;
            rest /= size;
            offsets
                .iter_mut()
                .zip(strides)
                .for_each(|(o, s)| *o += s * index[d]);
        }
        let mut run_offsets = offsets.clone();
        let mut pos = range.start;
        while pos < range.end && row < self.rows {
            let len = (n - col).min(range.end - pos);
            for ((r, o), s) in run_offsets.iter_mut().zip(&offsets).zip(&self.row_strides) {
                *r = o + col * s;
            }
            f(pos, &run_offsets, len)?;
            pos += len;
            col = 0;
            row += 1;
            // Odometer step, innermost outer dim first.
            for (d, (size, strides)) in self.outer.iter().enumerate().rev() {
                index[d] += 1;
                if index[d] < *size {
                    offsets.iter_mut().zip(strides).for_each(|(o, s)| *o += s);
                    break;
                }
                index[d] = 0;
                offsets
                    .iter_mut()
                    .zip(strides)
                    .for_each(|(o, s)| *o -= s * (size - 1));
            }
        }
        Ok(())
    }

    /// What operand `k` reads along a run of `len` starting at `offset`: `len` elements, or
    /// the one repeated element.
    pub(super) fn run_of<'a, T>(
        &self,
        data: &'a [T],
        k: usize,
        offset: usize,
        len: usize,
    ) -> Result<&'a [T]> {
        let len = if self.contiguous(k) { len } else { 1 };
        data.get(offset..offset + len)
            .ok_or_else(|| out_of_bounds(offset + len, data.len()))
    }
}

/// `len` output elements from `offset`.
pub(super) fn out_run<T>(out: &mut [T], offset: usize, len: usize) -> Result<&mut [T]> {
    let total = out.len();
    out.get_mut(offset..offset + len)
        .ok_or_else(|| out_of_bounds(offset + len, total))
}

/// Below this many elements per thread, spawning costs more than it saves.
const MIN_ELEMENTS_PER_THREAD: usize = 1 << 15;

/// Runs `work(chunk, start)` over contiguous chunks of `out` (`start`: the chunk's first
/// index), on up to `threads` threads when `out` is large enough ([`for_each_chunk_mut`]).
/// Every element is computed by the same code whatever the split, so results do not depend on
/// the thread count.
pub(super) fn parallel<O: Send>(
    out: &mut [O],
    threads: usize,
    work: impl Fn(&mut [O], usize) -> Result<()> + Sync,
) -> Result<()> {
    parallel_dyn(out, threads, &work)
}

/// [`parallel`] behind one `dyn` call per chunk: the splitting and the panic guard are
/// compiled once per element type, not once per op and type (several hundred copies).
#[inline(never)]
fn parallel_dyn<O: Send>(
    out: &mut [O],
    threads: usize,
    work: &(dyn Fn(&mut [O], usize) -> Result<()> + Sync),
) -> Result<()> {
    let workers = worker_count(threads, out.len(), out.len(), MIN_ELEMENTS_PER_THREAD);
    for_each_chunk_mut(out, 1, workers, |start, chunk| work(chunk, start))
}

fn out_of_bounds(end: usize, len: usize) -> Error {
    Error::internal(format!("broadcast walk reads up to element {end} of {len}"))
}

fn not_broadcastable(shape: &[usize], out_shape: &[usize]) -> Error {
    Error::shape(format!(
        "shape {shape:?} does not broadcast to {out_shape:?}"
    ))
}

/// `f(x, y, out_run)` for every run of the output, on up to the walk's threads: `x` and `y`
/// are each operand's `len` contiguous elements along the run, or its one repeated element
/// (a slice of length 1). For kernels that take whole runs (the SIMD ones); [`map2`] is the
/// element-by-element form.
#[inline(always)]
pub(super) fn zip_runs<A: Sync, B: Sync, O: Send>(
    walk: &Walk,
    a: &[A],
    b: &[B],
    out: &mut [O],
    f: impl Fn(&[A], &[B], &mut [O]) -> Result<()> + Sync,
) -> Result<()> {
    parallel(out, walk.threads(), |chunk, start| {
        walk.for_each_run(start..start + chunk.len(), &mut |pos, offsets, len| {
            let dst = out_run(chunk, pos - start, len)?;
            let x = walk.run_of(a, 0, offsets[0], len)?;
            let y = walk.run_of(b, 1, offsets[1], len)?;
            f(x, y, dst)
        })
    })
}

/// `out[i] = f(a[i'], b[i''])` over the broadcast of `a` and `b` (the walk's two operands).
#[inline(always)]
pub(super) fn map2<A: Copy + Sync, B: Copy + Sync, O: Copy + Send>(
    walk: &Walk,
    a: &[A],
    b: &[B],
    out: &mut [O],
    f: impl Fn(A, B) -> O + Sync,
) -> Result<()> {
    zip_runs(walk, a, b, out, |x, y, dst| {
        zip_run(x, y, dst, &f);
        Ok(())
    })
}

/// `dst[i] = f(x[i], y[i])` along one run, where `x` and `y` each hold `dst.len()` elements
/// or one repeated element.
#[inline(always)]
pub(super) fn zip_run<A: Copy, B: Copy, O: Copy>(
    x: &[A],
    y: &[B],
    dst: &mut [O],
    f: impl Fn(A, B) -> O,
) {
    match (x.len() == 1, y.len() == 1) {
        (false, false) => dst
            .iter_mut()
            .zip(x)
            .zip(y)
            .for_each(|((d, &x), &y)| *d = f(x, y)),
        (false, true) => {
            let y = y[0];
            dst.iter_mut().zip(x).for_each(|(d, &x)| *d = f(x, y));
        }
        (true, false) => {
            let x = x[0];
            dst.iter_mut().zip(y).for_each(|(d, &y)| *d = f(x, y));
        }
        // (One value repeated: not worth a vectorized loop of its own per op and type.)
        (true, true) => dst.fill(f(x[0], y[0])),
    }
}

/// A loop over one run ([`zip_run`]'s contract), compiled once per op and element type.
pub(super) type RunFn<W, O> = fn(&[W], &[W], &mut [O]);

/// `run` over the broadcast of `a` and `b`.
pub(super) fn zip_runs_with<W: Copy + Sync, O: Send>(
    walk: &Walk,
    a: &[W],
    b: &[W],
    out: &mut [O],
    run: RunFn<W, O>,
) -> Result<()> {
    zip_runs(walk, a, b, out, |x, y, dst| {
        run(x, y, dst);
        Ok(())
    })
}

/// Elements per block of [`zip_runs_widened`]: stack buffers, no allocation.
const WIDE_BLOCK: usize = 256;

/// `run`, the loop of the wide type `T::W`, over the broadcast of narrow operands: each run
/// is widened block by block into stack buffers and each result stored with `store`. The rare
/// types so share the wide type's loops without a tensor-sized temporary.
pub(super) fn zip_runs_widened<T: Widen, O: Copy + Default, P: Send>(
    walk: &Walk,
    a: &[T],
    b: &[T],
    out: &mut [P],
    run: RunFn<T::W, O>,
    store: impl Fn(O) -> P + Sync,
) -> Result<()>
where
    T::W: Sync,
{
    zip_runs(walk, a, b, out, |x, y, dst| {
        let mut wx = [T::W::default(); WIDE_BLOCK];
        let mut wy = [T::W::default(); WIDE_BLOCK];
        let mut wz = [O::default(); WIDE_BLOCK];
        for (k, d) in dst.chunks_mut(WIDE_BLOCK).enumerate() {
            let (start, n) = (k * WIDE_BLOCK, d.len());
            let xs = widen_block(x, start, n, &mut wx);
            let ys = widen_block(y, start, n, &mut wy);
            run(xs, ys, &mut wz[..n]);
            d.iter_mut().zip(&wz[..n]).for_each(|(d, &z)| *d = store(z));
        }
        Ok(())
    })
}

/// Elements `start..start + n` of a run widened into `buf`, or its one repeated element.
fn widen_block<'b, T: Widen>(
    run: &[T],
    start: usize,
    n: usize,
    buf: &'b mut [T::W; WIDE_BLOCK],
) -> &'b [T::W] {
    match run {
        [one] => {
            buf[0] = one.widen();
            &buf[..1]
        }
        _ => {
            buf.iter_mut()
                .zip(&run[start..start + n])
                .for_each(|(b, &v)| *b = v.widen());
            &buf[..n]
        }
    }
}

/// `f(&mut out[i], b[i'])` over `b` broadcast to the output (the walk's one operand): a
/// broadcast copy, or an in-place update of an accumulator.
#[inline(always)]
pub(super) fn update<B: Copy + Sync, O: Send>(
    walk: &Walk,
    b: &[B],
    out: &mut [O],
    f: impl Fn(&mut O, B) + Sync,
) -> Result<()> {
    let b_contiguous = walk.contiguous(0);
    parallel(out, walk.threads(), |chunk, start| {
        walk.for_each_run(start..start + chunk.len(), &mut |pos, offsets, len| {
            let dst = out_run(chunk, pos - start, len)?;
            let y = walk.run_of(b, 0, offsets[0], len)?;
            if b_contiguous {
                dst.iter_mut().zip(y).for_each(|(d, &y)| f(d, y));
            } else {
                let y = y[0];
                dst.iter_mut().for_each(|d| f(d, y));
            }
            Ok(())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(
        a: &[i32],
        a_shape: &[usize],
        b: &[i32],
        b_shape: &[usize],
        out_shape: &[usize],
    ) -> Vec<i32> {
        let walk = Walk::new(out_shape, &[a_shape, b_shape]).unwrap();
        let mut out = vec![0; numel(out_shape)];
        map2(&walk, a, b, &mut out, |x, y| x + y).unwrap();
        out
    }

    #[test]
    fn equal_shapes_are_one_row() {
        let walk = Walk::new(&[2, 3, 4], &[&[2, 3, 4], &[2, 3, 4]]).unwrap();
        assert_eq!((walk.rows, walk.row_len), (1, 24));
    }

    #[test]
    fn channel_bias_gives_contiguous_rows_with_a_repeated_operand() {
        let walk = Walk::new(&[2, 3, 4, 5], &[&[2, 3, 4, 5], &[3, 1, 1]]).unwrap();
        assert_eq!((walk.rows, walk.row_len), (6, 20));
        assert!(walk.contiguous(0) && !walk.contiguous(1));
    }

    #[test]
    fn broadcasts_both_ways() {
        // [3, 1] + [1, 2] -> [3, 2]
        let out = add(&[10, 20, 30], &[3, 1], &[1, 2], &[1, 2], &[3, 2]);
        assert_eq!(out, [11, 12, 21, 22, 31, 32]);
        // [2, 1, 3] + [2, 1] -> [2, 2, 3]
        let a: Vec<i32> = (0..6).collect();
        let out = add(&a, &[2, 1, 3], &[100, 200], &[2, 1], &[2, 2, 3]);
        assert_eq!(
            out,
            [100, 101, 102, 200, 201, 202, 103, 104, 105, 203, 204, 205]
        );
        // scalars
        assert_eq!(add(&[1], &[], &[2], &[], &[]), [3]);
        assert_eq!(add(&[1, 2], &[2], &[5], &[], &[2]), [6, 7]);
    }

    #[test]
    fn empty_outputs_visit_nothing() {
        assert_eq!(
            add(&[], &[0, 3], &[1, 2, 3], &[3], &[0, 3]),
            Vec::<i32>::new()
        );
    }

    #[test]
    fn mismatched_shapes_are_errors() {
        assert!(Walk::new(&[2, 3], &[&[2, 4]]).is_err());
        assert!(Walk::new(&[3], &[&[2, 3]]).is_err());
    }

    #[test]
    fn runs_over_a_sub_range_start_mid_row() {
        let walk = Walk::new(&[2, 3], &[&[2, 3], &[3]]).unwrap();
        let mut runs = Vec::new();
        walk.for_each_run(2..5, &mut |pos, offsets, len| {
            runs.push((pos, offsets.to_vec(), len));
            Ok(())
        })
        .unwrap();
        assert_eq!(runs, [(2, vec![2, 2], 1), (3, vec![3, 0], 2)]);
    }

    #[test]
    fn threads_do_not_change_results() {
        let (rows, cols) = (300, 1001);
        let a: Vec<i32> = (0..(rows * cols) as i32).collect();
        let b: Vec<i32> = (0..cols as i32).map(|v| v * 7).collect();
        let run = |threads| {
            let walk = Walk::new(&[rows, cols], &[&[rows, cols], &[cols]])
                .unwrap()
                .with_threads(threads);
            let mut out = vec![0; rows * cols];
            map2(&walk, &a, &b, &mut out, |x, y| x.wrapping_mul(31) ^ y).unwrap();
            out
        };
        assert_eq!(run(1), run(4));
    }

    #[test]
    fn update_accumulates_in_place() {
        let walk = Walk::new(&[2, 2], &[&[2, 1]]).unwrap();
        let mut out = vec![1, 2, 3, 4];
        update(&walk, &[10, 20], &mut out, |d, b| *d += b).unwrap();
        assert_eq!(out, [11, 12, 23, 24]);
    }
}
