//! `QBinary`: `Q(op(DQ(a), DQ(b)))` per element, with numpy broadcasting, computed exactly as the
//! QDQ pattern does (`f32` dequantize, `f32` op, `f32` division by the output scale) by the
//! `quantize` kernel family.
//!
//! Broadcasting is reduced to runs: adjacent axes along which both operands are either whole or
//! repeated are merged, so the last merged axis is a run the kernel takes in one call (an
//! operand repeated along it passes one element). A squeeze-excite `x · s[c]` is one call per
//! channel over the whole plane; over small planes, one `qbinary_runs` call over the tensor.

use super::super::super::{Inputs, Outputs};
use super::{bytes_of, kernel_error};
use crate::backend::cpu::parallel;
use crate::ir::ops::elementwise::Binary;
use crate::ir::ops::quant::{QBinary, Quant8};
use crate::tensor::broadcast_shapes;
use crate::{Error, Result};
use mote_kernels::cpu::quantize::{QBinaryOp, QParams};

/// Output elements below which one more thread does not pay.
const MIN_ELEMENTS_PER_THREAD: usize = 1 << 15;

pub(in crate::backend::cpu::ops::quant) fn qbinary(
    q: &QBinary,
    ins: &Inputs<'_>,
    out: &mut Outputs,
) -> Result<()> {
    let (a, b) = (ins.get(0)?, ins.get(1)?);
    let (ab, bb) = (bytes_of("QBinary", &a, q.a)?, bytes_of("QBinary", &b, q.b)?);
    let shape = broadcast_shapes(&[a.shape, b.shape])?;
    let op = kernel_op(q.op)?;
    let y = out.alloc_uninit(0, q.y.dtype(), &shape)?;
    if y.bytes.is_empty() {
        return Ok(());
    }
    let runs = Runs::new(&shape, a.shape, b.shape);
    let kernel = mote_kernels::cpu::table().qbinary;
    let (qa, qb, qy) = (q.a.into(), q.b.into(), q.y.into());
    let run_len = runs.len;
    let rows = y.bytes.len() / run_len;
    if run_len < SHORT_RUN && rows > 1 {
        if let Some(repeated) =
            repeated_per_run(&runs, q.op, a.shape == &shape[..], b.shape == &shape[..])
        {
            // `x · s[c]` with `x` whole: one call over the whole tensor, `s` per run.
            let (whole, qw, values, qv) = match repeated {
                Side::B => (ab, qa, per_run(&runs, bb, Side::B), qb),
                Side::A => (bb, qb, per_run(&runs, ab, Side::A), qa),
            };
            let kernel = mote_kernels::cpu::table().qbinary_runs;
            let workers =
                parallel::worker_count(ins.threads(), rows, y.bytes.len(), MIN_ELEMENTS_PER_THREAD);
            return parallel::for_each_chunk_mut(y.bytes, run_len, workers, |first_run, chunk| {
                let at = first_run * run_len;
                let runs_here = chunk.len() / run_len;
                let (w, v) = (
                    &whole[at..at + chunk.len()],
                    &values[first_run..first_run + runs_here],
                );
                kernel(op, w, qw, v, qv, qy, chunk, run_len).map_err(|e| kernel_error("QBinary", e))
            });
        }
        // Many short runs (a squeeze-excite `x · s[c]` over small planes): one kernel call per
        // run cost more than the arithmetic. Spell the repeated operands out instead and make
        // one call per thread over the whole tensor.
        let a_full = spelled_out(&runs, ab, runs.a_whole, Side::A, a.shape == &shape[..]);
        let b_full = spelled_out(&runs, bb, runs.b_whole, Side::B, b.shape == &shape[..]);
        let total = y.bytes.len();
        let workers = parallel::worker_count(ins.threads(), rows, total, MIN_ELEMENTS_PER_THREAD);
        return parallel::for_each_chunk_mut(y.bytes, run_len, workers, |first_run, chunk| {
            let at = first_run * run_len;
            let (a_part, b_part) = (&a_full[at..at + chunk.len()], &b_full[at..at + chunk.len()]);
            kernel(op, a_part, qa, b_part, qb, qy, chunk).map_err(|e| kernel_error("QBinary", e))
        });
    }
    let workers =
        parallel::worker_count(ins.threads(), rows, y.bytes.len(), MIN_ELEMENTS_PER_THREAD);
    parallel::for_each_chunk_mut(y.bytes, run_len, workers, |first_run, chunk| {
        for (i, y_run) in chunk.chunks_exact_mut(run_len).enumerate() {
            let (oa, ob) = runs.offsets(first_run + i);
            let a_run = if runs.a_whole {
                &ab[oa..oa + run_len]
            } else {
                &ab[oa..oa + 1]
            };
            let b_run = if runs.b_whole {
                &bb[ob..ob + run_len]
            } else {
                &bb[ob..ob + 1]
            };
            kernel(op, a_run, qa, b_run, qb, qy, y_run).map_err(|e| kernel_error("QBinary", e))?;
        }
        Ok(())
    })
}

/// Which operand is one value per run while the other is laid out as the whole output, when
/// `qbinary_runs` can take the call (the repeated operand must be `b`, or `a` of a commutative
/// op, which then swaps).
fn repeated_per_run(runs: &Runs, op: Binary, a_is_output: bool, b_is_output: bool) -> Option<Side> {
    let commutes = matches!(op, Binary::Add | Binary::Mul);
    match (runs.a_whole, runs.b_whole) {
        (true, false) if a_is_output => Some(Side::B),
        (false, true) if b_is_output && commutes => Some(Side::A),
        _ => None,
    }
}

/// The repeated operand's value for each run, in run order.
fn per_run(runs: &Runs, src: &[u8], side: Side) -> Vec<u8> {
    let rows: usize = runs.outer.iter().product();
    (0..rows)
        .map(|r| {
            let (oa, ob) = runs.offsets(r);
            src[if side == Side::A { oa } else { ob }]
        })
        .collect()
}

/// Runs shorter than this go to one call over the tensor (see [`qbinary`]); from this length
/// on, the per-run call pays: the kernels then turn a run with one repeated operand into a
/// table lookup (their `TABLE_FROM`).
const SHORT_RUN: usize = 1024;

/// Which operand of a [`Runs`].
#[derive(Clone, Copy, PartialEq)]
enum Side {
    A,
    B,
}

/// The operand laid out as the whole output (`as_is` when it already is: then borrowed).
fn spelled_out<'a>(
    runs: &Runs,
    src: &'a [u8],
    whole: bool,
    side: Side,
    as_is: bool,
) -> std::borrow::Cow<'a, [u8]> {
    if as_is {
        return std::borrow::Cow::Borrowed(src);
    }
    let rows: usize = runs.outer.iter().product();
    let mut out = Vec::with_capacity(rows * runs.len);
    for r in 0..rows {
        let (oa, ob) = runs.offsets(r);
        let o = if side == Side::A { oa } else { ob };
        if whole {
            out.extend_from_slice(&src[o..o + runs.len]);
        } else {
            out.extend(std::iter::repeat_n(src[o], runs.len));
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The output as `rows × len` runs, with each operand's offset per run.
struct Runs {
    /// Merged outer dims of the output (all but the run).
    outer: Vec<usize>,
    /// Each operand's stride per outer dim (0 where it repeats).
    a_strides: Vec<usize>,
    b_strides: Vec<usize>,
    /// Run length.
    len: usize,
    /// Whether each operand is whole (not repeated) along the run.
    a_whole: bool,
    b_whole: bool,
}

impl Runs {
    fn new(shape: &[usize], a: &[usize], b: &[usize]) -> Self {
        let rank = shape.len();
        let pad = |s: &[usize]| -> Vec<usize> {
            std::iter::repeat_n(1, rank - s.len())
                .chain(s.iter().copied())
                .collect()
        };
        let (a, b) = (pad(a), pad(b));
        // Merge adjacent axes with the same pattern (each operand whole or repeated on both).
        let mut dims: Vec<(usize, bool, bool)> = Vec::new();
        for i in 0..rank {
            if shape[i] == 1 {
                continue;
            }
            let (wa, wb) = (a[i] != 1, b[i] != 1);
            match dims.last_mut() {
                Some(last) if last.1 == wa && last.2 == wb => last.0 *= shape[i],
                _ => dims.push((shape[i], wa, wb)),
            }
        }
        let (len, a_whole, b_whole) = dims.pop().unwrap_or((1, true, true));
        let (mut a_strides, mut b_strides) = (vec![0; dims.len()], vec![0; dims.len()]);
        let (mut sa, mut sb) = (if a_whole { len } else { 1 }, if b_whole { len } else { 1 });
        for (i, &(d, wa, wb)) in dims.iter().enumerate().rev() {
            if wa {
                a_strides[i] = sa;
                sa *= d;
            }
            if wb {
                b_strides[i] = sb;
                sb *= d;
            }
        }
        Runs {
            outer: dims.iter().map(|d| d.0).collect(),
            a_strides,
            b_strides,
            len,
            a_whole,
            b_whole,
        }
    }

    /// The offsets in `a` and `b` of run `r`'s first element.
    fn offsets(&self, mut r: usize) -> (usize, usize) {
        let (mut oa, mut ob) = (0, 0);
        for i in (0..self.outer.len()).rev() {
            let index = r % self.outer[i];
            r /= self.outer[i];
            oa += index * self.a_strides[i];
            ob += index * self.b_strides[i];
        }
        (oa, ob)
    }
}

/// The kernels' form of a quantization.
impl From<Quant8> for QParams {
    fn from(q: Quant8) -> Self {
        QParams {
            scale: q.scale,
            zero_point: q.zero_point,
            signed: q.signed,
        }
    }
}

/// The kernels' form of a `QBinary` operation (also what the fold pass tables with).
pub(crate) fn kernel_op(op: Binary) -> Result<QBinaryOp> {
    Ok(match op {
        Binary::Add => QBinaryOp::Add,
        Binary::Sub => QBinaryOp::Sub,
        Binary::Mul => QBinaryOp::Mul,
        Binary::Div => QBinaryOp::Div,
        other => {
            return Err(Error::unsupported(
                "QBinary",
                format!("{} is not an 8-bit binary op", other.name()),
            ))
        }
    })
}
