//! CPU evaluation of the recurrent layers. Everything is computed in f32 (f16/bf16/f64 inputs
//! are converted once): the projections of all input steps are one SGEMM per direction, each
//! step one more for the recurrence, and the cell math (`lstm`, `gru`, `simple`) runs on those.
//!
//! `sequence_lens` follows onnxruntime: steps past a batch entry's length leave zeros in `Y`
//! and its final state is the one at its last valid step (reverse sweeps start there).

mod activation;
mod gru;
mod layer;
mod lstm;
mod simple;

use super::{Inputs, Outputs};
use crate::ir::ops::rnn::{Direction, RnnDims, RnnOp};
use crate::tensor::{numel, TensorView};
use crate::{DType, Error, Result};
use layer::{Layout, Sweep};

/// Input positions shared by the three layers (LSTM adds `initial_c` and `P`).
const X: usize = 0;
const W: usize = 1;
const R: usize = 2;
const B: usize = 3;
const SEQUENCE_LENS: usize = 4;
const INITIAL_H: usize = 5;
const INITIAL_C: usize = 6;
const PEEPHOLES: usize = 7;

pub(super) fn eval(op: &RnnOp, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let name = op.name();
    let x = ins.get(X)?;
    if !x.dtype.is_float() {
        return Err(Error::unsupported(name, format!("dtype {}", x.dtype)));
    }
    let common = op.common();
    let dims = op.dims(x.shape, ins.get(R)?.shape)?;
    let RnnDims {
        seq,
        batch,
        input,
        hidden,
        dirs,
    } = dims;
    let gates = op.gates();
    let layout = Layout {
        dims,
        batch_major: common.batch_major,
        lens: sequence_lens(ins, seq, batch)?,
    };
    let state_shape = dims.state_shape(common.batch_major);
    let w = float_input(ins, W, name, &[dirs, gates * hidden, input])?.unwrap_or_default();
    let r = float_input(ins, R, name, &[dirs, gates * hidden, hidden])?.unwrap_or_default();
    let bias = float_input(ins, B, name, &[dirs, 2 * gates * hidden])?
        .unwrap_or_else(|| vec![0.0; dirs * 2 * gates * hidden]);
    let zero_state = || vec![0.0; numel(&state_shape)];
    let initial_h = float_input(ins, INITIAL_H, name, &state_shape)?.unwrap_or_else(zero_state);
    let x = x.to_f32_vec()?;

    let per_direction = op.functions_per_direction();
    if common.activations.len() != dirs * per_direction {
        return Err(Error::internal(format!(
            "{name}: activations not resolved per direction"
        )));
    }
    let lstm_inputs = match op {
        RnnOp::Lstm(_) => Some((
            float_input(ins, INITIAL_C, name, &state_shape)?.unwrap_or_else(zero_state),
            float_input(ins, PEEPHOLES, name, &[dirs, 3 * hidden])?
                .unwrap_or_else(|| vec![0.0; dirs * 3 * hidden]),
        )),
        _ => None,
    };

    let y_shape = dims.y_shape(common.batch_major);
    let mut y = vec![0.0; numel(&y_shape)];
    let mut y_h = zero_state();
    let mut y_c = zero_state();
    let (w_len, r_len, g_len) = (
        gates * hidden * input,
        gates * hidden * hidden,
        gates * hidden,
    );
    for d in 0..dirs {
        let bias_d = &bias[d * 2 * g_len..][..2 * g_len];
        let sweep = Sweep {
            layout: &layout,
            index: d,
            reverse: common.direction == Direction::Reverse || d == 1,
            x: &x,
            w: &w[d * w_len..][..w_len],
            r: &r[d * r_len..][..r_len],
            wb: &bias_d[..g_len],
            rb: &bias_d[g_len..],
            activations: &common.activations[d * per_direction..][..per_direction],
            clip: common.clip.unwrap_or(f32::INFINITY),
        };
        let mut h = layout.gather_state(&initial_h, d);
        match (op, &lstm_inputs) {
            (RnnOp::Lstm(l), Some((initial_c, peepholes))) => {
                let mut c = layout.gather_state(initial_c, d);
                lstm::sweep(
                    l,
                    &sweep,
                    &peepholes[d * 3 * hidden..][..3 * hidden],
                    &mut h,
                    &mut c,
                    &mut y,
                )?;
                layout.scatter_state(&c, d, &mut y_c);
            }
            (RnnOp::Gru(g), _) => gru::sweep(g, &sweep, &mut h, &mut y)?,
            (RnnOp::Rnn(_), _) => simple::sweep(&sweep, &mut h, &mut y)?,
            (RnnOp::Lstm(_), None) => return Err(Error::internal("LSTM inputs not gathered")),
        }
        layout.scatter_state(&h, d, &mut y_h);
    }

    let results = [(y_shape, y), (state_shape.clone(), y_h), (state_shape, y_c)];
    for (i, (shape, values)) in results.into_iter().enumerate().take(out.len()) {
        if out.is_used(i) {
            write_output(out, i, ins.get(X)?.dtype, &shape, &values)?;
        }
    }
    Ok(())
}

/// Optional float input `i` as f32, after checking its shape.
fn float_input(ins: &Inputs<'_>, i: usize, op: &str, shape: &[usize]) -> Result<Option<Vec<f32>>> {
    let Some(t) = ins.opt(i) else { return Ok(None) };
    check_shape(&t, i, op, shape)?;
    if !t.dtype.is_float() {
        return Err(Error::dtype(format!(
            "{op}: input {i} is {}, a float type is expected",
            t.dtype
        )));
    }
    t.to_f32_vec().map(Some)
}

fn check_shape(t: &TensorView<'_>, i: usize, op: &str, shape: &[usize]) -> Result<()> {
    if t.shape == shape {
        Ok(())
    } else {
        Err(Error::shape(format!(
            "{op}: input {i} has shape {:?}, expected {shape:?}",
            t.shape
        )))
    }
}

/// Each batch entry's length: `sequence_lens` when given (each in `0..=seq`), else `seq`.
fn sequence_lens(ins: &Inputs<'_>, seq: usize, batch: usize) -> Result<Vec<usize>> {
    let Some(t) = ins.opt(SEQUENCE_LENS) else {
        return Ok(vec![seq; batch]);
    };
    check_shape(&t, SEQUENCE_LENS, "recurrent layer", &[batch])?;
    t.to_i64_vec()?
        .into_iter()
        .map(|len| {
            usize::try_from(len)
                .ok()
                .filter(|&l| l <= seq)
                .ok_or_else(|| Error::shape(format!("sequence length {len} outside 0..={seq}")))
        })
        .collect()
}

/// Hands output `i` over in the layer's dtype.
fn write_output(
    out: &mut Outputs,
    i: usize,
    dtype: DType,
    shape: &[usize],
    values: &[f32],
) -> Result<()> {
    let mut t = out.alloc_uninit(i, dtype, shape)?;
    match dtype {
        DType::F32 => t.as_mut_slice::<f32>()?.copy_from_slice(values),
        DType::F64 => convert(t.as_mut_slice::<f64>()?, values, |v| v as f64),
        DType::F16 => convert(t.as_mut_slice::<half::f16>()?, values, half::f16::from_f32),
        DType::BF16 => convert(
            t.as_mut_slice::<half::bf16>()?,
            values,
            half::bf16::from_f32,
        ),
        d => {
            return Err(Error::unsupported(
                "recurrent layer",
                format!("output dtype {d}"),
            ))
        }
    }
    Ok(())
}

fn convert<T>(dst: &mut [T], src: &[f32], f: impl Fn(f32) -> T) {
    dst.iter_mut().zip(src).for_each(|(d, &s)| *d = f(s));
}
