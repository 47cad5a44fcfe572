//! CPU evaluation of this op family.

use super::{Inputs, Outputs};
use crate::ir::ops::TransformerOp;
use crate::Result;

pub(super) fn eval(op: &TransformerOp, _ins: &Inputs<'_>, _out: &mut Outputs) -> Result<()> {
    match *op {}
}
