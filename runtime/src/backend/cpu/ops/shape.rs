//! CPU evaluation of this op family.

use super::{Inputs, Outputs};
use crate::ir::ops::ShapeOp;
use crate::Result;

pub(super) fn eval(op: &ShapeOp, _ins: &Inputs<'_>, _out: &mut Outputs) -> Result<()> {
    match *op {}
}
