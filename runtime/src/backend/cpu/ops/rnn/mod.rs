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
/// ONNX names of the inputs, for messages.
const INPUT_NAMES: [&str; 8] = [
    "X",
    "W",
    "R",
    "B",
    "sequence_lens",
    "initial_h",
    "initial_c",
    "P",
];

pub(super) fn eval(op: &RnnOp, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let dtype = ins.get(X)?.dtype;
    if !dtype.is_float() {
        return Err(Error::unsupported(op.name(), format!("dtype {dtype}")));
    }
    let layer = Layer::read(op, ins)?;
    let batch_major = layer.layout.batch_major;
    let dims = layer.layout.dims;
    let (y, y_h, y_c) = layer.run(op)?;
    let (y_shape, state_shape) = (dims.y_shape(batch_major), dims.state_shape(batch_major));
    let results = [(&y_shape, y), (&state_shape, y_h), (&state_shape, y_c)];
    for (i, (shape, values)) in results.into_iter().enumerate().take(out.len()) {
        if out.is_used(i) {
            write_output(out, i, dtype, shape, &values)?;
        }
    }
    Ok(())
}

/// The layer's inputs in f32 with their shapes checked, omitted optional ones as zeros.
struct Layer {
    layout: Layout,
    x: Vec<f32>,
    w: Vec<f32>,
    r: Vec<f32>,
    bias: Vec<f32>,
    initial_h: Vec<f32>,
    /// LSTM only (empty otherwise).
    initial_c: Vec<f32>,
    /// LSTM only (empty otherwise).
    peepholes: Vec<f32>,
}

impl Layer {
    fn read(op: &RnnOp, ins: &Inputs<'_>) -> Result<Layer> {
        let name = op.name();
        let x = ins.get(X)?;
        let dims = op.dims(x.shape, ins.get(R)?.shape)?;
        let RnnDims {
            seq,
            batch,
            input,
            hidden,
            dirs,
        } = dims;
        let batch_major = op.common().batch_major;
        let gates = op.gates();
        let state_shape = dims.state_shape(batch_major);
        let state = |i: usize| -> Result<Vec<f32>> {
            Ok(float_input(ins, i, name, &state_shape)?
                .unwrap_or_else(|| vec![0.0; numel(&state_shape)]))
        };
        let is_lstm = matches!(op, RnnOp::Lstm(_));
        Ok(Layer {
            layout: Layout {
                dims,
                batch_major,
                lens: sequence_lens(ins, seq, batch)?,
            },
            x: x.to_f32_vec()?,
            w: float_input(ins, W, name, &[dirs, gates * hidden, input])?.unwrap_or_default(),
            r: float_input(ins, R, name, &[dirs, gates * hidden, hidden])?.unwrap_or_default(),
            bias: float_input(ins, B, name, &[dirs, 2 * gates * hidden])?
                .unwrap_or_else(|| vec![0.0; dirs * 2 * gates * hidden]),
            initial_h: state(INITIAL_H)?,
            initial_c: if is_lstm {
                state(INITIAL_C)?
            } else {
                Vec::new()
            },
            peepholes: if is_lstm {
                float_input(ins, PEEPHOLES, name, &[dirs, 3 * hidden])?
                    .unwrap_or_else(|| vec![0.0; dirs * 3 * hidden])
            } else {
                Vec::new()
            },
        })
    }

    /// Runs every direction; returns `Y`, `Y_h` and `Y_c` (zeros unless LSTM), in f32.
    fn run(&self, op: &RnnOp) -> Result<(Vec<f32>, Vec<f32>, Vec<f32>)> {
        let common = op.common();
        let layout = &self.layout;
        let RnnDims {
            input,
            hidden,
            dirs,
            ..
        } = layout.dims;
        let per_direction = op.functions_per_direction();
        if common.activations.len() != dirs * per_direction {
            return Err(Error::internal(format!(
                "{}: activations not resolved per direction",
                op.name()
            )));
        }
        let mut y = vec![0.0; numel(&layout.dims.y_shape(layout.batch_major))];
        let mut y_h = vec![0.0; self.initial_h.len()];
        let mut y_c = vec![0.0; self.initial_h.len()];
        let g_len = op.gates() * hidden;
        for d in 0..dirs {
            let bias = &self.bias[d * 2 * g_len..][..2 * g_len];
            let sweep = Sweep {
                layout,
                index: d,
                reverse: common.direction == Direction::Reverse || d == 1,
                x: &self.x,
                w: &self.w[d * g_len * input..][..g_len * input],
                r: &self.r[d * g_len * hidden..][..g_len * hidden],
                wb: &bias[..g_len],
                rb: &bias[g_len..],
                activations: &common.activations[d * per_direction..][..per_direction],
                clip: common.clip.unwrap_or(f32::INFINITY),
            };
            let mut h = layout.gather_state(&self.initial_h, d);
            match op {
                RnnOp::Lstm(l) => {
                    let mut c = layout.gather_state(&self.initial_c, d);
                    let peepholes = &self.peepholes[d * 3 * hidden..][..3 * hidden];
                    lstm::sweep(l, &sweep, peepholes, &mut h, &mut c, &mut y)?;
                    layout.scatter_state(&c, d, &mut y_c);
                }
                RnnOp::Gru(g) => gru::sweep(g, &sweep, &mut h, &mut y)?,
                RnnOp::Rnn(_) => simple::sweep(&sweep, &mut h, &mut y)?,
            }
            layout.scatter_state(&h, d, &mut y_h);
        }
        Ok((y, y_h, y_c))
    }
}

/// Optional float input `i` as f32, after checking its shape.
fn float_input(ins: &Inputs<'_>, i: usize, op: &str, shape: &[usize]) -> Result<Option<Vec<f32>>> {
    let Some(t) = ins.opt(i) else { return Ok(None) };
    check_shape(&t, i, op, shape)?;
    if !t.dtype.is_float() {
        return Err(Error::dtype(format!(
            "{op}: {} is {}, a float type is expected",
            input_name(i),
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
            "{op}: {} has shape {:?}, expected {shape:?}",
            input_name(i),
            t.shape
        )))
    }
}

fn input_name(i: usize) -> &'static str {
    INPUT_NAMES.get(i).copied().unwrap_or("an input")
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
