//! The CPU backend: runs a [`Plan`] node by node with reference and SIMD kernels.
//!
//! Intermediate values with planned shapes live in arena slots allocated once per plan;
//! values with data-dependent shapes get fresh buffers and are dropped after their last use.

mod control;
mod exec;
pub(crate) mod ops;
pub(crate) mod parallel;
pub(crate) mod prepare;

pub(crate) use exec::CpuProgram;
pub(crate) use parallel::WorkerPool;

use crate::ir::Op;
use crate::{Result, Tensor};

/// Evaluates one op on owned tensors, outside any plan (constant folding, tests).
pub(crate) fn eval_node(
    op: &Op,
    inputs: &[Option<&Tensor>],
    n_outputs: usize,
    threads: usize,
) -> Result<Vec<Option<Tensor>>> {
    let views = inputs.iter().map(|t| t.map(|t| t.view())).collect();
    let ins = ops::Inputs::new(views, threads);
    let mut out = ops::Outputs::fresh(n_outputs);
    ops::eval(op, &ins, &mut out)?;
    Ok(out.into_results())
}
