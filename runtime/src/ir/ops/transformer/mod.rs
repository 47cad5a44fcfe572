//! Matrix products, softmax, normalization over features, attention (softmax and linear),
//! rotary embeddings, the SwiGLU gate and determinants.
//!
//! Attribute structs are in ONNX terms; the shape rules that evaluation also needs live in
//! [`einsum`] (equation resolution), [`attention`] (Q/K/V/cache sizes) and
//! [`linear_attention`] (Q/K/V/state sizes).

pub mod attention;
pub mod einsum;
pub mod linear_attention;

pub use attention::{Attention, AttentionDims, QkOutput};
pub use einsum::Einsum;
pub use linear_attention::{LinearAttention, LinearAttentionDims, LinearAttentionShapes};

use super::infer_util::{axis, dtype, input, shape};
use super::nn::EpilogueStep;
use crate::ir::Fact;
use crate::tensor::broadcast_shapes;
use crate::{DType, Error, Result};

/// Matrix products, softmax, normalization over features, attention.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum TransformerOp {
    /// numpy `matmul`: 1-D operands are promoted and the added axis removed; batch axes
    /// broadcast.
    MatMul,
    /// `alpha · A'·B' + beta · C`.
    Gemm(Gemm),
    /// `MatMul(A, B') + bias`, then element-wise steps: a `MatMul` or `Gemm` with a constant
    /// 2-D right-hand side whose bias add and activations a pass fused (never in a model
    /// file).
    FusedMatMul(FusedMatMul),
    /// Einstein summation.
    Einsum(Einsum),
    /// `Softmax`, `LogSoftmax`, `Hardmax`.
    Softmax(Softmax),
    /// `LayerNormalization`: outputs `Y`, optional `Mean` and `InvStdDev`.
    LayerNorm(Normalization),
    /// `RMSNormalization`.
    RmsNorm(Normalization),
    /// `LpNormalization`: `x / ‖x‖_p` along one axis (zero where the norm is zero).
    LpNorm(LpNorm),
    /// Scaled dot-product attention with masks and a KV cache.
    Attention(Attention),
    /// `RotaryEmbedding`.
    RotaryEmbedding(RotaryEmbedding),
    /// `LinearAttention`: attention as a recurrence over a `[key, value]` state per head.
    LinearAttention(LinearAttention),
    /// `SwiGLU`: `A · sigmoid(alpha · A) · B` for same-shaped `A` and `B`.
    SwiGlu {
        /// Scale of the gate inside the sigmoid.
        alpha: f32,
    },
    /// `Det`: determinants of the square matrices in the last two axes.
    Det,
}

/// A product with its epilogue fused: inputs `A` (rank >= 1, numpy `matmul` rules), `B`
/// (2-D: `[K, N]`, or `[N, K]` with `trans_b`) and an optional `bias` of `[N]`, added to every
/// row; then `steps` in order, each rounding as the op it replaced did.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FusedMatMul {
    /// `B` is `[N, K]` (a `Gemm`'s `transB`).
    pub trans_b: bool,
    /// Activations and scalar affine maps (no residual).
    pub steps: Vec<EpilogueStep>,
}

impl FusedMatMul {
    /// `B'`'s shape `[K, N]`, from `B`'s.
    pub fn rhs_shape(&self, b: &[usize]) -> Result<[usize; 2]> {
        match *b {
            [k, n] if !self.trans_b => Ok([k, n]),
            [n, k] => Ok([k, n]),
            _ => Err(Error::shape(format!(
                "FusedMatMul needs a 2-D B, got {b:?}"
            ))),
        }
    }
}

/// `Gemm` attributes.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Gemm {
    /// Scale of the product.
    pub alpha: f32,
    /// Scale of `C`.
    pub beta: f32,
    /// Use Aᵀ (`A` is `[K, M]`).
    pub trans_a: bool,
    /// Use Bᵀ (`B` is `[N, K]`).
    pub trans_b: bool,
    /// `C` may broadcast to `[M, N]` (always from opset 7; the `broadcast` attribute before).
    pub broadcast_c: bool,
}

/// Which function of the softmax family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SoftmaxKind {
    /// `exp(x) / Σ exp(x)`.
    Softmax,
    /// `x - log Σ exp(x)`.
    LogSoftmax,
    /// 1 at the first maximum, 0 elsewhere.
    Hardmax,
}

/// `Softmax` / `LogSoftmax` / `Hardmax` attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Softmax {
    /// The function.
    pub kind: SoftmaxKind,
    /// The axis (possibly negative).
    pub axis: i64,
    /// Opset < 13: the input is seen as 2-D `[∏ d[..axis], ∏ d[axis..]]` and the function
    /// runs over the whole second dimension.
    pub flatten: bool,
}

impl Softmax {
    /// ONNX op type.
    pub fn name(&self) -> &'static str {
        match self.kind {
            SoftmaxKind::Softmax => "Softmax",
            SoftmaxKind::LogSoftmax => "LogSoftmax",
            SoftmaxKind::Hardmax => "Hardmax",
        }
    }
}

/// `LayerNormalization` / `RMSNormalization` attributes: normalize over axes `axis..rank`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Normalization {
    /// First normalized axis (possibly negative).
    pub axis: i64,
    /// Added to the variance (mean square) before the square root.
    pub epsilon: f32,
    /// Precision of the statistics (`stash_type`).
    pub stash: DType,
}

impl Normalization {
    /// Shape of the per-row statistics (`Mean`, `InvStdDev`): `d[..axis]` then ones.
    pub fn stats_shape(&self, x: &[usize]) -> Result<Vec<usize>> {
        let a = axis(self.axis, x.len())?;
        Ok(x.iter()
            .enumerate()
            .map(|(i, &d)| if i < a { d } else { 1 })
            .collect())
    }
}

/// `LpNormalization` attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LpNorm {
    /// The axis the norm is taken along (possibly negative).
    pub axis: i64,
    /// Sum of magnitudes (else the Euclidean norm, `p = 2`).
    pub l1: bool,
}

/// `RotaryEmbedding` attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RotaryEmbedding {
    /// Rotate pairs `(x[2i], x[2i+1])` rather than halves `(x[i], x[i + d/2])`.
    pub interleaved: bool,
    /// Rotated leading part of each head (0: the whole head).
    pub rotary_dim: usize,
    /// Heads of a 3-D input `[batch, seq, heads * head]` (0: not given).
    pub num_heads: usize,
}

/// numpy `matmul` output shape.
pub fn matmul_shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    if a.is_empty() || b.is_empty() {
        return Err(Error::shape(
            "MatMul operands must have rank >= 1".to_string(),
        ));
    }
    let k_a = a[a.len() - 1];
    let k_b = if b.len() == 1 { b[0] } else { b[b.len() - 2] };
    if k_a != k_b {
        return Err(Error::shape(format!(
            "MatMul of {a:?} and {b:?}: inner dimensions differ"
        )));
    }
    let batch_a = &a[..a.len().saturating_sub(2)];
    let batch_b = &b[..b.len().saturating_sub(2)];
    let mut out = broadcast_shapes(&[batch_a, batch_b])?;
    if a.len() >= 2 {
        out.push(a[a.len() - 2]);
    }
    if b.len() >= 2 {
        out.push(b[b.len() - 1]);
    }
    Ok(out)
}

/// `Gemm` output shape `[M, N]`.
pub fn gemm_shape(g: &Gemm, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let (&[a0, a1], &[b0, b1]) = (a, b) else {
        return Err(Error::shape(format!(
            "Gemm needs 2-D A and B, got {a:?} and {b:?}"
        )));
    };
    let (m, k) = if g.trans_a { (a1, a0) } else { (a0, a1) };
    let (k_b, n) = if g.trans_b { (b1, b0) } else { (b0, b1) };
    if k != k_b {
        return Err(Error::shape(format!(
            "Gemm of {a:?} and {b:?}: inner dimensions differ"
        )));
    }
    Ok(vec![m, n])
}

/// `Det` output shape: the batch axes of `[*, M, M]`.
pub fn det_shape(x: &[usize]) -> Result<Vec<usize>> {
    match *x {
        [ref batch @ .., m, n] if m == n => Ok(batch.to_vec()),
        _ => Err(Error::shape(format!(
            "Det needs square matrices [*, M, M], got {x:?}"
        ))),
    }
}

/// `SwiGLU` output shape: `A` and `B` must have the same shape (no broadcasting).
pub fn swiglu_shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    if a != b {
        return Err(Error::shape(format!(
            "SwiGLU needs A and B of one shape, got {a:?} and {b:?}"
        )));
    }
    Ok(a.to_vec())
}

impl TransformerOp {
    /// Short name (the ONNX op type).
    pub fn name(&self) -> &'static str {
        match self {
            TransformerOp::MatMul => "MatMul",
            TransformerOp::Gemm(_) => "Gemm",
            TransformerOp::FusedMatMul(_) => "FusedMatMul",
            TransformerOp::Einsum(_) => "Einsum",
            TransformerOp::Softmax(s) => s.name(),
            TransformerOp::LayerNorm(_) => "LayerNormalization",
            TransformerOp::RmsNorm(_) => "RMSNormalization",
            TransformerOp::LpNorm(_) => "LpNormalization",
            TransformerOp::Attention(_) => "Attention",
            TransformerOp::RotaryEmbedding(_) => "RotaryEmbedding",
            TransformerOp::LinearAttention(_) => "LinearAttention",
            TransformerOp::SwiGlu { .. } => "SwiGLU",
            TransformerOp::Det => "Det",
        }
    }

    /// Output facts from input facts; see [`super::Op::infer`].
    pub fn infer(&self, inputs: &[Option<&Fact>]) -> Result<Vec<Fact>> {
        let t = dtype(inputs, 0);
        let fact = |shape: Option<Vec<usize>>| Fact {
            dtype: t,
            shape,
            value: None,
        };
        Ok(match self {
            TransformerOp::MatMul => {
                let s = match (shape(inputs, 0), shape(inputs, 1)) {
                    (Some(a), Some(b)) => Some(matmul_shape(a, b)?),
                    _ => None,
                };
                vec![fact(s)]
            }
            TransformerOp::Gemm(g) => {
                let s = match (shape(inputs, 0), shape(inputs, 1)) {
                    (Some(a), Some(b)) => Some(gemm_shape(g, a, b)?),
                    _ => None,
                };
                vec![fact(s)]
            }
            TransformerOp::FusedMatMul(f) => {
                let s = match (shape(inputs, 0), shape(inputs, 1)) {
                    (Some(a), Some(b)) => Some(matmul_shape(a, &f.rhs_shape(b)?)?),
                    _ => None,
                };
                vec![fact(s)]
            }
            TransformerOp::Einsum(e) => {
                let shapes: Option<Vec<&[usize]>> =
                    (0..inputs.len()).map(|i| shape(inputs, i)).collect();
                let s = match shapes {
                    Some(shapes) => Some(e.resolve(&shapes)?.output_shape()),
                    None => None,
                };
                vec![fact(s)]
            }
            TransformerOp::Softmax(_)
            | TransformerOp::RmsNorm(_)
            | TransformerOp::RotaryEmbedding(_) => {
                vec![fact(shape(inputs, 0).map(<[usize]>::to_vec))]
            }
            TransformerOp::LpNorm(n) => {
                let x = shape(inputs, 0);
                if let Some(x) = x {
                    axis(n.axis, x.len())?;
                }
                vec![fact(x.map(<[usize]>::to_vec))]
            }
            TransformerOp::LayerNorm(n) => {
                let x = shape(inputs, 0);
                let stats = x.map(|x| n.stats_shape(x)).transpose()?;
                let stat = || Fact {
                    dtype: Some(n.stash),
                    shape: stats.clone(),
                    value: None,
                };
                vec![fact(x.map(<[usize]>::to_vec)), stat(), stat()]
            }
            TransformerOp::Attention(a) => {
                let dims = match (shape(inputs, 0), shape(inputs, 1), shape(inputs, 2)) {
                    (Some(q), Some(k), Some(v)) => {
                        let past = |i| input(inputs, i).map(|f| f.shape.as_deref());
                        match (past(4), past(5)) {
                            (Some(None), _) | (_, Some(None)) => None,
                            (pk, pv) => Some(a.dims(q, k, v, pk.flatten(), pv.flatten())?),
                        }
                    }
                    _ => None,
                };
                vec![
                    fact(dims.map(|d| d.output_shape())),
                    fact(dims.map(|d| d.present_key_shape())),
                    fact(dims.map(|d| d.present_value_shape())),
                    fact(dims.map(|d| d.qk_shape())),
                ]
            }
            TransformerOp::LinearAttention(a) => {
                let dims = linear_attention_dims(a, inputs)?;
                // The state keeps the past state's type (the query's without one).
                let state_dtype = match input(inputs, 3) {
                    Some(past) => past.dtype,
                    None => t,
                };
                vec![
                    fact(dims.map(|d| d.output_shape())),
                    Fact {
                        dtype: state_dtype,
                        shape: dims.map(|d| d.state_shape()),
                        value: None,
                    },
                ]
            }
            TransformerOp::SwiGlu { .. } => {
                let s = match (shape(inputs, 0), shape(inputs, 1)) {
                    (Some(a), Some(b)) => Some(swiglu_shape(a, b)?),
                    _ => None,
                };
                vec![fact(s)]
            }
            TransformerOp::Det => vec![fact(shape(inputs, 0).map(det_shape).transpose()?)],
        })
    }
}

/// The sizes of a `LinearAttention` node when every given input's shape is known.
fn linear_attention_dims(
    a: &LinearAttention,
    inputs: &[Option<&Fact>],
) -> Result<Option<LinearAttentionDims>> {
    // Some(None): omitted; Some(Some(s)): known; None: given but unknown.
    let optional = |i| match input(inputs, i) {
        None => Some(None),
        Some(f) => f.shape.as_deref().map(Some),
    };
    let (Some(query), Some(key), Some(value)) =
        (shape(inputs, 0), shape(inputs, 1), shape(inputs, 2))
    else {
        return Ok(None);
    };
    let (Some(past_state), Some(decay), Some(beta)) = (optional(3), optional(4), optional(5))
    else {
        return Ok(None);
    };
    a.dims(&LinearAttentionShapes {
        query,
        key,
        value,
        past_state,
        decay,
        beta,
    })
    .map(Some)
}
