//! CPU evaluation of reductions (`fold`), arg-reductions (`arg`) and the cumulative scans
//! `CumSum` / `CumProd` (`cumulative`).

mod arg;
mod cumulative;
mod fold;
mod number;
mod vectorized;
mod walk;

use super::{Inputs, Outputs};
use crate::ir::ops::ReduceOp;
use crate::Result;

pub(super) fn eval(op: &ReduceOp, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    match op {
        ReduceOp::Reduce(r) => fold::eval(r, ins, out),
        ReduceOp::Arg(a) => arg::eval(a, ins, out),
        ReduceOp::Cumulative(c) => cumulative::eval(c, ins, out),
    }
}
