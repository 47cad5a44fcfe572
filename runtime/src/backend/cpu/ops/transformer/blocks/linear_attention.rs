//! `LinearAttention` (opset 27) as the recurrence the ONNX reference runs, token by token:
//! per key/value head a `[key_size, value_size]` state `S` is decayed (`S *= exp(g)`, gated
//! rules), corrected (`v ← β · (v - Sᵀk)`, delta rules), written (`S += k ⊗ v`) and read by
//! the head's query heads (`o = scale · qᵀS`). Everything is computed in f32, as the reference
//! does for every input type; heads are independent and shared out among worker threads.

use super::numeric::{store, Real};
use super::MIN_WORK_PER_THREAD;
use super::{Inputs, Outputs};
use crate::backend::cpu::parallel::{map_ranges, worker_count};
use crate::ir::ops::transformer::linear_attention::DecayWidth;
use crate::ir::ops::transformer::{LinearAttention, LinearAttentionDims, LinearAttentionShapes};
use crate::tensor::TensorView;
use crate::{Error, Result};
use std::borrow::Cow;

pub(super) fn eval(a: &LinearAttention, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let (q, k, v) = (ins.get(0)?, ins.get(1)?, ins.get(2)?);
    let (past, decay, beta) = (ins.opt(3), ins.opt(4), ins.opt(5));
    if !q.dtype.is_float() {
        return Err(Error::unsupported(
            "LinearAttention",
            format!("dtype {}", q.dtype),
        ));
    }
    for (name, input) in [
        ("key", Some(k)),
        ("value", Some(v)),
        ("decay", decay),
        ("beta", beta),
    ] {
        if let Some(t) = input.filter(|t| t.dtype != q.dtype) {
            return Err(Error::dtype(format!(
                "LinearAttention: {name} is {}, query is {}",
                t.dtype, q.dtype
            )));
        }
    }
    let state_dtype = match past {
        Some(p) if !p.dtype.is_float() => {
            return Err(Error::dtype(format!(
                "LinearAttention: past_state is {}",
                p.dtype
            )))
        }
        Some(p) => p.dtype,
        None => q.dtype,
    };
    let d = a.dims(&LinearAttentionShapes {
        query: q.shape,
        key: k.shape,
        value: v.shape,
        past_state: past.map(|p| p.shape),
        decay: decay.map(|t| t.shape),
        beta: beta.map(|t| t.shape),
    })?;
    let (qs, ks, vs) = (f32::read(&q)?, f32::read(&k)?, f32::read(&v)?);
    let (decays, betas, past) = (read(decay)?, read(beta)?, read(past)?);
    let inputs = Recurrence {
        d,
        scale: a.scale_for(d.key_size),
        query: &qs,
        key: &ks,
        value: &vs,
        decay: decays.as_deref(),
        beta: betas.as_deref(),
        past: past.as_deref(),
    };

    // One unit per (batch, key/value head): its state and its query heads' outputs.
    let units = d.batch * d.kv_heads;
    let group = d.q_heads / d.kv_heads;
    let work = units * d.seq * d.key_size * d.value_size * (group + 3);
    let workers = worker_count(ins.threads(), units, work, MIN_WORK_PER_THREAD);
    let parts = map_ranges(units, workers, |range| {
        Ok(range.map(|unit| inputs.run_head(unit)).collect::<Vec<_>>())
    })?;

    let mut output = vec![0.0f32; d.batch * d.seq * d.q_heads * d.value_size];
    let mut state = Vec::with_capacity(units * d.key_size * d.value_size);
    for (unit, head) in parts.into_iter().flatten().enumerate() {
        inputs.place_output(unit, &head.output, &mut output);
        state.extend_from_slice(&head.state);
    }
    store(out, 0, q.dtype, &d.output_shape(), &output)?;
    if out.is_used(1) {
        store(out, 1, state_dtype, &d.state_shape(), &state)?;
    }
    Ok(())
}

/// An optional input's values as f32.
fn read(t: Option<TensorView<'_>>) -> Result<Option<Cow<'_, [f32]>>> {
    t.map(|t| f32::read(&t)).transpose()
}

/// The inputs of the recurrence, as f32, in their packed layouts.
struct Recurrence<'a> {
    d: LinearAttentionDims,
    scale: f32,
    query: &'a [f32],
    key: &'a [f32],
    value: &'a [f32],
    decay: Option<&'a [f32]>,
    beta: Option<&'a [f32]>,
    past: Option<&'a [f32]>,
}

/// What one key/value head produces: its final state `[key_size, value_size]` and the outputs
/// of its query heads `[group, seq, value_size]`.
struct HeadResult {
    state: Vec<f32>,
    output: Vec<f32>,
}

/// `&v[start..start + len]` of a packed input whose length `dims` has already checked.
fn row(v: &[f32], start: usize, len: usize) -> &[f32] {
    &v[start..start + len]
}

impl Recurrence<'_> {
    /// Runs the recurrence of unit `b * kv_heads + h` over every token.
    fn run_head(&self, unit: usize) -> HeadResult {
        let d = &self.d;
        let (b, h) = (unit / d.kv_heads, unit % d.kv_heads);
        let (dk, dv, group) = (d.key_size, d.value_size, d.q_heads / d.kv_heads);
        let size = dk * dv;
        let mut state = match self.past {
            Some(p) => row(p, unit * size, size).to_vec(),
            None => vec![0.0; size],
        };
        let mut output = vec![0.0; group * d.seq * dv];
        let (mut update, mut retrieved) = (vec![0.0f32; dv], vec![0.0f32; dv]);
        for t in 0..d.seq {
            let token = b * d.seq + t;
            let k = row(self.key, (token * d.kv_heads + h) * dk, dk);
            let v = row(self.value, (token * d.kv_heads + h) * dv, dv);
            if let (Some(decay), Some(width)) = (self.decay, d.decay) {
                match width {
                    DecayWidth::PerHead => {
                        let g = decay[token * d.kv_heads + h].exp();
                        state.iter_mut().for_each(|s| *s *= g);
                    }
                    DecayWidth::PerKey => {
                        let g = row(decay, (token * d.kv_heads + h) * dk, dk);
                        for (s_row, &g) in state.chunks_exact_mut(dv.max(1)).zip(g) {
                            let g = g.exp();
                            s_row.iter_mut().for_each(|s| *s *= g);
                        }
                    }
                }
            }
            update.copy_from_slice(v);
            if let (Some(beta), Some(per_head)) = (self.beta, d.beta_per_head) {
                let beta = if per_head {
                    beta[token * d.kv_heads + h]
                } else {
                    beta[token]
                };
                // update = β · (v - Sᵀk)
                retrieved.fill(0.0);
                for (s_row, &kd) in state.chunks_exact(dv.max(1)).zip(k) {
                    retrieved
                        .iter_mut()
                        .zip(s_row)
                        .for_each(|(r, &s)| *r += s * kd);
                }
                for (u, r) in update.iter_mut().zip(&retrieved) {
                    *u = beta * (*u - r);
                }
            }
            // S += k ⊗ update
            for (s_row, &kd) in state.chunks_exact_mut(dv.max(1)).zip(k) {
                s_row
                    .iter_mut()
                    .zip(&update)
                    .for_each(|(s, &u)| *s += kd * u);
            }
            // o = scale · qᵀS for each query head reading this state.
            for j in 0..group {
                let q = row(self.query, (token * d.q_heads + h * group + j) * dk, dk);
                let o = &mut output[(j * d.seq + t) * dv..(j * d.seq + t + 1) * dv];
                for (s_row, &qd) in state.chunks_exact(dv.max(1)).zip(q) {
                    o.iter_mut().zip(s_row).for_each(|(o, &s)| *o += qd * s);
                }
                o.iter_mut().for_each(|o| *o *= self.scale);
            }
        }
        HeadResult { state, output }
    }

    /// Writes unit `unit`'s `[group, seq, value_size]` outputs into the packed
    /// `[batch, seq, q_heads * value_size]` output.
    fn place_output(&self, unit: usize, head: &[f32], output: &mut [f32]) {
        let d = &self.d;
        let (b, h) = (unit / d.kv_heads, unit % d.kv_heads);
        let (dv, group) = (d.value_size, d.q_heads / d.kv_heads);
        for j in 0..group {
            for t in 0..d.seq {
                let src = (j * d.seq + t) * dv;
                let dst = ((b * d.seq + t) * d.q_heads + h * group + j) * dv;
                output[dst..dst + dv].copy_from_slice(&head[src..src + dv]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::backend::cpu::eval_node;
    use crate::ir::ops::transformer::linear_attention::UpdateRule;
    use crate::ir::ops::transformer::{LinearAttention, TransformerOp};
    use crate::ir::Op;
    use crate::Tensor;

    fn op(q_heads: usize, kv_heads: usize, scale: Option<f32>, rule: UpdateRule) -> Op {
        Op::Transformer(TransformerOp::LinearAttention(LinearAttention {
            q_num_heads: q_heads,
            kv_num_heads: kv_heads,
            scale,
            rule,
        }))
    }

    fn t(shape: &[usize], v: &[f32]) -> Tensor {
        Tensor::from_vec(shape, v.to_vec()).unwrap()
    }

    fn ramp(shape: &[usize], seed: f32) -> Tensor {
        let n = shape.iter().product::<usize>();
        let v: Vec<f32> = (0..n)
            .map(|i| (i as f32 * 0.37 + seed).sin() * 0.5)
            .collect();
        Tensor::from_vec(shape, v).unwrap()
    }

    fn run(op: &Op, inputs: &[Option<&Tensor>], threads: usize) -> Vec<Vec<f32>> {
        eval_node(op, inputs, 2, threads)
            .unwrap()
            .into_iter()
            .map(|t| t.unwrap().as_slice::<f32>().unwrap().to_vec())
            .collect()
    }

    #[test]
    fn linear_rule_accumulates_outer_products() {
        // One head of size 1: S1 = 3·5 = 15, o1 = 1·15; S2 = 15 + 4·6 = 39, o2 = 2·39.
        let (q, k, v) = (
            t(&[1, 2, 1], &[1.0, 2.0]),
            t(&[1, 2, 1], &[3.0, 4.0]),
            t(&[1, 2, 1], &[5.0, 6.0]),
        );
        let op = op(1, 1, Some(1.0), UpdateRule::Linear);
        let y = run(&op, &[Some(&q), Some(&k), Some(&v)], 1);
        assert_eq!(y, [vec![15.0, 78.0], vec![39.0]]);
    }

    #[test]
    fn gated_delta_rule_decays_then_corrects() {
        // S = 0.5 · 2 = 1; update = β(v - S·k) = 0.5 · (3 - 2) = 0.5; S = 1 + 2 · 0.5 = 2.
        let (q, k, v) = (
            t(&[1, 1, 1], &[1.0]),
            t(&[1, 1, 1], &[2.0]),
            t(&[1, 1, 1], &[3.0]),
        );
        let past = t(&[1, 1, 1, 1], &[2.0]);
        let (decay, beta) = (t(&[1, 1, 1], &[0.5f32.ln()]), t(&[1, 1, 1], &[0.5]));
        let op = op(1, 1, Some(1.0), UpdateRule::GatedDelta);
        let inputs = [
            Some(&q),
            Some(&k),
            Some(&v),
            Some(&past),
            Some(&decay),
            Some(&beta),
        ];
        let y = run(&op, &inputs, 1);
        assert!((y[0][0] - 2.0).abs() < 1e-6 && (y[1][0] - 2.0).abs() < 1e-6);
        // The gated rule needs its decay input.
        let gated = self::op(1, 1, None, UpdateRule::Gated);
        assert!(eval_node(&gated, &[Some(&q), Some(&k), Some(&v)], 2, 1).is_err());
    }

    #[test]
    fn grouped_heads_match_repeated_kv_heads() {
        let (dk, dv) = (3, 2);
        let q = ramp(&[2, 3, 4 * dk], 0.1);
        let (k, v) = (ramp(&[2, 3, 2 * dk], 0.2), ramp(&[2, 3, 2 * dv], 0.3));
        // Each token's KV heads [h0, h1] repeated as [h0, h0, h1, h1].
        let repeat = |x: &Tensor, size: usize| {
            let s = x.as_slice::<f32>().unwrap();
            let r: Vec<f32> = s
                .chunks(2 * size)
                .flat_map(|tok| [&tok[..size], &tok[..size], &tok[size..], &tok[size..]].concat())
                .collect();
            Tensor::from_vec(&[2, 3, 4 * size], r).unwrap()
        };
        let grouped = run(
            &op(4, 2, None, UpdateRule::Linear),
            &[Some(&q), Some(&k), Some(&v)],
            1,
        );
        let (k4, v4) = (repeat(&k, dk), repeat(&v, dv));
        let full = run(
            &op(4, 4, None, UpdateRule::Linear),
            &[Some(&q), Some(&k4), Some(&v4)],
            1,
        );
        assert_eq!(grouped[0], full[0]);
    }

    #[test]
    fn threads_give_bit_identical_results() {
        let (dk, dv) = (64, 64);
        let q = ramp(&[2, 8, 4 * dk], 0.1);
        let (k, v) = (ramp(&[2, 8, 2 * dk], 0.2), ramp(&[2, 8, 2 * dv], 0.3));
        let decay = ramp(&[2, 8, 2 * dk], 0.4);
        let beta = ramp(&[2, 8, 2], 0.5);
        let op = op(4, 2, None, UpdateRule::GatedDelta);
        let inputs = [
            Some(&q),
            Some(&k),
            Some(&v),
            None,
            Some(&decay),
            Some(&beta),
        ];
        assert_eq!(run(&op, &inputs, 1), run(&op, &inputs, 4));
    }
}
