//! Elementwise math: unary functions, broadcasting binary operators, activations.

use super::infer_util::{dtype, shape};
use crate::ir::Fact;
use crate::tensor::broadcast_shapes;
use crate::Result;

/// Elementwise operations.
#[derive(Debug, Clone, PartialEq)]
pub enum ElementwiseOp {
    /// One input, same shape out.
    Unary(Unary),
    /// Two inputs broadcast numpy-style.
    Binary(Binary),
}

/// Unary functions (with their attributes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unary {
    /// max(x, 0)
    Relu,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binary {
    /// a + b
    Add,
}

impl ElementwiseOp {
    /// Short name (the ONNX op type).
    pub fn name(&self) -> &'static str {
        match self {
            ElementwiseOp::Unary(Unary::Relu) => "Relu",
            ElementwiseOp::Binary(Binary::Add) => "Add",
        }
    }

    /// Random ops are never folded.
    pub fn is_nondeterministic(&self) -> bool {
        false
    }

    /// Output facts from input facts; see [`super::Op::infer`].
    pub fn infer(&self, inputs: &[Option<&Fact>]) -> Result<Vec<Fact>> {
        Ok(match self {
            ElementwiseOp::Unary(_) => vec![Fact {
                dtype: dtype(inputs, 0),
                shape: shape(inputs, 0).map(|s| s.to_vec()),
                value: None,
            }],
            ElementwiseOp::Binary(_) => {
                let out_shape = match (shape(inputs, 0), shape(inputs, 1)) {
                    (Some(a), Some(b)) => Some(broadcast_shapes(&[a, b])?),
                    _ => None,
                };
                vec![Fact { dtype: dtype(inputs, 0), shape: out_shape, value: None }]
            }
        })
    }
}
