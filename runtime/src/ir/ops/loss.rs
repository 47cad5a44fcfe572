//! Training losses evaluated in inference: `NegativeLogLikelihoodLoss` and
//! `SoftmaxCrossEntropyLoss`.
//!
//! Both take scores `x` of shape `[N, C, d1, ..., dk]`, class indices `target` of shape
//! `[N, d1, ..., dk]` and optional per-class weights `[C]`; the cross-entropy form applies a
//! log-softmax over the class axis first. The shape rules live here ([`loss_shape`]) so that
//! inference and evaluation cannot disagree.

use super::infer_util::{dtype, shape};
use crate::ir::Fact;
use crate::{Error, Result};

/// Classification losses.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum LossOp {
    /// `NegativeLogLikelihoodLoss`: `x` already holds log-probabilities.
    NegativeLogLikelihood(ClassLoss),
    /// `SoftmaxCrossEntropyLoss`: log-softmax of `x` over axis 1, then the NLL loss; an
    /// optional second output returns the log-probabilities.
    SoftmaxCrossEntropy(ClassLoss),
}

/// The attributes both losses share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClassLoss {
    /// How per-element losses are combined.
    pub reduction: Reduction,
    /// Targets equal to this contribute neither loss nor weight.
    pub ignore_index: Option<i64>,
}

/// How per-element losses are combined into the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Reduction {
    /// One loss per target element (output shaped like `target`).
    None,
    /// Σ loss (a scalar).
    Sum,
    /// Σ loss / Σ applied weights (a scalar); ignored targets weigh 0, unweighted ones 1.
    Mean,
}

impl Reduction {
    /// Parses the ONNX `reduction` attribute.
    pub fn parse(s: &str) -> Option<Reduction> {
        Some(match s {
            "none" => Reduction::None,
            "sum" => Reduction::Sum,
            "mean" => Reduction::Mean,
            _ => return None,
        })
    }
}

impl LossOp {
    /// Short name (the ONNX op type).
    pub fn name(&self) -> &'static str {
        match self {
            LossOp::NegativeLogLikelihood(_) => "NegativeLogLikelihoodLoss",
            LossOp::SoftmaxCrossEntropy(_) => "SoftmaxCrossEntropyLoss",
        }
    }

    /// The shared attributes.
    pub fn attrs(&self) -> &ClassLoss {
        match self {
            LossOp::NegativeLogLikelihood(a) | LossOp::SoftmaxCrossEntropy(a) => a,
        }
    }

    /// Output facts from input facts; see [`super::Op::infer`].
    pub fn infer(&self, inputs: &[Option<&Fact>]) -> Result<Vec<Fact>> {
        let x_dtype = dtype(inputs, 0);
        let x_shape = shape(inputs, 0);
        let loss_shape = match (x_shape, shape(inputs, 1)) {
            (Some(x), Some(t)) => Some(loss_shape(x, t, shape(inputs, 2), self.attrs().reduction)?),
            _ => None,
        };
        let mut facts = vec![Fact {
            dtype: x_dtype,
            shape: loss_shape,
            value: None,
        }];
        if let LossOp::SoftmaxCrossEntropy(_) = self {
            facts.push(Fact {
                dtype: x_dtype,
                shape: x_shape.map(<[usize]>::to_vec),
                value: None,
            });
        }
        Ok(facts)
    }
}

/// Checks the shapes of scores `x` `[N, C, d...]`, `target` `[N, d...]` and the optional
/// `weight` `[C]`, and returns the loss output's shape.
pub fn loss_shape(
    x: &[usize],
    target: &[usize],
    weight: Option<&[usize]>,
    reduction: Reduction,
) -> Result<Vec<usize>> {
    if x.len() < 2 {
        return Err(Error::shape(format!(
            "loss input must be [N, C, ...], got shape {x:?}"
        )));
    }
    let expected_target: Vec<usize> = x[..1].iter().chain(&x[2..]).copied().collect();
    if target != expected_target.as_slice() {
        return Err(Error::shape(format!(
            "target shape {target:?} does not match input {x:?} (expected {expected_target:?})"
        )));
    }
    if let Some(w) = weight {
        if w != [x[1]] {
            return Err(Error::shape(format!(
                "weight shape {w:?} does not match the {} classes",
                x[1]
            )));
        }
    }
    Ok(match reduction {
        Reduction::None => target.to_vec(),
        Reduction::Sum | Reduction::Mean => Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_follow_target_or_reduce_to_scalar() {
        let s = loss_shape(&[2, 3, 4], &[2, 4], Some(&[3]), Reduction::None).unwrap();
        assert_eq!(s, vec![2, 4]);
        let s = loss_shape(&[2, 3], &[2], None, Reduction::Mean).unwrap();
        assert!(s.is_empty());
        assert!(loss_shape(&[2, 3, 4], &[2, 5], None, Reduction::Sum).is_err());
        assert!(loss_shape(&[2, 3], &[2], Some(&[2]), Reduction::Sum).is_err());
        assert!(loss_shape(&[3], &[3], None, Reduction::Sum).is_err());
    }
}
