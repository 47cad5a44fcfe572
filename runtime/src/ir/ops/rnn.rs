//! Recurrent layers: `LSTM`, `GRU` and `RNN`, with ONNX's inputs
//! `X, W, R, B, sequence_lens, initial_h` (+ `initial_c, P` for LSTM) and outputs
//! `Y, Y_h` (+ `Y_c` for LSTM), each output optional.

use super::infer_util::{dtype, shape};
use crate::ir::Fact;
use crate::{Error, Result};

/// Recurrent layers.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum RnnOp {
    /// Long short-term memory (gates i, o, f, c).
    Lstm(Lstm),
    /// Gated recurrent unit (gates z, r, h).
    Gru(Gru),
    /// The plain (Elman) recurrent layer: one gate.
    Rnn(Recurrence),
}

/// `LSTM`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Lstm {
    /// What every recurrent layer has.
    pub common: Recurrence,
    /// Couple the input and forget gates: `f = 1 - i`.
    pub input_forget: bool,
}

/// `GRU`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Gru {
    /// What every recurrent layer has.
    pub common: Recurrence,
    /// Apply the recurrence weights before multiplying by the reset gate.
    pub linear_before_reset: bool,
}

/// The attributes every recurrent layer shares.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Recurrence {
    /// The `hidden_size` attribute when given (else taken from `R`'s last dim).
    pub hidden_size: Option<usize>,
    /// Which way(s) the sequence is read.
    pub direction: Direction,
    /// `layout = 1`: batch-major inputs and outputs.
    pub batch_major: bool,
    /// The activation functions, `functions_per_direction` per direction, forward first
    /// (LSTM: f, g, h; GRU: f, g; RNN: f).
    pub activations: Vec<Activation>,
    /// Clip gate pre-activations to `[-clip, clip]`.
    pub clip: Option<f32>,
}

/// Which way(s) the sequence is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Direction {
    /// First to last.
    Forward,
    /// Last to first.
    Reverse,
    /// Both, outputs stacked forward first.
    Bidirectional,
}

impl Direction {
    /// 1 or 2.
    pub fn count(self) -> usize {
        match self {
            Direction::Bidirectional => 2,
            _ => 1,
        }
    }
}

/// The activation functions ONNX allows inside recurrent layers, with their parameters.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Activation {
    /// max(x, 0)
    Relu,
    /// tanh x
    Tanh,
    /// 1 / (1 + e⁻ˣ)
    Sigmoid,
    /// αx + β
    Affine {
        /// Slope.
        alpha: f32,
        /// Offset.
        beta: f32,
    },
    /// x if x ≥ 0 else αx
    LeakyRelu {
        /// Negative slope.
        alpha: f32,
    },
    /// x if x > α else 0
    ThresholdedRelu {
        /// Threshold.
        alpha: f32,
    },
    /// α tanh(βx)
    ScaledTanh {
        /// Scale.
        alpha: f32,
        /// Input scale.
        beta: f32,
    },
    /// clamp(αx + β, 0, 1)
    HardSigmoid {
        /// Slope.
        alpha: f32,
        /// Offset.
        beta: f32,
    },
    /// x if x ≥ 0 else α(eˣ - 1)
    Elu {
        /// Negative scale.
        alpha: f32,
    },
    /// x / (1 + |x|)
    Softsign,
    /// ln(1 + eˣ)
    Softplus,
}

impl RnnOp {
    /// Short name (the ONNX op type).
    pub fn name(&self) -> &'static str {
        match self {
            RnnOp::Lstm(_) => "LSTM",
            RnnOp::Gru(_) => "GRU",
            RnnOp::Rnn(_) => "RNN",
        }
    }

    /// The attributes every layer shares.
    pub fn common(&self) -> &Recurrence {
        match self {
            RnnOp::Lstm(l) => &l.common,
            RnnOp::Gru(g) => &g.common,
            RnnOp::Rnn(r) => r,
        }
    }

    /// Gates per hidden unit (rows of `W` per direction = gates × hidden size).
    pub fn gates(&self) -> usize {
        match self {
            RnnOp::Lstm(_) => 4,
            RnnOp::Gru(_) => 3,
            RnnOp::Rnn(_) => 1,
        }
    }

    /// Activation functions per direction.
    pub fn functions_per_direction(&self) -> usize {
        match self {
            RnnOp::Lstm(_) => 3,
            RnnOp::Gru(_) => 2,
            RnnOp::Rnn(_) => 1,
        }
    }

    /// Output facts from input facts; see [`super::Op::infer`]. Outputs: `Y`, `Y_h` and (LSTM)
    /// `Y_c`, all of `X`'s dtype.
    pub fn infer(&self, inputs: &[Option<&Fact>]) -> Result<Vec<Fact>> {
        let common = self.common();
        let dims = match (shape(inputs, 0), shape(inputs, 2)) {
            (Some(x), Some(r)) => Some(self.dims(x, r)?),
            _ => None,
        };
        let n_outputs = if matches!(self, RnnOp::Lstm(_)) { 3 } else { 2 };
        Ok((0..n_outputs)
            .map(|i| Fact {
                dtype: dtype(inputs, 0),
                shape: dims.map(|d| {
                    if i == 0 {
                        d.y_shape(common.batch_major)
                    } else {
                        d.state_shape(common.batch_major)
                    }
                }),
                value: None,
            })
            .collect())
    }

    /// The layer's sizes from the shapes of `X` and `R`, checked against the attributes.
    pub fn dims(&self, x: &[usize], r: &[usize]) -> Result<RnnDims> {
        let common = self.common();
        let &[a, b, input] = x else {
            return Err(Error::shape(format!(
                "{}: X must have rank 3, got {x:?}",
                self.name()
            )));
        };
        let (seq, batch) = if common.batch_major { (b, a) } else { (a, b) };
        let &[dirs, rows, hidden] = r else {
            return Err(Error::shape(format!(
                "{}: R must have rank 3, got {r:?}",
                self.name()
            )));
        };
        let expected_dirs = common.direction.count();
        if dirs != expected_dirs || rows != self.gates() * hidden {
            return Err(Error::shape(format!(
                "{}: R has shape {r:?}, expected [{expected_dirs}, {}·hidden, hidden]",
                self.name(),
                self.gates()
            )));
        }
        if let Some(h) = common.hidden_size.filter(|&h| h != hidden) {
            return Err(Error::shape(format!(
                "{}: hidden_size is {h} but R has hidden size {hidden}",
                self.name()
            )));
        }
        Ok(RnnDims {
            seq,
            batch,
            input,
            hidden,
            dirs,
        })
    }
}

/// The sizes of one recurrent layer evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RnnDims {
    /// Sequence length.
    pub seq: usize,
    /// Batch size.
    pub batch: usize,
    /// Features per input step.
    pub input: usize,
    /// Hidden units.
    pub hidden: usize,
    /// Number of directions (1 or 2).
    pub dirs: usize,
}

impl RnnDims {
    /// Shape of `Y`: `[seq, dirs, batch, hidden]`, or `[batch, seq, dirs, hidden]` batch-major.
    pub fn y_shape(&self, batch_major: bool) -> Vec<usize> {
        if batch_major {
            vec![self.batch, self.seq, self.dirs, self.hidden]
        } else {
            vec![self.seq, self.dirs, self.batch, self.hidden]
        }
    }

    /// Shape of `Y_h`, `Y_c`, `initial_h` and `initial_c`: `[dirs, batch, hidden]`, or
    /// `[batch, dirs, hidden]` batch-major.
    pub fn state_shape(&self, batch_major: bool) -> Vec<usize> {
        if batch_major {
            vec![self.batch, self.dirs, self.hidden]
        } else {
            vec![self.dirs, self.batch, self.hidden]
        }
    }
}
