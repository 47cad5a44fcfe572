//! CPU evaluation of reductions (`fold`), arg-reductions (`arg`) and the cumulative scans
//! `CumSum` / `CumProd` (`cumulative`, feature `ops-index`).

mod arg;
#[cfg(feature = "ops-index")]
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
        #[cfg(feature = "ops-index")]
        ReduceOp::Cumulative(c) => cumulative::eval(c, ins, out),
        #[cfg(not(feature = "ops-index"))]
        ReduceOp::Cumulative(_) => Err(super::not_compiled(op.name(), "ops-index")),
    }
}
