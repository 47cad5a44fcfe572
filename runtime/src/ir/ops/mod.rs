//! The closed set of operations. Each family lives in its own module with its attribute
//! structs and its shape inference; a pass or backend that forgets a family fails to compile.
//!
//! Adding an op: add a variant to its family enum, lower it in `import::onnx::lower::<family>`,
//! infer it in the family's `infer`, and evaluate it in `backend::cpu::ops::<family>`.

pub mod control;
pub mod elementwise;
pub mod loss;
pub mod nn;
pub mod quant;
pub mod reduce;
pub mod rnn;
pub mod shape;
pub mod signal;
pub mod transformer;
pub mod vision;

pub use control::ControlOp;
pub use elementwise::ElementwiseOp;
pub use loss::LossOp;
pub use nn::NnOp;
pub use quant::QuantOp;
pub use reduce::ReduceOp;
pub use rnn::RnnOp;
pub use shape::ShapeOp;
pub use signal::SignalOp;
pub use transformer::TransformerOp;
pub use vision::VisionOp;

use super::{Fact, Graph};
use crate::Result;

/// One operation of the IR.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum Op {
    /// Unary/binary/variadic math, comparisons, logic, activations, `Where`, `Clip`...
    Elementwise(ElementwiseOp),
    /// Convolutions, pooling, normalizations over channels.
    Nn(NnOp),
    /// Matrix products, softmax, layer norm, attention and friends.
    Transformer(TransformerOp),
    /// Data movement and shape manipulation (reshape, gather, slice, resize, pad...).
    Shape(ShapeOp),
    /// Reductions, arg-reductions, scans like `CumSum`.
    Reduce(ReduceOp),
    /// Type conversion and (de)quantization, integer matmul/conv.
    Quant(QuantOp),
    /// Recurrent layers (LSTM, GRU, RNN).
    Rnn(RnnOp),
    /// Detection and geometric vision ops.
    Vision(VisionOp),
    /// Signal processing (DFT, STFT, windows).
    Signal(SignalOp),
    /// Losses (NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss).
    Loss(LossOp),
    /// Control flow with subgraphs (If, Loop, Scan).
    Control(ControlOp),
}

impl Op {
    /// A short name for messages and histograms (the ONNX op type where there is one).
    pub fn name(&self) -> &'static str {
        match self {
            Op::Elementwise(o) => o.name(),
            Op::Nn(o) => o.name(),
            Op::Transformer(o) => o.name(),
            Op::Shape(o) => o.name(),
            Op::Reduce(o) => o.name(),
            Op::Quant(o) => o.name(),
            Op::Rnn(o) => o.name(),
            Op::Vision(o) => o.name(),
            Op::Signal(o) => o.name(),
            Op::Loss(o) => o.name(),
            Op::Control(o) => o.name(),
        }
    }

    /// Output facts from input facts (`None` for an omitted optional input). Returning
    /// [`Fact::unknown`] for an output is always allowed.
    pub fn infer(&self, inputs: &[Option<&Fact>], n_outputs: usize) -> Result<Vec<Fact>> {
        let mut facts = match self {
            Op::Elementwise(o) => o.infer(inputs)?,
            Op::Nn(o) => o.infer(inputs)?,
            Op::Transformer(o) => o.infer(inputs)?,
            Op::Shape(o) => o.infer(inputs)?,
            Op::Reduce(o) => o.infer(inputs)?,
            Op::Quant(o) => o.infer(inputs)?,
            Op::Rnn(o) => o.infer(inputs)?,
            Op::Vision(o) => o.infer(inputs)?,
            Op::Signal(o) => o.infer(inputs)?,
            Op::Loss(o) => o.infer(inputs)?,
            Op::Control(_) => Vec::new(),
        };
        facts.resize(n_outputs, Fact::unknown());
        Ok(facts)
    }

    /// Subgraphs owned by this op (control flow bodies).
    pub fn subgraphs(&self) -> Vec<&Graph> {
        match self {
            Op::Control(c) => c.subgraphs(),
            _ => Vec::new(),
        }
    }

    /// Whether evaluating the op twice on the same inputs may give different results
    /// (random ops): such nodes are never constant-folded.
    pub fn is_nondeterministic(&self) -> bool {
        match self {
            Op::Elementwise(o) => o.is_nondeterministic(),
            _ => false,
        }
    }
}

/// Helpers for the family `infer` functions.
pub mod infer_util {
    use super::Fact;
    use crate::{DType, Error, Result};

    /// The fact of input `i`, or an unknown fact for a missing one.
    pub fn input<'a>(inputs: &[Option<&'a Fact>], i: usize) -> Option<&'a Fact> {
        inputs.get(i).copied().flatten()
    }
    /// The known shape of input `i`.
    pub fn shape<'a>(inputs: &[Option<&'a Fact>], i: usize) -> Option<&'a [usize]> {
        input(inputs, i)?.shape.as_deref()
    }
    /// The known dtype of input `i`.
    pub fn dtype(inputs: &[Option<&Fact>], i: usize) -> Option<DType> {
        input(inputs, i)?.dtype
    }
    /// Normalises a possibly negative axis for a tensor of `rank`.
    pub fn axis(axis: i64, rank: usize) -> Result<usize> {
        let r = rank as i64;
        if axis < -r || axis >= r.max(1) {
            return Err(Error::shape(format!(
                "axis {axis} out of range for rank {rank}"
            )));
        }
        Ok(if axis < 0 {
            (axis + r) as usize
        } else {
            axis as usize
        })
    }
}
