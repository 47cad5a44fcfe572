//! Convolutions, pooling and channel normalizations: ops over `[N, C, spatial...]` tensors.
//!
//! Window geometry (pads, output sizes) lives in [`window`] and is shared by shape inference
//! and the backends, so both compute the same sizes by construction.

pub mod window;

use super::infer_util::{dtype, input, shape};
use crate::ir::Fact;
use crate::{DType, Result};
pub use window::{Geometry, Padding, TransposedGeometry, Window};

/// Convolutions, pooling and channel normalizations.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum NnOp {
    /// `Conv(X, W, B?)`.
    Conv(Conv),
    /// `Conv(X, W, B?)` followed by the element-wise `steps` of an epilogue, which may read a
    /// residual `R` (input 3, optional): made by the fusion passes, not by import.
    FusedConv(FusedConv),
    /// `ConvTranspose(X, W, B?)`.
    ConvTranspose(ConvTranspose),
    /// `MaxPool` (with optional `Indices` output), `AveragePool`, `LpPool`.
    Pool(Pool),
    /// `GlobalMaxPool`, `GlobalAveragePool`, `GlobalLpPool`: one window over all spatial axes.
    GlobalPool(GlobalPoolKind),
    /// `BatchNormalization(X, scale, B, mean, var)`.
    BatchNorm(BatchNorm),
    /// `InstanceNormalization(X, scale, B)`: statistics per sample and channel.
    InstanceNorm {
        /// Added to the variance.
        epsilon: f32,
    },
    /// `GroupNormalization(X, scale, bias)`: statistics per sample and channel group.
    GroupNorm(GroupNorm),
    /// `LRN`: local response normalization across channels.
    Lrn(Lrn),
    /// `MeanVarianceNormalization`: zero mean, unit variance over `axes`.
    MeanVarianceNorm {
        /// Axes the statistics are taken over (may be negative).
        axes: Vec<i64>,
    },
    /// `Col2Im(input, image_shape, block_shape)`: the adjoint of im2col.
    Col2Im(Col2Im),
    /// `DeformConv(X, W, offset, B?, mask?)`: convolution whose taps sample the input at learned
    /// fractional offsets (bilinear, zero outside).
    DeformConv(DeformConv),
    /// `CausalConvWithState(input, weight, bias?, past_state?)`: depthwise causal 1-D
    /// convolution that also returns its last `k − 1` input positions as the next call's state.
    CausalConv {
        /// Fused SiLU (`x · sigmoid(x)`) on the output.
        silu: bool,
    },
}

/// Convolution attributes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Conv {
    /// Kernel (possibly empty: from `W`), strides, dilations, padding.
    pub window: Window,
    /// Channel groups (`C_in` and `C_out` are both split into `group` parts).
    pub group: usize,
}

/// A convolution with the element-wise ops after it fused in.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FusedConv {
    /// The convolution.
    pub conv: Conv,
    /// Applied in order to each output element after the bias.
    pub steps: Vec<EpilogueStep>,
}

/// One element-wise step of a fused epilogue.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum EpilogueStep {
    /// An activation.
    Activation(FusedActivation),
    /// `y += R` where `R` (input 3) has the output's shape; any other shape broadcasts (the
    /// backend then adds it separately).
    AddResidual,
    /// `y = y · scale + shift`, rounded after the product and after the sum (a `Mul` by a
    /// scalar, an `Add` of one, or both in that order). A lone `Mul` has `shift = -0.0`, which
    /// leaves every product unchanged, signed zeros included.
    Affine {
        /// Factor.
        scale: f32,
        /// Term added after the product.
        shift: f32,
    },
}

impl EpilogueStep {
    /// The op names this step stands for, for profiles (`Mul+Add`).
    pub fn name(&self) -> &'static str {
        match self {
            EpilogueStep::Activation(a) => a.name(),
            EpilogueStep::AddResidual => "Add",
            EpilogueStep::Affine { shift, .. } if shift.to_bits() == (-0.0f32).to_bits() => "Mul",
            EpilogueStep::Affine { scale, .. } if *scale == 1.0 => "Add",
            EpilogueStep::Affine { .. } => "Mul+Add",
        }
    }
}

/// The activations an epilogue can apply (the unary ops that have one).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum FusedActivation {
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, min), max)`.
    Clip {
        /// Lower bound.
        min: f32,
        /// Upper bound.
        max: f32,
    },
    /// `x` if `x >= 0` else `alpha · x`.
    LeakyRelu {
        /// Slope below zero.
        alpha: f32,
    },
    /// `clip(alpha · x + beta, 0, 1)`.
    HardSigmoid {
        /// Slope.
        alpha: f32,
        /// Offset.
        beta: f32,
    },
    /// `x · clip(x / 6 + 1/2, 0, 1)`.
    HardSwish,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `tanh(x)`.
    Tanh,
}

impl FusedActivation {
    /// The ONNX op type.
    pub fn name(&self) -> &'static str {
        match self {
            FusedActivation::Relu => "Relu",
            FusedActivation::Clip { .. } => "Clip",
            FusedActivation::LeakyRelu { .. } => "LeakyRelu",
            FusedActivation::HardSigmoid { .. } => "HardSigmoid",
            FusedActivation::HardSwish => "HardSwish",
            FusedActivation::Sigmoid => "Sigmoid",
            FusedActivation::Tanh => "Tanh",
        }
    }
}

/// Transposed convolution attributes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConvTranspose {
    /// Kernel (possibly empty: from `W`), strides, dilations, padding.
    pub window: Window,
    /// Channel groups.
    pub group: usize,
    /// Extra size added at the end of each output axis (empty: none).
    pub output_padding: Vec<usize>,
    /// Requested output size, which then determines the padding (empty: none).
    pub output_shape: Vec<usize>,
}

/// Windowed pooling attributes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Pool {
    /// What the window reduces to.
    pub kind: PoolKind,
    /// Kernel (required), strides, dilations, padding.
    pub window: Window,
    /// Round the output size up rather than down.
    pub ceil_mode: bool,
}

/// The reduction of a windowed pool.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum PoolKind {
    /// Maximum; the optional second output holds flat indices of the maxima.
    Max {
        /// `storage_order = 1`: indices count the spatial axes column-major.
        column_major_indices: bool,
    },
    /// Mean.
    Average {
        /// Padding elements count in the divisor.
        count_include_pad: bool,
    },
    /// `(Σ |x|^p)^(1/p)`.
    Lp {
        /// The norm's exponent.
        p: f32,
    },
}

/// The reduction of a global pool.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum GlobalPoolKind {
    /// Maximum.
    Max,
    /// Mean.
    Average,
    /// `(Σ |x|^p)^(1/p)`.
    Lp {
        /// The norm's exponent.
        p: f32,
    },
}

/// Batch normalization attributes.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BatchNorm {
    /// Added to the variance.
    pub epsilon: f32,
    /// Weight of the old running statistics in training mode.
    pub momentum: f32,
    /// Normalize with the batch's own statistics and output updated running mean/variance.
    pub training: bool,
}

/// Group normalization attributes.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GroupNorm {
    /// Added to the variance.
    pub epsilon: f32,
    /// Number of channel groups (divides `C`).
    pub num_groups: usize,
    /// Opset ≥ 21: `scale` and `bias` have one entry per channel; before, one per group.
    pub per_channel_affine: bool,
}

/// Local response normalization attributes.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Lrn {
    /// Scale of the square sum.
    pub alpha: f32,
    /// Exponent.
    pub beta: f32,
    /// Offset.
    pub bias: f32,
    /// Channels summed over (centred on each channel).
    pub size: usize,
}

/// `Col2Im` attributes (per spatial axis; empty means the default).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Col2Im {
    /// Dilations (default ones).
    pub dilations: Vec<usize>,
    /// Begin pads then end pads (default zeros).
    pub pads: Vec<usize>,
    /// Strides (default ones).
    pub strides: Vec<usize>,
}

/// `DeformConv` attributes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeformConv {
    /// Kernel, strides, dilations, explicit pads and channel groups, as for [`Conv`].
    pub conv: Conv,
    /// Groups of input channels sharing one set of offsets (and mask).
    pub offset_group: usize,
}

impl NnOp {
    /// Short name (the ONNX op type).
    pub fn name(&self) -> &'static str {
        match self {
            NnOp::Conv(_) => "Conv",
            NnOp::FusedConv(_) => "FusedConv",
            NnOp::ConvTranspose(_) => "ConvTranspose",
            NnOp::Pool(p) => match p.kind {
                PoolKind::Max { .. } => "MaxPool",
                PoolKind::Average { .. } => "AveragePool",
                PoolKind::Lp { .. } => "LpPool",
            },
            NnOp::GlobalPool(GlobalPoolKind::Max) => "GlobalMaxPool",
            NnOp::GlobalPool(GlobalPoolKind::Average) => "GlobalAveragePool",
            NnOp::GlobalPool(GlobalPoolKind::Lp { .. }) => "GlobalLpPool",
            NnOp::BatchNorm(_) => "BatchNormalization",
            NnOp::InstanceNorm { .. } => "InstanceNormalization",
            NnOp::GroupNorm(_) => "GroupNormalization",
            NnOp::Lrn(_) => "LRN",
            NnOp::MeanVarianceNorm { .. } => "MeanVarianceNormalization",
            NnOp::Col2Im(_) => "Col2Im",
            NnOp::DeformConv(_) => "DeformConv",
            NnOp::CausalConv { .. } => "CausalConvWithState",
        }
    }

    /// Output facts from input facts; see [`super::Op::infer`].
    pub fn infer(&self, inputs: &[Option<&Fact>]) -> Result<Vec<Fact>> {
        let x_dtype = dtype(inputs, 0);
        let same_as_x = || Fact {
            dtype: x_dtype,
            shape: shape(inputs, 0).map(<[usize]>::to_vec),
            value: None,
        };
        let with_shape = |s: Option<Vec<usize>>| Fact {
            dtype: x_dtype,
            shape: s,
            value: None,
        };
        Ok(match self {
            NnOp::Conv(conv) | NnOp::DeformConv(DeformConv { conv, .. }) => vec![with_shape(
                conv_shape(conv, shape(inputs, 0), shape(inputs, 1))?,
            )],
            NnOp::FusedConv(FusedConv { conv, steps }) => {
                let y = conv_shape(conv, shape(inputs, 0), shape(inputs, 1))?;
                // A residual may broadcast the output to a larger shape.
                let y = if steps.contains(&EpilogueStep::AddResidual) {
                    match (y, shape(inputs, 3)) {
                        (Some(y), Some(r)) => Some(crate::tensor::broadcast_shapes(&[&y, r])?),
                        _ => None,
                    }
                } else {
                    y
                };
                vec![with_shape(y)]
            }
            NnOp::ConvTranspose(ct) => {
                vec![with_shape(conv_transpose_shape(
                    ct,
                    shape(inputs, 0),
                    shape(inputs, 1),
                )?)]
            }
            NnOp::Pool(pool) => {
                let out = match shape(inputs, 0) {
                    Some(x) => Some(pool_shape(pool, x)?),
                    None => None,
                };
                let indices = Fact {
                    dtype: Some(DType::I64),
                    shape: out.clone(),
                    value: None,
                };
                match pool.kind {
                    PoolKind::Max { .. } => vec![with_shape(out), indices],
                    _ => vec![with_shape(out)],
                }
            }
            NnOp::GlobalPool(_) => {
                let out = shape(inputs, 0).filter(|x| x.len() >= 2).map(|x| {
                    x.iter()
                        .enumerate()
                        .map(|(i, &d)| if i < 2 { d } else { 1 })
                        .collect()
                });
                vec![with_shape(out)]
            }
            NnOp::BatchNorm(bn) if bn.training => {
                let stat = |i: usize| Fact {
                    dtype: dtype(inputs, i),
                    shape: shape(inputs, i).map(<[usize]>::to_vec),
                    value: None,
                };
                vec![same_as_x(), stat(3), stat(4)]
            }
            NnOp::BatchNorm(_)
            | NnOp::InstanceNorm { .. }
            | NnOp::GroupNorm(_)
            | NnOp::Lrn(_)
            | NnOp::MeanVarianceNorm { .. } => vec![same_as_x()],
            NnOp::Col2Im(_) => vec![with_shape(col2im_shape(inputs))],
            NnOp::CausalConv { .. } => {
                let state = match (shape(inputs, 0), shape(inputs, 1)) {
                    (Some(&[batch, channels, _]), Some(&[_, _, k])) if k > 0 => {
                        Some(vec![batch, channels, k - 1])
                    }
                    _ => None,
                };
                vec![same_as_x(), with_shape(state)]
            }
        })
    }
}

/// `[N, C_out, spatial...]` of a convolution, when the shapes of `X` and `W` are known.
pub(crate) fn conv_shape(
    conv: &Conv,
    x: Option<&[usize]>,
    w: Option<&[usize]>,
) -> Result<Option<Vec<usize>>> {
    let (Some(x), Some(w)) = (x, w) else {
        return Ok(None);
    };
    if x.len() < 3 || w.len() != x.len() {
        crate::bail!(
            shape,
            "Conv: input {x:?} and weights {w:?} need equal ranks of at least 3"
        );
    }
    let geometry = conv.window.resolve(&x[2..], Some(&w[2..]), false)?;
    Ok(Some([&[x[0], w[0]][..], &geometry.output].concat()))
}

/// `[N, C_out, spatial...]` of a transposed convolution.
fn conv_transpose_shape(
    ct: &ConvTranspose,
    x: Option<&[usize]>,
    w: Option<&[usize]>,
) -> Result<Option<Vec<usize>>> {
    let (Some(x), Some(w)) = (x, w) else {
        return Ok(None);
    };
    if x.len() < 3 || w.len() != x.len() {
        crate::bail!(
            shape,
            "ConvTranspose: input {x:?} and weights {w:?} need equal ranks of at least 3"
        );
    }
    let geometry =
        ct.window
            .resolve_transposed(&x[2..], &w[2..], &ct.output_padding, &ct.output_shape)?;
    let channels = w[1]
        .checked_mul(ct.group)
        .ok_or_else(|| crate::Error::shape("ConvTranspose: output channel count overflows"))?;
    Ok(Some([&[x[0], channels][..], &geometry.output].concat()))
}

/// `[N, C, spatial...]` of a windowed pool.
pub fn pool_shape(pool: &Pool, x: &[usize]) -> Result<Vec<usize>> {
    if x.len() < 3 {
        crate::bail!(
            shape,
            "pooling needs an input of rank at least 3, got {x:?}"
        );
    }
    let geometry = pool.window.resolve(&x[2..], None, pool.ceil_mode)?;
    Ok([&x[..2], &geometry.output].concat())
}

/// `[N, C, image_shape...]` of `Col2Im`, when `image_shape` and `block_shape` are constants.
fn col2im_shape(inputs: &[Option<&Fact>]) -> Option<Vec<usize>> {
    let x = shape(inputs, 0)?;
    let image = input(inputs, 1)?.value.as_ref()?.view().to_i64_vec().ok()?;
    let block = input(inputs, 2)?.value.as_ref()?.view().to_i64_vec().ok()?;
    let taps = block
        .iter()
        .try_fold(1usize, |acc, &b| acc.checked_mul(usize::try_from(b).ok()?))?;
    if x.len() != 3 || taps == 0 || x[1] % taps != 0 || image.iter().any(|&d| d < 0) {
        return None;
    }
    Some(
        [x[0], x[1] / taps]
            .into_iter()
            .chain(image.iter().map(|&d| d as usize))
            .collect(),
    )
}
