//! Element-wise activations over `f32` slices, in place: the functions a GEMM or convolution
//! epilogue fuses after its store, and the runtime's unary ops (`Sigmoid`, `Tanh`, `Erf`, `Exp`,
//! `HardSwish`, ...) when they run on their own.
//!
//! [`Activation`] is data: a backend lowers `Conv + HardSwish` into one conv call carrying
//! `Activation::HardSwish`. [`reference::activate`] defines the semantics (the oracle); the
//! vectorised variants approximate the transcendental ones within the bounds stated on each
//! [`Activation`] variant (relative bounds hold for results of magnitude >= 1e-37: subnormal
//! results are only absolutely accurate), and are exact (bit for bit) for the piecewise-linear
//! ones. The vector code is one generic body per function (`math.rs`, `kernel.rs`) over a small
//! per-ISA vocabulary (`simd/`), instantiated by the `#[target_feature]` entry points in
//! `variants.rs`.

mod kernel;
pub(crate) mod math;
pub(crate) mod reference;
pub(crate) mod simd;
#[cfg(test)]
mod tests;
pub(crate) mod variants;

/// One element-wise function `f32 -> f32`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Activation {
    /// `max(x, 0)`; NaN stays NaN.
    Relu,
    /// `min(max(x, min), max)`; NaN stays NaN. Requires `min <= max`, neither NaN.
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
    /// `clip(alpha · x + beta, 0, 1)` (ONNX `HardSigmoid`).
    HardSigmoid {
        /// Slope.
        alpha: f32,
        /// Offset.
        beta: f32,
    },
    /// `x · clip(x · (1/6) + 1/2, 0, 1)` (ONNX `HardSwish`: `HardSigmoid` with `alpha = 1/6`, a
    /// multiplication by the rounded constant, not a division by 6).
    HardSwish,
    /// `1 / (1 + e^-x)`. Vectorised: within 1e-6 relative (measured 2.5e-7).
    Sigmoid,
    /// `x · sigmoid(x)` (SiLU / Swish). Vectorised: within 2e-6·max(1, |x|) absolute (measured
    /// 2.0e-7·max(1, |x|)).
    Silu,
    /// `tanh(x)`. Vectorised: within 1e-6 relative (measured 3.6e-7).
    Tanh,
    /// `e^x`. Vectorised: within 5e-7 relative for normal results (measured 1.2e-7), exact
    /// `+∞` above `ln(f32::MAX)`.
    Exp,
    /// The error function. Vectorised: within 1e-6 relative (measured 3.6e-7).
    Erf,
    /// `x/2 · (1 + erf(x / √2))` (exact GELU). Vectorised: within 2e-6·max(1, |x|) absolute
    /// (measured 2.4e-7·max(1, |x|)).
    Gelu,
    /// `x/2 · (1 + tanh(√(2/π) · (x + 0.044715 x³)))` (GELU's tanh approximation).
    /// Vectorised: within 2e-6·max(1, |x|) absolute (measured 2.1e-7·max(1, |x|)).
    GeluTanh,
}

impl Activation {
    /// Checks the parameters (a bad `Clip` would make the result depend on the kernel).
    pub fn validate(&self) -> Result<(), crate::KernelError> {
        match *self {
            Activation::Clip { min, max } if min.is_nan() || max.is_nan() || min > max => Err(
                crate::KernelError::invalid(format!("Clip needs min <= max, got [{min}, {max}]")),
            ),
            _ => Ok(()),
        }
    }
}

/// Applies an activation to every element of a slice, in place.
pub type ActivateFn = fn(Activation, &mut [f32]);

/// [`Activation`] on `x` with the best kernel of this CPU ([`crate::cpu::table`]). Call
/// [`Activation::validate`] first where the parameters come from a model.
pub fn activate(act: Activation, x: &mut [f32]) {
    (crate::cpu::table().activate)(act, x)
}
