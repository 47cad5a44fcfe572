//! Lowering of `LSTM`, `GRU` and `RNN`: attributes into [`Recurrence`], activation names and
//! their `activation_alpha`/`activation_beta` lists resolved into [`Activation`]s.

use super::NodeCx;
use crate::ir::ops::rnn::{Activation, Direction, Gru, Lstm, Recurrence, RnnOp};
use crate::ir::Op;
use crate::Result;

/// `None` when the op type is not of this family.
pub(super) fn lower(cx: &NodeCx<'_>) -> Option<Result<Op>> {
    let op = match cx.op_type() {
        "LSTM" => lstm(cx),
        "GRU" => gru(cx),
        "RNN" => recurrence(cx, &["Tanh"]).map(RnnOp::Rnn),
        _ => return None,
    };
    Some(op.map(Op::Rnn))
}

fn lstm(cx: &NodeCx<'_>) -> Result<RnnOp> {
    if cx.opset < 7 {
        // LSTM-1 had an `output_sequence` attribute that changes which outputs exist.
        return Err(cx.unsupported("LSTM before opset 7 is not supported"));
    }
    Ok(RnnOp::Lstm(Lstm {
        common: recurrence(cx, &["Sigmoid", "Tanh", "Tanh"])?,
        input_forget: cx.int_or("input_forget", 0)? != 0,
    }))
}

fn gru(cx: &NodeCx<'_>) -> Result<RnnOp> {
    if cx.opset < 3 {
        return Err(cx.unsupported("GRU before opset 3 is not supported"));
    }
    Ok(RnnOp::Gru(Gru {
        common: recurrence(cx, &["Sigmoid", "Tanh"])?,
        linear_before_reset: cx.int_or("linear_before_reset", 0)? != 0,
    }))
}

/// The shared attributes; `defaults` are the activation names of one direction.
fn recurrence(cx: &NodeCx<'_>, defaults: &[&str]) -> Result<Recurrence> {
    let direction = match cx.string_or("direction", "forward")?.as_str() {
        "forward" => Direction::Forward,
        "reverse" => Direction::Reverse,
        "bidirectional" => Direction::Bidirectional,
        other => return Err(cx.invalid(format!("unknown direction '{other}'"))),
    };
    let hidden_size = match cx.int("hidden_size")? {
        Some(h) => Some(usize::try_from(h).map_err(|_| cx.invalid(format!("hidden_size {h}")))?),
        None => None,
    };
    let batch_major = match cx.int_or("layout", 0)? {
        0 => false,
        1 => true,
        other => return Err(cx.invalid(format!("layout must be 0 or 1, got {other}"))),
    };
    let clip = match cx.float("clip")? {
        Some(c) if c > 0.0 => Some(c),
        Some(c) => return Err(cx.invalid(format!("clip must be positive, got {c}"))),
        None => None,
    };
    let names = match cx.strings("activations")? {
        Some(names) => names,
        None => defaults.iter().map(|s| s.to_string()).collect(),
    };
    let per_direction = defaults.len();
    let dirs = direction.count();
    if names.len() != per_direction && names.len() != per_direction * dirs {
        return Err(cx.invalid(format!(
            "{} activations given, {per_direction} per direction expected",
            names.len()
        )));
    }
    let alphas = cx.floats("activation_alpha")?.unwrap_or_default();
    let betas = cx.floats("activation_beta")?.unwrap_or_default();
    let mut activations = resolve_activations(&names, &alphas, &betas)
        .map_err(|name| cx.unsupported(format!("'{name}' is not an ONNX recurrent activation")))?;
    if activations.len() < per_direction * dirs {
        // One set of functions given for a bidirectional layer: both directions use it.
        activations.extend_from_within(..);
    }
    Ok(Recurrence {
        hidden_size,
        direction,
        batch_major,
        activations,
        clip,
    })
}

/// Resolves activation names; alphas and betas are consumed in order by the functions that
/// take them (as onnxruntime does), each falling back to the function's ONNX default. An
/// unknown name is returned as the error.
fn resolve_activations(
    names: &[String],
    alphas: &[f32],
    betas: &[f32],
) -> Result<Vec<Activation>, String> {
    let mut alphas = alphas.iter().copied();
    let mut betas = betas.iter().copied();
    names
        .iter()
        .map(|name| {
            let mut alpha = |default: f32| alphas.next().unwrap_or(default);
            Ok(match name.to_ascii_lowercase().as_str() {
                "relu" => Activation::Relu,
                "tanh" => Activation::Tanh,
                "sigmoid" => Activation::Sigmoid,
                "softsign" => Activation::Softsign,
                "softplus" => Activation::Softplus,
                "leakyrelu" => Activation::LeakyRelu { alpha: alpha(0.01) },
                "thresholdedrelu" => Activation::ThresholdedRelu { alpha: alpha(1.0) },
                "elu" => Activation::Elu { alpha: alpha(1.0) },
                "affine" => Activation::Affine {
                    alpha: alpha(1.0),
                    beta: betas.next().unwrap_or(0.0),
                },
                "scaledtanh" => Activation::ScaledTanh {
                    alpha: alpha(1.0),
                    beta: betas.next().unwrap_or(1.0),
                },
                "hardsigmoid" => Activation::HardSigmoid {
                    alpha: alpha(0.2),
                    beta: betas.next().unwrap_or(0.5),
                },
                _ => return Err(name.clone()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_consumed_in_order() {
        let names: Vec<String> = ["Sigmoid", "HardSigmoid", "LeakyRelu", "Affine"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let acts = resolve_activations(&names, &[0.3, 0.05], &[0.6]).unwrap();
        assert_eq!(
            acts,
            vec![
                Activation::Sigmoid,
                Activation::HardSigmoid {
                    alpha: 0.3,
                    beta: 0.6
                },
                Activation::LeakyRelu { alpha: 0.05 },
                Activation::Affine {
                    alpha: 1.0,
                    beta: 0.0
                },
            ]
        );
    }

    #[test]
    fn unknown_activation_is_an_error() {
        assert!(resolve_activations(&["Swish".to_string()], &[], &[]).is_err());
    }
}
