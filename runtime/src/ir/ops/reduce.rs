//! Reductions and scans.

use crate::ir::Fact;
use crate::Result;

/// Reductions and scans.
#[derive(Debug, Clone)]
pub enum ReduceOp {}

impl ReduceOp {
    /// Short name (the ONNX op type).
    pub fn name(&self) -> &'static str {
        match *self {}
    }

    /// Output facts from input facts; see [`super::Op::infer`].
    pub fn infer(&self, _inputs: &[Option<&Fact>]) -> Result<Vec<Fact>> {
        match *self {}
    }
}
