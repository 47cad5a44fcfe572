//! The transformer family beyond matrix products and softmax: attention (softmax and linear),
//! layer/RMS/Lp normalization, rotary embeddings, SwiGLU, Einsum and Det. Compiled with the
//! `ops-transformer` feature only: CNNs (the core every build runs) need none of them.
//!
//! The files keep the `super::` paths they had as siblings of the products: the helpers they
//! share with them are imported here.

mod attention;
mod det;
mod einsum;
mod linear_attention;
mod lp_norm;
mod norm;
mod rotary;
mod swiglu;

use super::{
    matmul, numeric, same_dtype, softmax, through_f32, through_wide_int, wide_int, Inputs, Outputs,
    MIN_WORK_PER_THREAD,
};
use crate::ir::ops::TransformerOp;
use crate::{Error, Result};

pub(super) fn eval(op: &TransformerOp, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    match op {
        TransformerOp::Einsum(e) => einsum::eval(e, ins, out),
        TransformerOp::LayerNorm(n) => norm::eval(n, norm::Kind::Layer, ins, out),
        TransformerOp::RmsNorm(n) => norm::eval(n, norm::Kind::Rms, ins, out),
        TransformerOp::LpNorm(n) => lp_norm::eval(n, ins, out),
        TransformerOp::Attention(a) => attention::eval(a, ins, out),
        TransformerOp::RotaryEmbedding(r) => rotary::eval(r, ins, out),
        TransformerOp::LinearAttention(a) => linear_attention::eval(a, ins, out),
        TransformerOp::SwiGlu { alpha } => swiglu::eval(*alpha, ins, out),
        TransformerOp::Det => det::eval(ins, out),
        TransformerOp::MatMul
        | TransformerOp::Gemm(_)
        | TransformerOp::FusedMatMul(_)
        | TransformerOp::Softmax(_) => Err(Error::internal(format!(
            "{} reached the transformer blocks",
            op.name()
        ))),
    }
}
