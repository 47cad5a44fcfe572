//! `Dropout` in inference mode: the output is the input and the optional mask is all ones.
//! Training mode (opset >= 12, `training_mode` true) really drops unless the ratio is 0:
//! that is refused, Mote only runs inference.

use super::scalar::Num;
use crate::backend::cpu::ops::{Inputs, Outputs};
use crate::ir::ops::elementwise::Dropout;
use crate::{with_numeric_type, DType, Error, Result};

pub(super) fn eval(dropout: &Dropout, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let x = ins.get(0)?;
    if dropout.ratio_and_mode_inputs {
        let training = match ins.opt(2) {
            Some(mode) if mode.dtype == DType::Bool => mode.bytes.iter().any(|&b| b != 0),
            Some(mode) => {
                return Err(Error::dtype(format!(
                    "Dropout training_mode is {}, not bool",
                    mode.dtype
                )))
            }
            None => false,
        };
        let ratio = match ins.opt(1) {
            Some(r) => r.scalar_f32()?,
            None => 0.5,
        };
        if training && ratio != 0.0 {
            return Err(Error::unsupported(
                "Dropout",
                format!("training mode with ratio {ratio} (inference only)"),
            ));
        }
    }
    let y = out.alloc_uninit(0, x.dtype, x.shape)?;
    if y.bytes.len() != x.bytes.len() {
        return Err(Error::internal(
            "Dropout output size differs from its input",
        ));
    }
    y.bytes.copy_from_slice(x.bytes);
    if out.is_used(1) {
        if dropout.mask_like_input {
            with_numeric_type!(x.dtype, T => out.alloc_typed::<T>(1, x.shape)?.fill(T::ONE),
                _ => return Err(Error::unsupported("Dropout", format!("mask of dtype {}", x.dtype))));
        } else {
            out.alloc_uninit(1, DType::Bool, x.shape)?.bytes.fill(1);
        }
    }
    Ok(())
}
