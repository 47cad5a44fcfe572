//! `Clip`: clamps into `[min, max]`, either bound optional. As `numpy.clip`: NaN stays NaN,
//! and `min > max` gives `max` everywhere.

use super::scalar::Num;
use crate::backend::cpu::ops::{Inputs, Outputs};
use crate::ir::ops::elementwise::Clip;
use crate::tensor::TensorView;
use crate::{with_numeric_type, Error, Result};

pub(super) fn eval(clip: &Clip, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let x = ins.get(0)?;
    with_numeric_type!(x.dtype, T => clip_as::<T>(clip, x, ins, out),
        _ => Err(Error::unsupported("Clip", format!("dtype {}", x.dtype))))
}

fn clip_as<T: Num>(
    clip: &Clip,
    x: TensorView<'_>,
    ins: &Inputs<'_>,
    out: &mut Outputs,
) -> Result<()> {
    let (lo, hi) = match *clip {
        Clip::FromInputs => (
            bound::<T>(ins.opt(1), "min")?,
            bound::<T>(ins.opt(2), "max")?,
        ),
        Clip::Attributes { min, max } => {
            (Some(T::from_f64(min as f64)), Some(T::from_f64(max as f64)))
        }
    };
    let src = x.as_slice::<T>()?;
    let mut y = out.alloc_uninit(0, x.dtype, x.shape)?;
    let dst = y.as_mut_slice::<T>()?;
    let pairs = dst.iter_mut().zip(src);
    match (lo, hi) {
        (Some(lo), Some(hi)) => pairs.for_each(|(d, &s)| {
            let v = if s < lo { lo } else { s };
            *d = if v > hi { hi } else { v };
        }),
        (Some(lo), None) => pairs.for_each(|(d, &s)| *d = if s < lo { lo } else { s }),
        (None, Some(hi)) => pairs.for_each(|(d, &s)| *d = if s > hi { hi } else { s }),
        (None, None) => pairs.for_each(|(d, &s)| *d = s),
    }
    Ok(())
}

/// A bound input: omitted, or one element of the input's dtype.
fn bound<T: Num>(t: Option<TensorView<'_>>, name: &str) -> Result<Option<T>> {
    let Some(t) = t else { return Ok(None) };
    match t.as_slice::<T>()? {
        [v] => Ok(Some(*v)),
        _ => Err(Error::shape(format!(
            "Clip {name} must be a scalar, got shape {:?}",
            t.shape
        ))),
    }
}
