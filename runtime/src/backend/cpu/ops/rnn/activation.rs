//! The activation functions of recurrent layers, on one f32.

use crate::ir::ops::rnn::Activation;

/// `a(x)`.
#[inline]
pub(super) fn apply(a: Activation, x: f32) -> f32 {
    match a {
        Activation::Relu => x.max(0.0),
        Activation::Tanh => x.tanh(),
        Activation::Sigmoid => sigmoid(x),
        Activation::Affine { alpha, beta } => alpha * x + beta,
        Activation::LeakyRelu { alpha } => {
            if x >= 0.0 {
                x
            } else {
                alpha * x
            }
        }
        Activation::ThresholdedRelu { alpha } => {
            if x > alpha {
                x
            } else {
                0.0
            }
        }
        Activation::ScaledTanh { alpha, beta } => alpha * (beta * x).tanh(),
        Activation::HardSigmoid { alpha, beta } => (alpha * x + beta).clamp(0.0, 1.0),
        Activation::Elu { alpha } => {
            if x >= 0.0 {
                x
            } else {
                alpha * x.exp_m1()
            }
        }
        Activation::Softsign => x / (1.0 + x.abs()),
        Activation::Softplus => softplus(x),
    }
}

/// 1 / (1 + e⁻ˣ), written so that neither branch overflows.
fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// ln(1 + eˣ) = max(x, 0) + ln(1 + e^-|x|), which never overflows.
fn softplus(x: f32) -> f32 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigmoid_and_softplus_are_stable() {
        assert_eq!(apply(Activation::Sigmoid, 0.0), 0.5);
        assert_eq!(apply(Activation::Sigmoid, -200.0), 0.0);
        assert_eq!(apply(Activation::Sigmoid, 200.0), 1.0);
        assert_eq!(apply(Activation::Softplus, 200.0), 200.0);
        assert!((apply(Activation::Softplus, 0.0) - 2f32.ln()).abs() < 1e-7);
    }

    #[test]
    fn parameterised_functions() {
        assert_eq!(
            apply(
                Activation::HardSigmoid {
                    alpha: 0.2,
                    beta: 0.5
                },
                10.0
            ),
            1.0
        );
        assert_eq!(apply(Activation::LeakyRelu { alpha: 0.1 }, -2.0), -0.2);
        assert_eq!(apply(Activation::ThresholdedRelu { alpha: 1.0 }, 1.0), 0.0);
        assert_eq!(
            apply(
                Activation::Affine {
                    alpha: 2.0,
                    beta: 1.0
                },
                3.0
            ),
            7.0
        );
    }
}
