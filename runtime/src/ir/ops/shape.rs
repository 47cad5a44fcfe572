//! Data movement and shape manipulation.

use crate::ir::Fact;
use crate::Result;

/// Data movement and shape manipulation.
#[derive(Debug, Clone)]
pub enum ShapeOp {}

impl ShapeOp {
    /// Short name (the ONNX op type).
    pub fn name(&self) -> &'static str {
        match *self {}
    }

    /// Output facts from input facts; see [`super::Op::infer`].
    pub fn infer(&self, _inputs: &[Option<&Fact>]) -> Result<Vec<Fact>> {
        match *self {}
    }
}
