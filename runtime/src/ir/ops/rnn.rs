//! Recurrent layers.

use crate::ir::Fact;
use crate::Result;

/// Recurrent layers.
#[derive(Debug, Clone)]
pub enum RnnOp {}

impl RnnOp {
    /// Short name (the ONNX op type).
    pub fn name(&self) -> &'static str {
        match *self {}
    }

    /// Output facts from input facts; see [`super::Op::infer`].
    pub fn infer(&self, _inputs: &[Option<&Fact>]) -> Result<Vec<Fact>> {
        match *self {}
    }
}
