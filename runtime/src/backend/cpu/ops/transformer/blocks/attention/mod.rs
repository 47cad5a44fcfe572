//! `Attention` (opsets 23-25), following the ONNX reference step by step:
//! scores = (Q·√s)·(K·√s)ᵀ → softcap → + bias (mask, causal, window, padding) → softmax
//! (fully masked rows give 0) → · V. Each step rounds to the input type as the reference does
//! when it computes in f16/bf16, so results match it closely; the arithmetic is f32 (f64 for
//! f64 inputs) with the products in SGEMM.

use super::numeric::{rounding, store, stride, tail, with_real_type, Real};
use super::softmax::nan_max;
use super::MIN_WORK_PER_THREAD;
use super::{Inputs, Outputs};
use crate::backend::cpu::parallel::{map_ranges, worker_count};
use crate::ir::ops::transformer::{Attention, AttentionDims, QkOutput};
use crate::tensor::TensorView;
use crate::{DType, Error, Result};
use mote_kernels::cpu::matmul::GemmParams;
use std::ops::Range;

pub(super) fn eval(a: &Attention, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let q = ins.get(0)?;
    for i in [1, 2, 4, 5] {
        if let Some(v) = ins.opt(i).filter(|v| v.dtype != q.dtype) {
            return Err(Error::dtype(format!(
                "Attention: input {i} is {}, Q is {}",
                v.dtype, q.dtype
            )));
        }
    }
    with_real_type!(q.dtype, R => run::<R>(a, ins, out), _ => Err(Error::unsupported("Attention", format!("dtype {}", q.dtype))))
}

/// Addressing of a Q/K/V tensor as `[batch, heads, seq, head]`: element `(b, h, s, d)` is at
/// `b * batch + h * head + s * seq + d` (3-D inputs interleave the heads within a token).
#[derive(Clone, Copy)]
struct Heads {
    batch: usize,
    head: usize,
    seq: usize,
}

impl Heads {
    fn of(d: &AttentionDims, heads: usize, seq: usize, size: usize) -> Heads {
        if d.rank3 {
            Heads {
                batch: seq * heads * size,
                head: size,
                seq: heads * size,
            }
        } else {
            Heads {
                batch: heads * seq * size,
                head: seq * size,
                seq: size,
            }
        }
    }
}

/// Past cache then new keys (or values) as a contiguous `[batch, kv_heads, total_seq, size]`.
fn concat_cache<R: Real>(past: Option<&[R]>, new: &[R], d: &AttentionDims, size: usize) -> Vec<R> {
    let layout = Heads::of(d, d.kv_heads, d.kv_seq, size);
    let total = d.total_seq();
    let mut all = Vec::with_capacity(d.batch * d.kv_heads * total * size);
    for b in 0..d.batch {
        for h in 0..d.kv_heads {
            if let Some(past) = past {
                let start = (b * d.kv_heads + h) * d.past_seq * size;
                all.extend_from_slice(&past[start..start + d.past_seq * size]);
            }
            for s in 0..d.kv_seq {
                let start = b * layout.batch + h * layout.head + s * layout.seq;
                all.extend_from_slice(&new[start..start + size]);
            }
        }
    }
    all
}

/// The optional `attn_mask` as an additive bias: right-aligned broadcast over
/// `[batch, q_heads, q_seq, kv]`, bool `false` and keys past its last column mean -∞.
struct Mask<R: Real> {
    values: Vec<R>,
    strides: [usize; 4],
    columns: usize,
}

impl<R: Real> Mask<R> {
    fn new(mask: TensorView<'_>, d: &AttentionDims, q_dtype: DType) -> Result<Mask<R>> {
        let values: Vec<R> = match mask.dtype {
            DType::Bool => mask
                .bytes
                .iter()
                .map(|&m| if m != 0 { R::ZERO } else { R::NEG_INFINITY })
                .collect(),
            t if t == q_dtype => R::read(&mask)?.into_owned(),
            t => {
                return Err(Error::dtype(format!(
                    "Attention: attn_mask is {t}, Q is {q_dtype}"
                )))
            }
        };
        let columns = mask.shape.last().copied().unwrap_or(0);
        let target = [d.batch, d.q_heads, d.q_seq, columns];
        let rank = mask.rank();
        let fits = (1..=4).contains(&rank)
            && columns <= d.total_seq()
            && mask
                .shape
                .iter()
                .zip(&target[4 - rank..])
                .all(|(&m, &t)| m == t || m == 1);
        if !fits {
            return Err(Error::shape(format!(
                "Attention: attn_mask of shape {:?} does not broadcast to {:?}",
                mask.shape,
                [d.batch, d.q_heads, d.q_seq, d.total_seq()]
            )));
        }
        let mut strides = [0usize; 4];
        let mut stride = 1;
        for (axis, &m) in mask.shape.iter().enumerate().rev() {
            strides[4 - rank + axis] = if m == 1 { 0 } else { stride };
            stride *= m;
        }
        Ok(Mask {
            values,
            strides,
            columns,
        })
    }

    fn bias(&self, b: usize, h: usize, i: usize, j: usize) -> R {
        if j >= self.columns {
            return R::NEG_INFINITY;
        }
        let s = &self.strides;
        self.values[b * s[0] + h * s[1] + i * s[2] + j * s[3]]
    }
}

/// The structural masks: causal, sliding window and key padding, for one batch.
struct Structure {
    causal: bool,
    left: i64,
    right: i64,
    /// Position of query 0 among the keys: the past length, or valid keys minus queries.
    offset: i64,
    /// Keys at or after this index are padding.
    valid: i64,
}

impl Structure {
    fn allows(&self, i: usize, j: usize) -> bool {
        let diff = i as i64 + self.offset - j as i64;
        (!self.causal || diff >= 0)
            && (self.left < 0 || diff <= self.left)
            && (self.right < 0 || -diff <= self.right)
            && (j as i64) < self.valid
    }
}

/// Everything one query row's attention reads, prepared once per evaluation and shared by
/// the workers.
struct Prepared<'a, R: Real> {
    a: &'a Attention,
    d: AttentionDims,
    round: fn(R) -> R,
    softmax_round: fn(R) -> R,
    /// Q·√scale, in the input layout.
    q_scaled: Vec<R>,
    q_layout: Heads,
    /// Past + new keys ·√scale, `[batch, kv_heads, total, head]`.
    k_scaled: Vec<R>,
    /// Past + new values, `[batch, kv_heads, total, v_head]`.
    values: &'a [R],
    softcap: Option<R>,
    mask: Option<Mask<R>>,
    nonpad: Option<Vec<i64>>,
    /// Whether `qk_matmul_output` is computed.
    keep_qk: bool,
}

/// The results for a run of query rows: `Y` rows (`[rows, v_head]`) and, when asked for,
/// the chosen `qk_matmul_output` rows (`[rows, total]`).
struct RowResults<R> {
    y: Vec<R>,
    qk: Vec<R>,
}

impl<R: Real> Prepared<'_, R> {
    fn structure(&self, b: usize) -> Structure {
        let d = &self.d;
        Structure {
            causal: self.a.is_causal,
            left: self.a.left_window,
            right: self.a.right_window,
            offset: match &self.nonpad {
                _ if d.past_seq > 0 => d.past_seq as i64,
                Some(n) => n[b] - d.q_seq as i64,
                None => 0,
            },
            valid: self.nonpad.as_ref().map_or(i64::MAX, |n| n[b]),
        }
    }

    /// Attention of query rows `rows` of head `h` in batch `b`, appended to `res`.
    fn rows(&self, b: usize, h: usize, rows: Range<usize>, res: &mut RowResults<R>) -> Result<()> {
        let (d, round) = (&self.d, self.round);
        let total = d.total_seq();
        let kv = b * d.kv_heads + h / (d.q_heads / d.kv_heads);
        let count = rows.len();
        // scores[i, j] = Σ_l Q'[i, l] · K'[j, l]
        let mut scores = vec![R::ZERO; count * total];
        let p = GemmParams {
            m: count,
            n: total,
            k: d.head_size,
            a_row_stride: stride(self.q_layout.seq),
            a_col_stride: 1,
            b_row_stride: 1,
            b_col_stride: stride(d.head_size),
            c_row_stride: stride(total),
            alpha: 1.0,
            beta: 0.0,
        };
        let q_start =
            b * self.q_layout.batch + h * self.q_layout.head + rows.start * self.q_layout.seq;
        let k_start = kv * total * d.head_size;
        R::gemm(
            &p,
            tail(&self.q_scaled, q_start),
            &self.k_scaled[k_start..k_start + total * d.head_size],
            &mut scores,
        )?;
        for s in scores.iter_mut() {
            *s = round(*s);
            if let Some(cap) = self.softcap {
                *s = round(cap * round(round(*s / cap).tanh()));
            }
        }
        let qk_mode = self.keep_qk.then_some(self.a.qk_output);
        if qk_mode == Some(QkOutput::Scores) {
            res.qk.extend_from_slice(&scores);
        }
        let structure = self.structure(b);
        let mut masked_rows = vec![false; count];
        for ((i, row), masked) in rows
            .clone()
            .zip(scores.chunks_exact_mut(total.max(1)))
            .zip(&mut masked_rows)
        {
            let mut bias_max = R::NEG_INFINITY;
            for (j, s) in row.iter_mut().enumerate() {
                let mut bias = self.mask.as_ref().map_or(R::ZERO, |m| m.bias(b, h, i, j));
                if !structure.allows(i, j) {
                    bias = bias + R::NEG_INFINITY;
                }
                if bias.is_nan() || bias_max.is_nan() {
                    bias_max = bias + bias_max;
                } else if bias > bias_max {
                    bias_max = bias;
                }
                *s = round(*s + bias);
            }
            *masked = bias_max == R::NEG_INFINITY;
        }
        if qk_mode == Some(QkOutput::WithBias) {
            res.qk.extend_from_slice(&scores);
        }
        for (row, &masked) in scores.chunks_exact_mut(total.max(1)).zip(&masked_rows) {
            if masked {
                row.fill(R::ZERO);
            } else {
                softmax_row(row, self.softmax_round);
            }
            row.iter_mut().for_each(|p| *p = round(*p));
        }
        if qk_mode == Some(QkOutput::Probabilities) {
            res.qk.extend_from_slice(&scores);
        }
        // Y[i, :] = Σ_j P[i, j] · V[j, :]
        let y_start = res.y.len();
        res.y.resize(y_start + count * d.v_head_size, R::ZERO);
        let p = GemmParams {
            m: count,
            n: d.v_head_size,
            k: total,
            a_row_stride: stride(total),
            a_col_stride: 1,
            b_row_stride: stride(d.v_head_size),
            b_col_stride: 1,
            c_row_stride: stride(d.v_head_size),
            alpha: 1.0,
            beta: 0.0,
        };
        let v_start = kv * total * d.v_head_size;
        R::gemm(
            &p,
            &scores,
            &self.values[v_start..v_start + total * d.v_head_size],
            &mut res.y[y_start..],
        )?;
        Ok(())
    }

    /// Attention of the query rows `range` of the `[batch, q_heads, q_seq]` stack of rows.
    fn row_range(&self, range: Range<usize>) -> Result<RowResults<R>> {
        let (d, q_seq) = (&self.d, self.d.q_seq);
        let mut res = RowResults {
            y: Vec::with_capacity(range.len() * d.v_head_size),
            qk: Vec::new(),
        };
        let mut row = range.start;
        while row < range.end {
            let (bh, i) = (row / q_seq, row % q_seq);
            let len = (q_seq - i).min(range.end - row);
            self.rows(bh / d.q_heads, bh % d.q_heads, i..i + len, &mut res)?;
            row += len;
        }
        Ok(res)
    }
}

fn run<R: Real>(a: &Attention, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let (q, k, v) = (ins.get(0)?, ins.get(1)?, ins.get(2)?);
    let (past_k, past_v, nonpad) = (ins.opt(4), ins.opt(5), ins.opt(6));
    let d = a.dims(
        q.shape,
        k.shape,
        v.shape,
        past_k.map(|t| t.shape),
        past_v.map(|t| t.shape),
    )?;
    let t = q.dtype;
    let round = rounding::<R>(t);
    let total = d.total_seq();

    let nonpad = match nonpad {
        None => None,
        Some(_) if past_k.is_some() => {
            return Err(Error::invalid_model(
                "Attention: nonpad_kv_seqlen cannot be combined with a past cache",
            ))
        }
        Some(n) => {
            let n = n.to_i64_vec()?;
            if n.len() != d.batch {
                return Err(Error::shape(format!(
                    "Attention: nonpad_kv_seqlen has {} entries for batch {}",
                    n.len(),
                    d.batch
                )));
            }
            Some(n)
        }
    };
    let mask = ins.opt(3).map(|m| Mask::<R>::new(m, &d, t)).transpose()?;

    // √scale, rounded to the input type, multiplies both Q and K (as in the reference).
    let scale = a
        .scale
        .map(f64::from)
        .unwrap_or_else(|| 1.0 / (d.head_size as f64).sqrt());
    let root = round(R::from_f64(scale.sqrt()));
    let past_k = past_k.map(|p| R::read(&p)).transpose()?;
    let past_v = past_v.map(|p| R::read(&p)).transpose()?;
    let keys = concat_cache(past_k.as_deref(), &R::read(&k)?, &d, d.head_size);
    let values = concat_cache(past_v.as_deref(), &R::read(&v)?, &d, d.v_head_size);
    let prepared = Prepared {
        a,
        d,
        round,
        softmax_round: rounding::<R>(a.softmax_precision.unwrap_or(t)),
        q_scaled: R::read(&q)?.iter().map(|&x| round(x * root)).collect(),
        q_layout: Heads::of(&d, d.q_heads, d.q_seq, d.head_size),
        k_scaled: keys.iter().map(|&x| round(x * root)).collect(),
        values: &values,
        softcap: (a.softcap > 0.0).then(|| round(R::from_f64(a.softcap as f64))),
        mask,
        nonpad,
        keep_qk: out.is_used(3),
    };

    // Query rows are independent: workers take contiguous runs of the [batch, heads, q_seq]
    // rows and the runs are joined in order.
    let rows = d.batch * d.q_heads * d.q_seq;
    let work = rows * total * (d.head_size + d.v_head_size);
    let workers = worker_count(ins.threads(), rows, work, MIN_WORK_PER_THREAD);
    let parts = map_ranges(rows, workers, |range| prepared.row_range(range))?;
    let mut y = Vec::with_capacity(rows * d.v_head_size);
    let mut qk = Vec::new();
    for part in parts {
        y.extend(part.y.into_iter().map(round));
        qk.extend(part.qk);
    }
    if d.rank3 {
        y = heads_to_tokens(&y, &d);
    }
    store(out, 0, t, &d.output_shape(), &y)?;
    if out.is_used(1) {
        store(out, 1, t, &d.present_key_shape(), &keys)?;
    }
    if out.is_used(2) {
        store(out, 2, t, &d.present_value_shape(), &values)?;
    }
    if prepared.keep_qk {
        store(out, 3, t, &d.qk_shape(), &qk)?;
    }
    Ok(())
}

/// `[batch, q_heads, q_seq, v_head]` to the 3-D layout `[batch, q_seq, q_heads * v_head]`.
fn heads_to_tokens<R: Real>(y: &[R], d: &AttentionDims) -> Vec<R> {
    let size = d.v_head_size;
    let mut tokens = vec![R::ZERO; y.len()];
    if tokens.is_empty() {
        return tokens;
    }
    for (block, rows) in y.chunks_exact(d.q_seq * size).enumerate() {
        let (b, h) = (block / d.q_heads, block % d.q_heads);
        for (i, row) in rows.chunks_exact(size).enumerate() {
            let start = ((b * d.q_seq + i) * d.q_heads + h) * size;
            tokens[start..start + size].copy_from_slice(row);
        }
    }
    tokens
}

/// Softmax of one row in place, rounding each step with `round`; a row whose maximum is -∞
/// gives zeros (the reference's convention).
fn softmax_row<R: Real>(row: &mut [R], round: fn(R) -> R) {
    let max = nan_max(row);
    let shift = if max == R::NEG_INFINITY { R::ZERO } else { max };
    let mut sum = R::ZERO;
    for x in row.iter_mut() {
        *x = round(round(*x - shift).exp());
        sum = sum + *x;
    }
    let sum = round(sum);
    let sum = if sum == R::ZERO { R::ONE } else { sum };
    row.iter_mut().for_each(|x| *x = round(*x / sum));
}

#[cfg(test)]
mod tests;
