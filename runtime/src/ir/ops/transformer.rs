//! Matrix products, softmax, layer normalization, attention.

use crate::ir::Fact;
use crate::Result;

/// Matrix products, softmax, layer normalization, attention.
#[derive(Debug, Clone)]
pub enum TransformerOp {}

impl TransformerOp {
    /// Short name (the ONNX op type).
    pub fn name(&self) -> &'static str {
        match *self {}
    }

    /// Output facts from input facts; see [`super::Op::infer`].
    pub fn infer(&self, _inputs: &[Option<&Fact>]) -> Result<Vec<Fact>> {
        match *self {}
    }
}
