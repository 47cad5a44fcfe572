//! Splitting an output into whole chunks (channel planes, regions) over scoped threads, when
//! the work pays for starting them. Each chunk is computed by the same code whatever the
//! split, so results do not depend on the thread count.

use crate::{Error, Result};

/// Output elements (each a handful of multiply-adds) below which one more thread does not pay.
const MIN_ELEMENTS_PER_THREAD: usize = 1 << 15;

/// Runs `work(index, chunk)` for every `chunk_len`-element chunk of `out` (in order within a
/// thread), on up to `threads` threads; the first part runs on the calling thread.
pub(super) fn for_each_chunk<T: Send>(
    out: &mut [T],
    chunk_len: usize,
    threads: usize,
    work: impl Fn(usize, &mut [T]) -> Result<()> + Sync,
) -> Result<()> {
    if chunk_len == 0 {
        return Ok(());
    }
    let chunks = out.len() / chunk_len;
    let workers = threads
        .min(chunks)
        .min(out.len() / MIN_ELEMENTS_PER_THREAD)
        .max(1);
    let run = |first: usize, part: &mut [T]| -> Result<()> {
        for (i, chunk) in part.chunks_exact_mut(chunk_len).enumerate() {
            work(first + i, chunk)?;
        }
        Ok(())
    };
    if workers == 1 {
        return run(0, out);
    }
    let per_worker = chunks.div_ceil(workers);
    let mut parts = out.chunks_mut(per_worker * chunk_len).enumerate();
    let Some((_, first)) = parts.next() else {
        return Ok(());
    };
    let run = &run;
    std::thread::scope(|s| {
        let handles: Vec<_> = parts
            .map(|(p, part)| s.spawn(move || run(p * per_worker, part)))
            .collect();
        let mut result = run(0, first);
        for handle in handles {
            let joined = handle
                .join()
                .unwrap_or_else(|_| Err(Error::internal("a worker thread panicked")));
            result = result.and(joined);
        }
        result
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chunk_is_visited_once_with_its_index() {
        for threads in [1, 3, 8] {
            let mut out = vec![0usize; 1 << 17];
            for_each_chunk(&mut out, 1 << 10, threads, |i, chunk| {
                chunk.iter_mut().for_each(|v| *v += i + 1);
                Ok(())
            })
            .unwrap();
            assert!(out
                .chunks_exact(1 << 10)
                .enumerate()
                .all(|(i, c)| c.iter().all(|&v| v == i + 1)));
        }
    }
}
