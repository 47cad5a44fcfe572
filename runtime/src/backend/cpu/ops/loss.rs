//! CPU evaluation of the classification losses, computed in f64 and rounded once to the
//! input's float type. Semantics follow the ONNX reference implementation: each element's loss
//! is `-weight[t] * logp[n, t, d]` for its target class `t`, targets equal to `ignore_index`
//! contribute 0 loss and 0 weight, and the mean divides by the sum of applied weights.

use super::util::store_f64;
use super::{Inputs, Outputs};
use crate::ir::ops::loss::{loss_shape, ClassLoss, LossOp, Reduction};
use crate::tensor::numel;
use crate::{Error, Result};

pub(super) fn eval(op: &LossOp, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let x = ins.get(0)?;
    let target = ins.get(1)?;
    let weight = ins.opt(2);
    if !x.dtype.is_float() {
        return Err(Error::unsupported(
            op.name(),
            format!("input dtype {}", x.dtype),
        ));
    }
    let attrs = op.attrs();
    let out_shape = loss_shape(
        x.shape,
        target.shape,
        weight.map(|w| w.shape),
        attrs.reduction,
    )?;
    let dims = ClassDims {
        batch: x.shape[0],
        classes: x.shape[1],
        inner: numel(&x.shape[2..]),
    };

    let mut scores = x.to_f64_vec()?;
    if let LossOp::SoftmaxCrossEntropy(_) = op {
        log_softmax_over_classes(&mut scores, dims);
    }
    let weights = weight.map(|w| w.to_f64_vec()).transpose()?;
    let (losses, applied) = element_losses(
        &scores,
        &target.to_i64_vec()?,
        weights.as_deref(),
        attrs,
        dims,
    )?;

    let reduced = match attrs.reduction {
        Reduction::None => losses,
        Reduction::Sum => vec![losses.iter().sum()],
        Reduction::Mean => vec![losses.iter().sum::<f64>() / applied],
    };
    store_f64(&mut out.alloc_uninit(0, x.dtype, &out_shape)?, &reduced)?;

    if out.len() > 1 && out.is_used(1) {
        // Only the cross-entropy loss has a second output: the log-probabilities.
        store_f64(&mut out.alloc_uninit(1, x.dtype, x.shape)?, &scores)?;
    }
    Ok(())
}

/// `x` viewed as `[batch, classes, inner]`.
#[derive(Debug, Clone, Copy)]
struct ClassDims {
    batch: usize,
    classes: usize,
    inner: usize,
}

/// Replaces each score by its log-probability over the class axis:
/// `x - max - ln Σ exp(x - max)`, which stays finite where `ln(softmax)` would underflow.
fn log_softmax_over_classes(scores: &mut [f64], dims: ClassDims) {
    let ClassDims { classes, inner, .. } = dims;
    if classes == 0 || inner == 0 {
        return;
    }
    for sample in scores.chunks_mut(classes * inner) {
        for d in 0..inner {
            let class_scores = || (0..classes).map(|c| c * inner + d);
            let max = class_scores()
                .map(|i| sample[i])
                .fold(f64::NEG_INFINITY, f64::max);
            let log_sum = class_scores()
                .map(|i| (sample[i] - max).exp())
                .sum::<f64>()
                .ln();
            for i in class_scores() {
                sample[i] -= max + log_sum;
            }
        }
    }
}

/// Per-element losses `-w[t] * logp[n, t, d]` (in target order) and the sum of the weights
/// applied (the denominator of the mean).
fn element_losses(
    log_probs: &[f64],
    targets: &[i64],
    weights: Option<&[f64]>,
    attrs: &ClassLoss,
    dims: ClassDims,
) -> Result<(Vec<f64>, f64)> {
    let ClassDims {
        batch,
        classes,
        inner,
    } = dims;
    if targets.len() != batch * inner || log_probs.len() != batch * classes * inner {
        return Err(Error::internal("loss operands do not match their shapes"));
    }
    let mut losses = Vec::with_capacity(targets.len());
    let mut applied = 0.0;
    for (k, &t) in targets.iter().enumerate() {
        if attrs.ignore_index == Some(t) {
            losses.push(0.0);
            continue;
        }
        let class = usize::try_from(t)
            .ok()
            .filter(|&c| c < classes)
            .ok_or_else(|| {
                Error::argument(format!(
                    "target {t} is not a class index in [0, {classes}) nor the ignore_index"
                ))
            })?;
        let w = weights.map_or(1.0, |w| w[class]);
        let (n, d) = (k / inner, k % inner);
        losses.push(-w * log_probs[(n * classes + class) * inner + d]);
        applied += w;
    }
    Ok((losses, applied))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(ignore_index: Option<i64>) -> ClassLoss {
        ClassLoss {
            reduction: Reduction::Mean,
            ignore_index,
        }
    }

    #[test]
    fn losses_pick_the_target_class_and_skip_ignored() {
        // [N=2, C=2, D=1]
        let logp = [-0.1, -2.0, -3.0, -0.5];
        let dims = ClassDims {
            batch: 2,
            classes: 2,
            inner: 1,
        };
        let (l, w) = element_losses(&logp, &[1, 0], Some(&[2.0, 3.0]), &attrs(None), dims).unwrap();
        assert_eq!(l, vec![6.0, 6.0]);
        assert_eq!(w, 5.0);
        let (l, w) = element_losses(&logp, &[1, -1], None, &attrs(Some(-1)), dims).unwrap();
        assert_eq!(l, vec![2.0, 0.0]);
        assert_eq!(w, 1.0);
        assert!(element_losses(&logp, &[2, 0], None, &attrs(None), dims).is_err());
        assert!(element_losses(&logp, &[-1, 0], None, &attrs(None), dims).is_err());
    }

    #[test]
    fn log_softmax_normalises_each_position() {
        // [N=1, C=2, D=2]: class scores at stride 2.
        let mut s = [0.0, 1000.0, 0.0, 0.0];
        log_softmax_over_classes(
            &mut s,
            ClassDims {
                batch: 1,
                classes: 2,
                inner: 2,
            },
        );
        let ln2 = std::f64::consts::LN_2;
        assert!((s[0] + ln2).abs() < 1e-12 && (s[2] + ln2).abs() < 1e-12);
        assert!(s[1].abs() < 1e-12 && (s[3] + 1000.0).abs() < 1e-9);
    }
}
