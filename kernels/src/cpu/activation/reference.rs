//! THE ORACLE for [`super::Activation`]: one plain scalar formula per variant, in `f32` except
//! where `f64` is needed to be the accurate side of the comparison (`Erf`, `Gelu`).

use super::Activation;

/// Reference [`super::ActivateFn`].
pub(crate) fn activate(act: Activation, x: &mut [f32]) {
    x.iter_mut().for_each(|v| *v = scalar(act, *v));
}

/// The value of `act` at `x`.
pub(crate) fn scalar(act: Activation, x: f32) -> f32 {
    match act {
        Activation::Relu => {
            if x < 0.0 {
                0.0
            } else {
                x
            }
        }
        Activation::Clip { min, max } => {
            if x < min {
                min
            } else if x > max {
                max
            } else {
                x
            }
        }
        Activation::LeakyRelu { alpha } => {
            if x >= 0.0 {
                x
            } else {
                alpha * x
            }
        }
        Activation::HardSigmoid { alpha, beta } => (alpha * x + beta).clamp(0.0, 1.0),
        Activation::HardSwish => x * (x * (1.0 / 6.0) + 0.5).clamp(0.0, 1.0),
        Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        Activation::Silu => x / (1.0 + (-x).exp()),
        Activation::Tanh => x.tanh(),
        Activation::Exp => x.exp(),
        Activation::Erf => erf_f64(f64::from(x)) as f32,
        Activation::Gelu => {
            let x = f64::from(x);
            (0.5 * x * (1.0 + erf_f64(x / std::f64::consts::SQRT_2))) as f32
        }
        Activation::GeluTanh => {
            let x = f64::from(x);
            let inner = (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x);
            (0.5 * x * (1.0 + inner.tanh())) as f32
        }
    }
}

/// `erf` in `f64` (Abramowitz–Stegun 7.1.26 is too coarse for an oracle): the Taylor series
/// near zero and the continued fraction of `erfc` in the tails, both to ~1e-15.
pub(crate) fn erf_f64(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let ax = x.abs();
    let r = if ax < 2.5 {
        // erf(x) = 2/√π Σ (-1)^n x^(2n+1) / (n! (2n+1))
        let (mut term, mut sum, x2) = (ax, ax, ax * ax);
        for n in 1..200 {
            term *= -x2 / n as f64;
            let add = term / (2 * n + 1) as f64;
            sum += add;
            if add.abs() < 1e-17 * sum.abs() {
                break;
            }
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    } else if ax < 6.0 {
        // erfc(x) = e^{-x²}/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))) (Lentz, from the tail).
        let mut f = ax;
        for n in (1..120).rev() {
            f = ax + (n as f64 / 2.0) / f;
        }
        1.0 - (-ax * ax).exp() / (std::f64::consts::PI.sqrt() * f)
    } else {
        1.0
    };
    r.copysign(x)
}
