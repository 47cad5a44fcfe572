//! Element-wise arithmetic on two `f32` operands: `out[i] = a[i] ∘ b[i]` for `∘` in `+ - · /`.
//!
//! The runtime's broadcasting binary ops (`Add`, `Sub`, `Mul`, `Div`) walk their operands in
//! runs along which each operand is either contiguous or one repeated element, and call this
//! once per run: an operand of length 1 is repeated, any other must be as long as `out`. That
//! covers equal shapes, a scalar operand, and a per-channel operand (`[C, 1, 1]` against
//! `[C, H, W]`: one run per channel plane).
//!
//! Every variant computes each element with one correctly rounded IEEE operation (no
//! contraction, no reciprocal), so all of them equal [`reference::binary`] bit for bit, NaN
//! and signed zeros included; they differ only in width (the wide division is where vectors
//! pay off most: `divps` on SSE2, the portable baseline, is several times slower per element).
//! The vector code is one generic body ([`kernel`]) over the activation family's per-ISA
//! vocabulary ([`super::activation::simd`]), instantiated by the entry points in `variants.rs`.

mod kernel;
pub(crate) mod reference;
#[cfg(test)]
mod tests;
pub(crate) mod variants;

use crate::KernelError;

/// An arithmetic operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `a + b`.
    Add,
    /// `a - b`.
    Sub,
    /// `a · b`.
    Mul,
    /// `a / b`.
    Div,
}

impl BinaryOp {
    /// `a ∘ b` for one pair of elements: the definition every variant follows.
    #[inline(always)]
    pub fn apply(self, a: f32, b: f32) -> f32 {
        match self {
            BinaryOp::Add => a + b,
            BinaryOp::Sub => a - b,
            BinaryOp::Mul => a * b,
            BinaryOp::Div => a / b,
        }
    }
}

/// `out[i] = a[i] ∘ b[i]`, where an operand of length 1 stands for that element repeated.
pub type BinaryFn = fn(BinaryOp, &[f32], &[f32], &mut [f32]) -> Result<(), KernelError>;

/// [`BinaryFn`] with the best kernel of this CPU ([`crate::cpu::table`]).
pub fn binary(op: BinaryOp, a: &[f32], b: &[f32], out: &mut [f32]) -> Result<(), KernelError> {
    (crate::cpu::table().binary)(op, a, b, out)
}

/// Checks that each operand is as long as `out` or has one element.
pub(crate) fn validate(a: &[f32], b: &[f32], out: &[f32]) -> Result<(), KernelError> {
    for (name, operand) in [("a", a), ("b", b)] {
        if operand.len() != out.len() && operand.len() != 1 {
            return Err(KernelError::out_of_bounds(format!(
                "binary: operand {name} has {} elements for an output of {} (want {0} or 1)",
                operand.len(),
                out.len()
            )));
        }
    }
    Ok(())
}
