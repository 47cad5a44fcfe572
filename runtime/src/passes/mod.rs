//! Graph-to-graph rewrites, each small, run in order until none changes the graph, with a
//! validity check after every pass.

mod dead_code;
mod fold_constants;
mod fuse;
mod half;
mod infer_types;
mod quant;

pub use quant::{report as quant_report, Precision, QuantLine};

use crate::ir::Graph;
use crate::Result;

/// A graph rewrite.
pub trait Pass {
    /// Name for messages.
    fn name(&self) -> &'static str;
    /// Rewrites `graph`; returns whether anything changed.
    fn run(&self, graph: &mut Graph) -> Result<bool>;
}

/// The passes every model goes through at load, whatever the backend: folding, then fusion
/// (affine ops into convolutions, `HardSwish` spelled out, conv and product epilogues, element-wise chains).
pub fn portable() -> Vec<Box<dyn Pass>> {
    vec![
        // Before constant folding, which would turn quantized weights into f32 constants.
        Box::new(infer_types::InferTypes),
        Box::new(quant::FoldQdq),
        Box::new(fold_constants::FoldConstants),
        Box::new(dead_code::DeadCode),
        Box::new(infer_types::InferTypes),
        Box::new(half::ComputeHalfInF32),
        Box::new(fuse::FoldIntoConv),
        Box::new(fuse::RecognizeHardSwish),
        Box::new(fuse::FuseConvEpilogue),
        Box::new(fuse::FuseMatMulEpilogue),
        Box::new(fuse::FuseElementwiseChain),
        Box::new(dead_code::DeadCode),
    ]
}

/// Runs `passes` to a fixpoint (at most a few rounds), validating after each.
pub fn run_pipeline(graph: &mut Graph, passes: &[Box<dyn Pass>]) -> Result<()> {
    for _round in 0..8 {
        let mut changed = false;
        for pass in passes {
            changed |= pass
                .run(graph)
                .map_err(|e| e.context_with(format!("pass {}", pass.name())))?;
            graph
                .validate()
                .map_err(|e| e.context_with(format!("after pass {}", pass.name())))?;
        }
        if !changed {
            break;
        }
    }
    Ok(())
}
