//! Convolutions, pooling and channel normalizations.

use crate::ir::Fact;
use crate::Result;

/// Convolutions, pooling and channel normalizations.
#[derive(Debug, Clone)]
pub enum NnOp {}

impl NnOp {
    /// Short name (the ONNX op type).
    pub fn name(&self) -> &'static str {
        match *self {}
    }

    /// Output facts from input facts; see [`super::Op::infer`].
    pub fn infer(&self, _inputs: &[Option<&Fact>]) -> Result<Vec<Fact>> {
        match *self {}
    }
}
