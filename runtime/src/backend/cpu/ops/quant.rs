//! CPU evaluation of this op family.

use super::{Inputs, Outputs};
use crate::ir::ops::QuantOp;
use crate::Result;

pub(super) fn eval(op: &QuantOp, _ins: &Inputs<'_>, _out: &mut Outputs) -> Result<()> {
    match *op {}
}
