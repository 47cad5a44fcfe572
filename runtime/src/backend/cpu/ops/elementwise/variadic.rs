//! `Sum`, `Mean`, `Max`, `Min` over any number of broadcast inputs: the first input is copied
//! (broadcast) into the output, which then accumulates the others in place.

use super::broadcast::{update, Walk};
use super::scalar::{max_nan, min_nan, Num};
use super::widen::{narrow_into, widened, Widen};
use crate::backend::cpu::ops::{Inputs, Outputs};
use crate::ir::ops::elementwise::Variadic;
use crate::tensor::{broadcast_shapes, numel, TensorView};
use crate::{with_numeric_type, DType, Error, Result};

pub(super) fn eval(op: Variadic, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let inputs = (0..ins.len())
        .map(|i| ins.get(i))
        .collect::<Result<Vec<_>>>()?;
    let Some(first) = inputs.first() else {
        return Err(Error::invalid_model(format!(
            "{} needs at least one input",
            op.name()
        )));
    };
    if let Some(other) = inputs.iter().find(|t| t.dtype != first.dtype) {
        return Err(Error::dtype(format!(
            "{} of {} and {}: the dtypes must match",
            op.name(),
            first.dtype,
            other.dtype
        )));
    }
    let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape).collect();
    let shape = broadcast_shapes(&shapes)?;
    let threads = ins.threads();
    macro_rules! widened {
        ($t:ty) => {
            fold_widened::<$t>(op, &inputs, &shape, threads, out)
        };
    }
    match first.dtype {
        // Integers narrower than 32 bits (and u32) accumulate in i32 (i64): sums wrap the
        // same, extrema are the same. f16/bf16 stay: their sums round at every step.
        DType::I8 => widened!(i8),
        DType::U8 => widened!(u8),
        #[cfg(feature = "dtypes-extra")]
        DType::I16 => widened!(i16),
        #[cfg(feature = "dtypes-extra")]
        DType::U16 => widened!(u16),
        #[cfg(feature = "dtypes-extra")]
        DType::U32 => widened!(u32),
        d => with_numeric_type!(d, T => fold::<T>(op, &inputs, &shape, threads, out),
            _ => Err(Error::unsupported(op.name(), format!("dtype {d}")))),
    }
}

fn fold<T: Num>(
    op: Variadic,
    inputs: &[TensorView<'_>],
    shape: &[usize],
    threads: usize,
    out: &mut Outputs,
) -> Result<()> {
    let xs = inputs
        .iter()
        .map(|t| Ok((t.shape, t.as_slice::<T>()?)))
        .collect::<Result<Vec<_>>>()?;
    let mut y = out.alloc_uninit(0, T::DTYPE, shape)?;
    let acc = y.as_mut_slice::<T>()?;
    accumulate(op, &xs, shape, threads, acc)?;
    finish_mean(op, inputs.len(), acc);
    Ok(())
}

fn fold_widened<T: Num + Widen>(
    op: Variadic,
    inputs: &[TensorView<'_>],
    shape: &[usize],
    threads: usize,
    out: &mut Outputs,
) -> Result<()>
where
    T::W: Num,
{
    let wide = inputs
        .iter()
        .map(|t| Ok(widened(t.as_slice::<T>()?)))
        .collect::<Result<Vec<_>>>()?;
    let xs: Vec<(&[usize], &[T::W])> = inputs
        .iter()
        .zip(&wide)
        .map(|(t, w)| (t.shape, w.as_slice()))
        .collect();
    let mut sums = vec![T::W::ZERO; numel(shape)];
    accumulate(op, &xs, shape, threads, &mut sums)?;
    let mut y = out.alloc_uninit(0, T::DTYPE, shape)?;
    let acc = y.as_mut_slice::<T>()?;
    narrow_into(&sums, acc);
    // The mean divides the wrapped sum, in `T`, as the narrow type's own fold does.
    finish_mean(op, inputs.len(), acc);
    Ok(())
}

/// The first input broadcast into `acc`, then each other one added (Sum, Mean) or folded in
/// by the NaN-propagating extremum (Max, Min).
fn accumulate<T: Num>(
    op: Variadic,
    inputs: &[(&[usize], &[T])],
    shape: &[usize],
    threads: usize,
    acc: &mut [T],
) -> Result<()> {
    for (k, &(input_shape, x)) in inputs.iter().enumerate() {
        let walk = Walk::new(shape, &[input_shape])?.with_threads(threads);
        if k == 0 {
            update(&walk, x, acc, |d, v| *d = v)?;
            continue;
        }
        match op {
            Variadic::Sum | Variadic::Mean => update(&walk, x, acc, |d, v| *d = d.add(v))?,
            Variadic::Max => update(&walk, x, acc, |d, v| *d = max_nan(*d, v))?,
            Variadic::Min => update(&walk, x, acc, |d, v| *d = min_nan(*d, v))?,
        }
    }
    Ok(())
}

/// Mean: the sum divided by the input count.
fn finish_mean<T: Num>(op: Variadic, inputs: usize, acc: &mut [T]) {
    if op == Variadic::Mean {
        let n = T::from_f64(inputs as f64);
        acc.iter_mut().for_each(|d| *d = d.div(n));
    }
}
