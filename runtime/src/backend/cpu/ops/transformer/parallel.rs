//! Splitting an op's work over `Inputs::threads()` scoped threads (no pool: a thread per part,
//! started only when the work pays for it). Work is cut into contiguous ranges of independent
//! units (output rows, heads); each unit is computed by the same code whatever the split, so
//! results are bit-identical for every thread count.

use crate::{Error, Result};
use std::ops::Range;

/// Multiply-adds below which one more thread does not pay for starting it (tens of µs).
const MIN_WORK_PER_THREAD: usize = 1 << 17;

/// Threads worth using for `units` independent units costing `work` multiply-adds in all.
pub(super) fn worker_count(threads: usize, units: usize, work: usize) -> usize {
    threads.min(units).min(work / MIN_WORK_PER_THREAD).max(1)
}

/// `0..units` cut into `parts` contiguous ranges whose lengths differ by at most one.
fn split(units: usize, parts: usize) -> impl Iterator<Item = Range<usize>> {
    let parts = parts.clamp(1, units.max(1));
    let (base, extra) = (units / parts, units % parts);
    (0..parts).scan(0, move |start, p| {
        let len = base + usize::from(p < extra);
        let range = *start..*start + len;
        *start += len;
        Some(range)
    })
}

fn joined<R>(handle: std::thread::ScopedJoinHandle<'_, Result<R>>) -> Result<R> {
    handle
        .join()
        .unwrap_or_else(|_| Err(Error::internal("a worker thread panicked")))
}

/// Runs `work(range)` for `workers` contiguous ranges of `0..units`, the first on the calling
/// thread and the others on scoped threads, and returns the results in range order.
pub(super) fn map_ranges<R: Send>(
    units: usize,
    workers: usize,
    work: impl Fn(Range<usize>) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let mut ranges = split(units, workers);
    let Some(first) = ranges.next() else {
        return Ok(Vec::new());
    };
    let work = &work;
    std::thread::scope(|s| {
        let handles: Vec<_> = ranges.map(|r| s.spawn(move || work(r))).collect();
        let mut results = Vec::with_capacity(handles.len() + 1);
        results.push(work(first));
        results.extend(handles.into_iter().map(joined));
        results.into_iter().collect()
    })
}

/// Runs `work(first_row, rows)` on `out`, a stack of rows of `row_len` elements, cut into
/// `workers` chunks of whole rows (the first on the calling thread).
pub(super) fn for_row_chunks<T: Send>(
    out: &mut [T],
    row_len: usize,
    workers: usize,
    work: impl Fn(usize, &mut [T]) -> Result<()> + Sync,
) -> Result<()> {
    if out.len() % row_len.max(1) != 0 {
        return Err(Error::internal(format!(
            "{} elements are not whole rows of {row_len}",
            out.len()
        )));
    }
    if row_len == 0 || workers <= 1 {
        return work(0, out);
    }
    let rows = out.len() / row_len;
    let mut chunks = Vec::new();
    let mut rest = out;
    for range in split(rows, workers) {
        let (chunk, tail) = std::mem::take(&mut rest).split_at_mut(range.len() * row_len);
        chunks.push((range.start, chunk));
        rest = tail;
    }
    let work = &work;
    let mut chunks = chunks.into_iter();
    let Some((first_row, first)) = chunks.next() else {
        return Ok(());
    };
    std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .map(|(row, chunk)| s.spawn(move || work(row, chunk)))
            .collect();
        let mine = work(first_row, first);
        handles.into_iter().map(joined).try_for_each(|r| r)?;
        mine
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_every_unit_once() {
        let r: Vec<_> = split(10, 3).collect();
        assert_eq!(r, [0..4, 4..7, 7..10]);
        assert_eq!(split(2, 5).count(), 2);
        assert_eq!(split(0, 4).collect::<Vec<_>>(), [0..0]);
    }

    #[test]
    fn row_chunks_see_their_first_row() {
        let mut v = vec![0usize; 7 * 3];
        for_row_chunks(&mut v, 3, 3, |first, rows| {
            for (i, row) in rows.chunks_mut(3).enumerate() {
                row.fill(first + i);
            }
            Ok(())
        })
        .unwrap();
        let expect: Vec<usize> = (0..7).flat_map(|r| [r; 3]).collect();
        assert_eq!(v, expect);
    }

    #[test]
    fn mapped_ranges_keep_their_order() {
        let sums = map_ranges(100, 4, |r| Ok(r.sum::<usize>())).unwrap();
        assert_eq!(sums.len(), 4);
        assert_eq!(sums.iter().sum::<usize>(), 4950);
        assert!(map_ranges(10, 2, |r| if r.start == 5 {
            Err(Error::internal("x"))
        } else {
            Ok(())
        })
        .is_err());
    }
}
