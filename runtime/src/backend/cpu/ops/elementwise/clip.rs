//! `Clip`: clamps into `[min, max]`, either bound optional. As `numpy.clip`: NaN stays NaN,
//! and `min > max` gives `max` everywhere.

use super::scalar::Num;
use super::widen::{narrow_into, widened, Widen};
use crate::backend::cpu::ops::{Inputs, Outputs};
use crate::ir::ops::elementwise::Clip;
use crate::tensor::TensorView;
use crate::{DType, Error, Result};
#[cfg(feature = "dtypes-extra")]
use half::bf16;
use half::f16;

pub(super) fn eval(clip: &Clip, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let x = ins.get(0)?;
    match x.dtype {
        DType::F32 => clip_as::<f32>(clip, x, ins, out),
        #[cfg(feature = "dtypes-extra")]
        DType::F64 => clip_as::<f64>(clip, x, ins, out),
        DType::I32 => clip_as::<i32>(clip, x, ins, out),
        DType::I64 => clip_as::<i64>(clip, x, ins, out),
        #[cfg(feature = "dtypes-extra")]
        DType::U64 => clip_as::<u64>(clip, x, ins, out),
        DType::F16 => clip_widened::<f16>(clip, x, ins, out),
        #[cfg(feature = "dtypes-extra")]
        DType::BF16 => clip_widened::<bf16>(clip, x, ins, out),
        DType::I8 => clip_widened::<i8>(clip, x, ins, out),
        DType::U8 => clip_widened::<u8>(clip, x, ins, out),
        #[cfg(feature = "dtypes-extra")]
        DType::I16 => clip_widened::<i16>(clip, x, ins, out),
        #[cfg(feature = "dtypes-extra")]
        DType::U16 => clip_widened::<u16>(clip, x, ins, out),
        #[cfg(feature = "dtypes-extra")]
        DType::U32 => clip_widened::<u32>(clip, x, ins, out),
        d => Err(Error::unsupported("Clip", format!("dtype {d}"))),
    }
}

/// The bounds, each optional, in `T`.
fn bounds<T: Num>(clip: &Clip, ins: &Inputs<'_>) -> Result<(Option<T>, Option<T>)> {
    Ok(match *clip {
        Clip::FromInputs => (
            bound::<T>(ins.opt(1), "min")?,
            bound::<T>(ins.opt(2), "max")?,
        ),
        Clip::Attributes { min, max } => {
            (Some(T::from_f64(min as f64)), Some(T::from_f64(max as f64)))
        }
    })
}

fn clip_as<T: Num>(
    clip: &Clip,
    x: TensorView<'_>,
    ins: &Inputs<'_>,
    out: &mut Outputs,
) -> Result<()> {
    let (lo, hi) = bounds::<T>(clip, ins)?;
    let src = x.as_slice::<T>()?;
    let mut y = out.alloc_uninit(0, x.dtype, x.shape)?;
    clamp(src, y.as_mut_slice::<T>()?, lo, hi);
    Ok(())
}

/// Rare types clamped in their wide type ([`widen`]): the bounds are taken in `T` first,
/// so every result is a value of `T` and narrows back exactly.
fn clip_widened<T: Num + Widen>(
    clip: &Clip,
    x: TensorView<'_>,
    ins: &Inputs<'_>,
    out: &mut Outputs,
) -> Result<()>
where
    T::W: Num,
{
    let (lo, hi) = bounds::<T>(clip, ins)?;
    let src = widened(x.as_slice::<T>()?);
    let mut wide = vec![T::W::ZERO; src.len()];
    clamp(&src, &mut wide, lo.map(T::widen), hi.map(T::widen));
    let mut y = out.alloc_uninit(0, x.dtype, x.shape)?;
    narrow_into(&wide, y.as_mut_slice::<T>()?);
    Ok(())
}

fn clamp<T: Num>(src: &[T], dst: &mut [T], lo: Option<T>, hi: Option<T>) {
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
