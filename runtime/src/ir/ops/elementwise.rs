//! Elementwise math: unary functions and activations, broadcasting binary operators,
//! comparisons and logic, variadic reductions over inputs (`Sum`, `Max`...), `Where`, `Clip`
//! and inference-mode `Dropout`.
//!
//! Every op here maps each output element to the input elements at the same (broadcast)
//! position, so inference is only about dtypes and numpy-style broadcast shapes.

use super::infer_util::{dtype, shape};
use super::nn::EpilogueStep;
use crate::ir::Fact;
use crate::tensor::broadcast_shapes;
use crate::{DType, Error, Result};

/// Elementwise operations.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum ElementwiseOp {
    /// One input, same shape out.
    Unary(Unary),
    /// Two inputs broadcast numpy-style.
    Binary(Binary),
    /// A binary op of opset < 7 with `broadcast=1` and an explicit `axis`: the second input's
    /// dims line up with the first input's dims starting at `axis` (not right-aligned).
    BinaryAtAxis {
        /// The operator.
        op: Binary,
        /// Where the second input's first dim sits in the first input (may be negative).
        axis: i64,
    },
    /// Any number of inputs (at least one) broadcast together and folded left to right.
    Variadic(Variadic),
    /// `Where(condition, x, y)`: picks from `x` where `condition` is true, else from `y`.
    Where,
    /// Clamps into `[min, max]`.
    Clip(Clip),
    /// Inference-mode dropout: output 0 is the input, optional output 1 a mask of ones.
    Dropout(Dropout),
    /// Several f32 element-wise ops in a row, fused by a pass (never in a model file): the
    /// steps run in order on each cache-sized block, so the tensor is read and written once.
    /// Activations and scalar affine maps only (no residual).
    Chain(Vec<EpilogueStep>),
}

/// Unary functions (with their attributes).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Unary {
    /// |x|
    Abs,
    /// -x
    Neg,
    /// e^x
    Exp,
    /// Natural logarithm.
    Log,
    /// Square root.
    Sqrt,
    /// 1/x
    Reciprocal,
    /// Round down.
    Floor,
    /// Round up.
    Ceil,
    /// Round half to even.
    Round,
    /// -1, 0 or 1.
    Sign,
    /// Sine.
    Sin,
    /// Cosine.
    Cos,
    /// Tangent.
    Tan,
    /// Arcsine.
    Asin,
    /// Arccosine.
    Acos,
    /// Arctangent.
    Atan,
    /// Hyperbolic sine.
    Sinh,
    /// Hyperbolic cosine.
    Cosh,
    /// Inverse hyperbolic sine.
    Asinh,
    /// Inverse hyperbolic cosine.
    Acosh,
    /// Inverse hyperbolic tangent.
    Atanh,
    /// Gauss error function.
    Erf,
    /// NaN test, bool out.
    IsNaN,
    /// Infinity test, bool out.
    IsInf {
        /// Report +inf.
        detect_positive: bool,
        /// Report -inf.
        detect_negative: bool,
    },
    /// Logical not of a bool tensor.
    Not,
    /// Bitwise complement of an integer tensor.
    BitwiseNot,
    /// max(x, 0)
    Relu,
    /// x if x >= 0 else alpha * x
    LeakyRelu {
        /// Slope for negative inputs.
        alpha: f32,
    },
    /// x if x > 0 else alpha * (e^x - 1)
    Elu {
        /// Scale of the negative part.
        alpha: f32,
    },
    /// gamma * (x if x > 0 else alpha * (e^x - 1))
    Selu {
        /// Scale of the negative part.
        alpha: f32,
        /// Overall scale.
        gamma: f32,
    },
    /// max(0, x) + min(0, alpha * (e^(x/alpha) - 1))
    Celu {
        /// Scale (and inverse input scale) of the negative part.
        alpha: f32,
    },
    /// 1 / (1 + e^-x)
    Sigmoid,
    /// max(0, min(1, alpha * x + beta))
    HardSigmoid {
        /// Slope.
        alpha: f32,
        /// Offset.
        beta: f32,
    },
    /// x * max(0, min(1, x / 6 + 1 / 2))
    HardSwish,
    /// ln(1 + e^x)
    Softplus,
    /// x / (1 + |x|)
    Softsign,
    /// Hyperbolic tangent.
    Tanh,
    /// x if x > alpha else 0
    ThresholdedRelu {
        /// Threshold.
        alpha: f32,
    },
    /// x * tanh(softplus(x))
    Mish,
    /// x * Phi(x), exactly (erf) or with the tanh approximation.
    Gelu {
        /// `approximate="tanh"`.
        tanh_approximation: bool,
    },
    /// x + bias if x < -lambd, x - bias if x > lambd, else 0
    Shrink {
        /// Shift applied outside the dead zone.
        bias: f32,
        /// Half-width of the dead zone.
        lambd: f32,
    },
    /// x * sigmoid(alpha * x)
    Swish {
        /// Scale inside the sigmoid.
        alpha: f32,
    },
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Binary {
    /// a + b
    Add,
    /// a - b
    Sub,
    /// a * b
    Mul,
    /// a / b (integers truncate toward zero)
    Div,
    /// a ^ b, output of a's dtype (b may have another numeric dtype)
    Pow,
    /// Remainder: sign of the divisor (`fmod=0`) or of the dividend (`fmod=1`).
    Mod {
        /// C `fmod` semantics.
        fmod: bool,
    },
    /// a == b (bool out)
    Equal,
    /// a < b (bool out)
    Less,
    /// a > b (bool out)
    Greater,
    /// a <= b (bool out)
    LessOrEqual,
    /// a >= b (bool out)
    GreaterOrEqual,
    /// Logical and of bools.
    And,
    /// Logical or of bools.
    Or,
    /// Logical xor of bools.
    Xor,
    /// a << b for integers (shifts outside the bit width give 0).
    BitShiftLeft,
    /// a >> b for integers (arithmetic for signed types).
    BitShiftRight,
    /// a & b for integers.
    BitwiseAnd,
    /// a | b for integers.
    BitwiseOr,
    /// a ^ b for integers.
    BitwiseXor,
    /// x if x >= 0 else slope * x (`PRelu(x, slope)`).
    PRelu,
}

/// Ops over any number of broadcast inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Variadic {
    /// Sum of the inputs.
    Sum,
    /// Sum divided by the input count.
    Mean,
    /// Elementwise maximum (NaN wins).
    Max,
    /// Elementwise minimum (NaN wins).
    Min,
}

/// Where `Clip` takes its bounds from.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Clip {
    /// Opset >= 11: optional scalar inputs 1 (min) and 2 (max).
    FromInputs,
    /// Opset < 11: attributes.
    Attributes {
        /// Lower bound.
        min: f32,
        /// Upper bound.
        max: f32,
    },
}

/// `Dropout` in inference mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Dropout {
    /// Opset < 10: the mask has the input's dtype (ones) instead of bool (true).
    pub mask_like_input: bool,
    /// Opset >= 12: inputs 1 (ratio) and 2 (training_mode) may be given.
    pub ratio_and_mode_inputs: bool,
}

impl Unary {
    /// Short name (the ONNX op type).
    pub fn name(&self) -> &'static str {
        match self {
            Unary::Abs => "Abs",
            Unary::Neg => "Neg",
            Unary::Exp => "Exp",
            Unary::Log => "Log",
            Unary::Sqrt => "Sqrt",
            Unary::Reciprocal => "Reciprocal",
            Unary::Floor => "Floor",
            Unary::Ceil => "Ceil",
            Unary::Round => "Round",
            Unary::Sign => "Sign",
            Unary::Sin => "Sin",
            Unary::Cos => "Cos",
            Unary::Tan => "Tan",
            Unary::Asin => "Asin",
            Unary::Acos => "Acos",
            Unary::Atan => "Atan",
            Unary::Sinh => "Sinh",
            Unary::Cosh => "Cosh",
            Unary::Asinh => "Asinh",
            Unary::Acosh => "Acosh",
            Unary::Atanh => "Atanh",
            Unary::Erf => "Erf",
            Unary::IsNaN => "IsNaN",
            Unary::IsInf { .. } => "IsInf",
            Unary::Not => "Not",
            Unary::BitwiseNot => "BitwiseNot",
            Unary::Relu => "Relu",
            Unary::LeakyRelu { .. } => "LeakyRelu",
            Unary::Elu { .. } => "Elu",
            Unary::Selu { .. } => "Selu",
            Unary::Celu { .. } => "Celu",
            Unary::Sigmoid => "Sigmoid",
            Unary::HardSigmoid { .. } => "HardSigmoid",
            Unary::HardSwish => "HardSwish",
            Unary::Softplus => "Softplus",
            Unary::Softsign => "Softsign",
            Unary::Tanh => "Tanh",
            Unary::ThresholdedRelu { .. } => "ThresholdedRelu",
            Unary::Mish => "Mish",
            Unary::Gelu { .. } => "Gelu",
            Unary::Shrink { .. } => "Shrink",
            Unary::Swish { .. } => "Swish",
        }
    }

    /// The output dtype for an input of `input`.
    pub fn output_dtype(&self, input: DType) -> DType {
        match self {
            Unary::IsNaN | Unary::IsInf { .. } => DType::Bool,
            _ => input,
        }
    }
}

impl Binary {
    /// Short name (the ONNX op type).
    pub fn name(&self) -> &'static str {
        match self {
            Binary::Add => "Add",
            Binary::Sub => "Sub",
            Binary::Mul => "Mul",
            Binary::Div => "Div",
            Binary::Pow => "Pow",
            Binary::Mod { .. } => "Mod",
            Binary::Equal => "Equal",
            Binary::Less => "Less",
            Binary::Greater => "Greater",
            Binary::LessOrEqual => "LessOrEqual",
            Binary::GreaterOrEqual => "GreaterOrEqual",
            Binary::And => "And",
            Binary::Or => "Or",
            Binary::Xor => "Xor",
            Binary::BitShiftLeft | Binary::BitShiftRight => "BitShift",
            Binary::BitwiseAnd => "BitwiseAnd",
            Binary::BitwiseOr => "BitwiseOr",
            Binary::BitwiseXor => "BitwiseXor",
            Binary::PRelu => "PRelu",
        }
    }

    /// Comparisons produce bools whatever their input dtype.
    pub fn is_comparison(&self) -> bool {
        matches!(
            self,
            Binary::Equal
                | Binary::Less
                | Binary::Greater
                | Binary::LessOrEqual
                | Binary::GreaterOrEqual
        )
    }

    /// The output dtype for a first input of `a` (the output follows the first input, except
    /// for comparisons).
    pub fn output_dtype(&self, a: DType) -> DType {
        if self.is_comparison() {
            DType::Bool
        } else {
            a
        }
    }
}

impl Variadic {
    /// Short name (the ONNX op type).
    pub fn name(&self) -> &'static str {
        match self {
            Variadic::Sum => "Sum",
            Variadic::Mean => "Mean",
            Variadic::Max => "Max",
            Variadic::Min => "Min",
        }
    }
}

/// The shape the second input of a legacy `axis` broadcast takes so that numpy rules apply:
/// trailing 1s pad it to end where the first input ends.
pub fn align_at_axis(a_rank: usize, b_shape: &[usize], axis: i64) -> Result<Vec<usize>> {
    let axis = super::infer_util::axis(axis, a_rank)?;
    let end = axis + b_shape.len();
    if end > a_rank {
        return Err(Error::shape(format!(
            "second input of shape {b_shape:?} does not fit at axis {axis} of a rank-{a_rank} input"
        )));
    }
    let mut aligned = b_shape.to_vec();
    aligned.resize(a_rank - axis, 1);
    Ok(aligned)
}

impl ElementwiseOp {
    /// Short name (the ONNX op type).
    pub fn name(&self) -> &'static str {
        match self {
            ElementwiseOp::Unary(u) => u.name(),
            ElementwiseOp::Binary(b) | ElementwiseOp::BinaryAtAxis { op: b, .. } => b.name(),
            ElementwiseOp::Variadic(v) => v.name(),
            ElementwiseOp::Where => "Where",
            ElementwiseOp::Clip(_) => "Clip",
            ElementwiseOp::Dropout(_) => "Dropout",
            ElementwiseOp::Chain(_) => "ElementwiseChain",
        }
    }

    /// Random ops are never folded (inference-mode dropout is not random).
    pub fn is_nondeterministic(&self) -> bool {
        false
    }

    /// Output facts from input facts; see [`super::Op::infer`].
    pub fn infer(&self, inputs: &[Option<&Fact>]) -> Result<Vec<Fact>> {
        let same_shape = || shape(inputs, 0).map(|s| s.to_vec());
        Ok(match self {
            ElementwiseOp::Unary(u) => {
                vec![Fact {
                    dtype: dtype(inputs, 0).map(|d| u.output_dtype(d)),
                    shape: same_shape(),
                    value: None,
                }]
            }
            ElementwiseOp::Binary(b) => {
                let out_shape = broadcast_of(inputs, &[0, 1])?;
                vec![Fact {
                    dtype: dtype(inputs, 0).map(|d| b.output_dtype(d)),
                    shape: out_shape,
                    value: None,
                }]
            }
            ElementwiseOp::BinaryAtAxis { op, axis } => {
                let out_shape = match (shape(inputs, 0), shape(inputs, 1)) {
                    (Some(a), Some(b)) => {
                        Some(broadcast_shapes(&[a, &align_at_axis(a.len(), b, *axis)?])?)
                    }
                    _ => None,
                };
                vec![Fact {
                    dtype: dtype(inputs, 0).map(|d| op.output_dtype(d)),
                    shape: out_shape,
                    value: None,
                }]
            }
            ElementwiseOp::Variadic(_) => {
                let all: Vec<usize> = (0..inputs.len()).collect();
                vec![Fact {
                    dtype: dtype(inputs, 0),
                    shape: broadcast_of(inputs, &all)?,
                    value: None,
                }]
            }
            ElementwiseOp::Where => {
                vec![Fact {
                    dtype: dtype(inputs, 1),
                    shape: broadcast_of(inputs, &[0, 1, 2])?,
                    value: None,
                }]
            }
            ElementwiseOp::Clip(_) | ElementwiseOp::Chain(_) => vec![Fact {
                dtype: dtype(inputs, 0),
                shape: same_shape(),
                value: None,
            }],
            ElementwiseOp::Dropout(d) => {
                let mask_dtype = if d.mask_like_input {
                    dtype(inputs, 0)
                } else {
                    Some(DType::Bool)
                };
                vec![
                    Fact {
                        dtype: dtype(inputs, 0),
                        shape: same_shape(),
                        value: None,
                    },
                    Fact {
                        dtype: mask_dtype,
                        shape: same_shape(),
                        value: None,
                    },
                ]
            }
        })
    }
}

/// The broadcast shape of the listed inputs, when all their shapes are known.
fn broadcast_of(inputs: &[Option<&Fact>], which: &[usize]) -> Result<Option<Vec<usize>>> {
    let mut shapes = Vec::with_capacity(which.len());
    for &i in which {
        match shape(inputs, i) {
            Some(s) => shapes.push(s),
            None => return Ok(None),
        }
    }
    broadcast_shapes(&shapes).map(Some)
}
