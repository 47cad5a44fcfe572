//! CPU evaluation of the signal ops: `DFT` and `STFT` over a planned FFT of any length
//! (`fft`), the window generators and `MelWeightMatrix` (`window`).

mod dft;
mod fft;
mod window;

use super::{Inputs, Outputs};
use crate::ir::ops::SignalOp;
use crate::tensor::TensorView;
use crate::{DType, Error, Result};

pub(super) fn eval(op: &SignalOp, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    match op {
        SignalOp::Dft(d) => dft::dft(d, ins, out),
        SignalOp::Stft(s) => dft::stft(s, ins, out),
        SignalOp::Window(w) => window::window(w, ins, out),
        SignalOp::MelWeightMatrix(m) => window::mel_weight_matrix(m, ins, out),
    }
}

/// Signals must be floats (f16/bf16/f32/f64).
fn check_float(op: &str, dtype: DType) -> Result<()> {
    if dtype.is_float() {
        Ok(())
    } else {
        Err(Error::unsupported(op, format!("input dtype {dtype}")))
    }
}

/// The value of an optional scalar integer input.
fn optional_scalar(ins: &Inputs<'_>, i: usize) -> Result<Option<i64>> {
    ins.opt(i).map(|v| v.scalar_i64()).transpose()
}

/// The single element of a one-element numeric tensor as f64.
fn scalar_f64(view: &TensorView<'_>) -> Result<f64> {
    match view.to_f64_vec()?.as_slice() {
        [v] => Ok(*v),
        _ => Err(Error::shape(format!(
            "expected one element, got shape {:?}",
            view.shape
        ))),
    }
}
