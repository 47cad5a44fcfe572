//! Type conversion and quantization.

use crate::ir::Fact;
use crate::Result;

/// Type conversion and quantization.
#[derive(Debug, Clone)]
pub enum QuantOp {}

impl QuantOp {
    /// Short name (the ONNX op type).
    pub fn name(&self) -> &'static str {
        match *self {}
    }

    /// Output facts from input facts; see [`super::Op::infer`].
    pub fn infer(&self, _inputs: &[Option<&Fact>]) -> Result<Vec<Fact>> {
        match *self {}
    }
}
