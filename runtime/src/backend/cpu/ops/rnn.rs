//! CPU evaluation of this op family.

use super::{Inputs, Outputs};
use crate::ir::ops::RnnOp;
use crate::Result;

pub(super) fn eval(op: &RnnOp, _ins: &Inputs<'_>, _out: &mut Outputs) -> Result<()> {
    match *op {}
}
