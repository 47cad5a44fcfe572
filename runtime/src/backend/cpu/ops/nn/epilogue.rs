//! A convolution's element-wise epilogue (`FusedConv` steps) as GEMM post-ops, and the
//! steps that cannot be fused (a broadcasting residual) applied after the conv.

use super::kernel_error;
use crate::ir::ops::nn::{EpilogueStep, FusedActivation};
use crate::Result;
use mote_kernels::cpu::activation::Activation;
use mote_kernels::cpu::matmul::{apply_post_ops_to_run, PostOp};

/// An element-wise epilogue step resolved for the kernels: what `FusedConv`,
/// `FusedMatMul` and `ElementwiseChain` apply, each as its op would.
#[derive(Clone, Copy)]
pub(in crate::backend::cpu::ops) enum ElementwiseStep {
    Activation(Activation),
    /// `y · scale + shift`, two roundings (see [`EpilogueStep::Affine`]).
    Affine {
        scale: f32,
        shift: f32,
    },
}

impl ElementwiseStep {
    /// `step` resolved, or an internal error naming `op` for a residual (which only a
    /// conv's epilogue has).
    pub(in crate::backend::cpu::ops) fn of(step: EpilogueStep, op: &str) -> Result<Self> {
        match step {
            EpilogueStep::Activation(a) => Ok(ElementwiseStep::Activation(kernel_activation(a)?)),
            EpilogueStep::Affine { scale, shift } => Ok(ElementwiseStep::Affine { scale, shift }),
            EpilogueStep::AddResidual => Err(crate::Error::internal(format!(
                "{op} has no residual input"
            ))),
        }
    }

    /// The step as a GEMM post-op.
    pub(in crate::backend::cpu::ops) fn post_op(self) -> PostOp<'static> {
        match self {
            ElementwiseStep::Activation(a) => PostOp::Activation(a),
            ElementwiseStep::Affine { scale, shift } => PostOp::Affine { scale, shift },
        }
    }

    /// Applies the step to `y` in place (with the kernels' post-op loops, see
    /// [`apply_post_ops`]).
    pub(in crate::backend::cpu::ops) fn apply(self, y: &mut [f32], op: &str) -> Result<()> {
        apply_post_ops(y, 0, &[self.post_op()], op)
    }
}

/// Applies `post` to `y`, a run of a tensor starting at element `start` (where a residual
/// post-op is read). The loops are the kernels' (`mote_kernels`, compiled for speed whatever
/// the runtime crate's own optimization level), not the runtime's.
pub(in crate::backend::cpu::ops) fn apply_post_ops(
    y: &mut [f32],
    start: usize,
    post: &[PostOp<'_>],
    op: &str,
) -> Result<()> {
    apply_post_ops_to_run(y, 0, start, post).map_err(|e| kernel_error(op, e))
}

/// One fused step of a conv: element-wise, or the residual add.
#[derive(Clone, Copy)]
enum Step {
    Elementwise(ElementwiseStep),
    Residual,
}

/// A conv's epilogue as kernel post-ops: the steps up to the first residual that cannot be
/// fused (one that broadcasts), which then runs with the rest of the steps afterwards.
pub(super) struct Epilogue<'a> {
    steps: Vec<Step>,
    residual: Option<&'a [f32]>,
    /// Index of the first step not fused into the conv.
    pub(super) unfused_from: Option<usize>,
}

impl<'a> Epilogue<'a> {
    pub(super) fn new(steps: &[EpilogueStep], fused_residual: Option<&'a [f32]>) -> Result<Self> {
        let mut fused = Vec::new();
        let mut unfused_from = None;
        for (i, step) in steps.iter().enumerate() {
            fused.push(match *step {
                EpilogueStep::AddResidual if fused_residual.is_none() => {
                    unfused_from = Some(i);
                    break;
                }
                EpilogueStep::AddResidual => Step::Residual,
                other => Step::Elementwise(ElementwiseStep::of(other, "FusedConv")?),
            });
        }
        Ok(Epilogue {
            steps: fused,
            residual: fused_residual,
            unfused_from,
        })
    }

    /// No epilogue at all.
    pub(super) fn none() -> Self {
        Epilogue {
            steps: Vec::new(),
            residual: None,
            unfused_from: None,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The post-ops for output block `block` (`rows × cols` elements from `offset` of `y`),
    /// with `bias` first.
    pub(super) fn post_ops<'p>(
        &'p self,
        bias: Option<&'p [f32]>,
        offset: usize,
        len: usize,
    ) -> Vec<PostOp<'p>> {
        let mut post = Vec::with_capacity(self.steps.len() + 1);
        post.extend(bias.map(PostOp::BiasPerRow));
        for step in &self.steps {
            match *step {
                Step::Elementwise(e) => post.push(e.post_op()),
                Step::Residual => {
                    if let Some(r) = self.residual {
                        post.push(PostOp::Residual(&r[offset..offset + len]));
                    }
                }
            }
        }
        post
    }

    /// Applies the fused steps to `y`, the output block at `offset` (for the depthwise path,
    /// which applies the bias itself).
    pub(super) fn apply(&self, y: &mut [f32], offset: usize) -> Result<()> {
        apply_post_ops(
            y,
            offset,
            &self.post_ops(None, 0, self.residual_len()),
            "FusedConv",
        )
    }

    /// The length of the fused residual (0 without one).
    fn residual_len(&self) -> usize {
        self.residual.map_or(0, <[f32]>::len)
    }

    /// The single activation, when that is the whole epilogue.
    pub(super) fn only_activation(&self) -> Option<Activation> {
        match self.steps.as_slice() {
            [Step::Elementwise(ElementwiseStep::Activation(a))] => Some(*a),
            _ => None,
        }
    }
}

/// The kernel activation for an IR one.
pub(super) fn kernel_activation(a: FusedActivation) -> Result<Activation> {
    let act = match a {
        FusedActivation::Relu => Activation::Relu,
        FusedActivation::Clip { min, max } => Activation::Clip { min, max },
        FusedActivation::LeakyRelu { alpha } => Activation::LeakyRelu { alpha },
        FusedActivation::HardSigmoid { alpha, beta } => Activation::HardSigmoid { alpha, beta },
        FusedActivation::HardSwish => Activation::HardSwish,
        FusedActivation::Sigmoid => Activation::Sigmoid,
        FusedActivation::Tanh => Activation::Tanh,
    };
    act.validate().map_err(|e| kernel_error("FusedConv", e))?;
    Ok(act)
}

/// The steps after an unfusable (broadcasting) residual: `y += broadcast(r)`, then the rest.
pub(super) fn apply_steps_broadcast(
    steps: &[EpilogueStep],
    y: &mut [f32],
    y_shape: &[usize],
    r: &[f32],
    r_shape: &[usize],
) -> Result<()> {
    for step in steps {
        match step {
            EpilogueStep::AddResidual => {
                let out = crate::tensor::broadcast_shapes(&[y_shape, r_shape])?;
                if out != y_shape {
                    crate::bail!(
                        shape,
                        "FusedConv: residual {r_shape:?} does not broadcast to {y_shape:?}"
                    );
                }
                if r_shape.len() > y_shape.len() {
                    crate::bail!(
                        shape,
                        "FusedConv: residual {r_shape:?} has a higher rank than {y_shape:?}"
                    );
                }
                let index = crate::backend::cpu::ops::util::broadcast_index(r_shape, y_shape);
                y.iter_mut()
                    .enumerate()
                    .for_each(|(k, v)| *v += r[index(k)]);
            }
            other => ElementwiseStep::of(*other, "FusedConv")?.apply(y, "FusedConv")?,
        }
    }
    Ok(())
}
