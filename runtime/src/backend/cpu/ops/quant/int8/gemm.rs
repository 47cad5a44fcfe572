//! What every 8-bit op built on the GEMM shares: running one call over threads (the output cut
//! into column blocks, or row blocks for the row-major `qmatmul`), the transposes that turn
//! `A · W` into `Wᵀ · Aᵀ` where `qgemm` runs it (it packs its left operand, and the constant is
//! `W`), and the folded table applied to the result.

use super::kernel_error;
use crate::backend::cpu::parallel;
use crate::Result;
use mote_kernels::cpu::qgemm::{qgemm_block, split_output, PackedQWeights, QGemm, QOutput};
use mote_kernels::cpu::qmatmul::{PackedQMatMulWeights, QMatMulCall, QMatMulFn, QMatMulOutput};
use mote_kernels::cpu::transpose::bytes::transpose_u8;
use mote_kernels::cpu::transpose::{transpose, TransposeParams};
use std::cell::Cell;

/// Output columns per thread grain, as the `f32` conv cuts them.
const COLUMN_GRAIN: usize = 64;
/// Multiply-adds below which one more thread does not pay (measured on the mobile classifier's
/// pointwise convs, two threads; 1 << 18 left several of them on one thread).
pub(super) const MIN_MACS_PER_THREAD: usize = 1 << 17;

/// Runs `call` into `output`, its columns split over as many of `threads` as the work is worth.
pub(super) fn run(op: &str, call: &QGemm<'_>, output: QOutput<'_>, threads: usize) -> Result<()> {
    let grains = call.n.div_ceil(COLUMN_GRAIN);
    let work = call.m * call.n * call.k;
    let workers = parallel::worker_count(threads, grains, work, MIN_MACS_PER_THREAD);
    let cuts: Vec<usize> = (1..workers)
        .map(|t| (grains * t / workers) * COLUMN_GRAIN)
        .collect();
    let parts = split_output(output, call.m, call.n, &cuts).map_err(|e| kernel_error(op, e))?;
    parallel::for_each_part(parts, |part| {
        qgemm_block(call, part).map_err(|e| kernel_error(op, e))
    })
}

/// Constant product weights packed for the kernel that runs the product: the row-major
/// `qmatmul` where an optimised variant of it runs, else the GEMM.
#[derive(Debug)]
pub(super) enum PackedProduct {
    /// For the row-major product, with its kernel.
    Rows(QMatMulFn, PackedQMatMulWeights),
    /// `Wᵀ` (`[N, K]`) as the GEMM's left operand.
    Gemm(PackedQWeights),
}

impl PackedProduct {
    /// Packs `Wᵀ` given row-major `[n, k]` (`i8` when `signed`) with one zero point or one per
    /// output column, for this CPU's kernel table.
    pub(super) fn pack(
        op: &str,
        n: usize,
        k: usize,
        wt: &[u8],
        signed: bool,
        zero_points: &[i32],
    ) -> Result<Self> {
        let table = mote_kernels::cpu::table();
        let error = |e| kernel_error(op, e);
        Ok(match table.qmatmul {
            Some((_, f)) => PackedProduct::Rows(
                f,
                PackedQMatMulWeights::pack(n, k, wt, k, signed, zero_points).map_err(error)?,
            ),
            None => PackedProduct::Gemm(
                PackedQWeights::pack(table.qgemm_layout, n, k, wt, k, signed, zero_points)
                    .map_err(error)?,
            ),
        })
    }
}

/// Rows per thread grain of the row-major product (its tile height).
const ROW_GRAIN: usize = 8;

/// Runs the row-major product `call` into `output` (row stride `ldy`) with `f`, its rows split
/// over as many of `threads` as the work is worth.
pub(super) fn run_rows(
    op: &str,
    f: QMatMulFn,
    call: &QMatMulCall<'_>,
    output: QMatMulOutput<'_>,
    ldy: usize,
    threads: usize,
) -> Result<()> {
    let grains = call.rows.div_ceil(ROW_GRAIN);
    let work = call.rows * call.w.features() * call.w.depth();
    let workers = parallel::worker_count(threads, grains, work, MIN_MACS_PER_THREAD);
    if workers <= 1 {
        return f(call, output).map_err(|e| kernel_error(op, e));
    }
    let cuts: Vec<usize> = (1..workers)
        .map(|t| (grains * t / workers) * ROW_GRAIN)
        .chain([call.rows])
        .collect();
    let mut parts = Vec::with_capacity(cuts.len());
    let (mut rest, mut start) = (Some(output), 0);
    for &end in &cuts {
        let (part, tail) = split_rows(
            rest.take().expect("one output per cut"),
            (end - start) * ldy,
        );
        let sub = QMatMulCall {
            rows: end - start,
            a: &call.a[(start * call.lda).min(call.a.len())..],
            ..*call
        };
        parts.push((sub, part));
        rest = Some(tail);
        start = end;
    }
    parallel::for_each_part(parts, |(sub, part)| {
        f(&sub, part).map_err(|e| kernel_error(op, e))
    })
}

/// `output` cut after its first `len` elements (the tail is empty past the end).
fn split_rows(output: QMatMulOutput<'_>, len: usize) -> (QMatMulOutput<'_>, QMatMulOutput<'_>) {
    match output {
        QMatMulOutput::I32 { y, ldy } => {
            let (head, tail) = y.split_at_mut(len.min(y.len()));
            (
                QMatMulOutput::I32 { y: head, ldy },
                QMatMulOutput::I32 { y: tail, ldy },
            )
        }
        QMatMulOutput::F32 { y, ldy, scale } => {
            let (head, tail) = y.split_at_mut(len.min(y.len()));
            (
                QMatMulOutput::F32 {
                    y: head,
                    ldy,
                    scale,
                },
                QMatMulOutput::F32 {
                    y: tail,
                    ldy,
                    scale,
                },
            )
        }
        QMatMulOutput::Requant {
            y,
            ldy,
            signed,
            bias,
            scale,
            zero_point,
            lo,
            hi,
        } => {
            let (head, tail) = y.split_at_mut(len.min(y.len()));
            let part = |y| QMatMulOutput::Requant {
                y,
                ldy,
                signed,
                bias,
                scale,
                zero_point,
                lo,
                hi,
            };
            (part(head), part(tail))
        }
    }
}

/// `dst = srcᵀ` for the row-major `[rows, cols]` byte matrix `src` (`dst` is `[cols, rows]`).
pub(super) fn transpose_bytes(src: &[u8], rows: usize, cols: usize, dst: &mut [u8]) -> Result<()> {
    transpose_u8(rows, cols, src, dst).map_err(|e| kernel_error("transpose", e))
}

/// The `[cols, rows]` transpose of the row-major `[rows, cols]` byte matrix `src`.
pub(super) fn transposed_bytes(src: &[u8], rows: usize, cols: usize) -> Result<Vec<u8>> {
    let mut dst = vec![0u8; src.len()];
    transpose_bytes(src, rows, cols, &mut dst)?;
    Ok(dst)
}

/// `dst = srcᵀ` for a row-major `[rows, cols]` `i32` matrix, through the `f32` transpose
/// kernel (a transpose only moves bits).
pub(super) fn transpose_i32(src: &[i32], rows: usize, cols: usize, dst: &mut [i32]) -> Result<()> {
    let p = TransposeParams::contiguous(1, rows, cols);
    transpose(&p, bytemuck::cast_slice(src), bytemuck::cast_slice_mut(dst))
        .map_err(|e| kernel_error("transpose", e))
}

/// Runs `write` on the op's output bytes and then applies `table` (a fused activation) to
/// them. With a table, `write` fills a reused per-thread scratch buffer and the lookup reads it
/// into the output: one pass over the bytes, no copy (the lookup kernel reads one slice and
/// writes another).
pub(super) fn with_table(
    y: &mut [u8],
    table: Option<&[u8; 256]>,
    write: impl FnOnce(&mut [u8]) -> Result<()>,
) -> Result<()> {
    let Some(table) = table else {
        return write(y);
    };
    let lookup = |staged: &[u8], y: &mut [u8]| {
        (mote_kernels::cpu::table().lut8)(staged, table, y).map_err(|e| kernel_error("table", e))
    };
    if y.len() > STAGED_MAX {
        // Rare and large: a buffer of its own, so no thread keeps one that size.
        let mut staged = vec![0u8; y.len()];
        write(&mut staged)?;
        return lookup(&staged, y);
    }
    let mut staged = STAGED.with(Cell::take);
    if staged.len() < y.len() {
        staged.resize(y.len(), 0);
    }
    let result = write(&mut staged[..y.len()]).and_then(|()| lookup(&staged[..y.len()], y));
    STAGED.with(|slot| slot.set(staged));
    result
}

/// Largest output [`with_table`] stages in its kept buffer (bigger ones allocate their own).
const STAGED_MAX: usize = 1 << 20;

thread_local! {
    /// [`with_table`]'s scratch, kept between calls (its size is the largest output seen).
    static STAGED: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}
