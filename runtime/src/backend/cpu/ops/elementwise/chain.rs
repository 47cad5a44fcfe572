//! `ElementwiseChain`: f32 activations and scalar affine maps applied in order, block by
//! block, so a chain of `n` ops reads and writes the tensor once instead of `n` times. Each
//! step runs the function its op runs unfused (the same activation kernels; the affine map
//! rounds after the product and after the sum), so fusing changes no bit.

use super::broadcast::parallel;
use crate::backend::cpu::ops::nn::epilogue::{apply_post_ops, ElementwiseStep};
use crate::backend::cpu::ops::{Inputs, Outputs};
use crate::ir::ops::nn::EpilogueStep;
use crate::{DType, Error, Result};

/// Elements per block: small enough to stay in L1 while every step runs over it.
const BLOCK: usize = 2048;

pub(super) fn eval(steps: &[EpilogueStep], ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let x = ins.get(0)?;
    if x.dtype != DType::F32 {
        return Err(Error::unsupported(
            "ElementwiseChain",
            format!("input dtype {} (the pass fuses f32 only)", x.dtype),
        ));
    }
    let steps = steps
        .iter()
        .map(|&s| ElementwiseStep::of(s, "ElementwiseChain").map(ElementwiseStep::post_op))
        .collect::<Result<Vec<_>>>()?;
    let src = x.as_slice::<f32>()?;
    let mut y = out.alloc_uninit(0, x.dtype, x.shape)?;
    parallel(y.as_mut_slice::<f32>()?, ins.threads(), |chunk, start| {
        let src = src
            .get(start..start + chunk.len())
            .ok_or_else(|| Error::internal("chain output larger than its input"))?;
        for (block, src) in chunk.chunks_mut(BLOCK).zip(src.chunks(BLOCK)) {
            block.copy_from_slice(src);
            apply_post_ops(block, 0, &steps, "ElementwiseChain")?;
        }
        Ok(())
    })
}
