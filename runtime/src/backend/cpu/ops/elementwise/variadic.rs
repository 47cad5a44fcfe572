//! `Sum`, `Mean`, `Max`, `Min` over any number of broadcast inputs: the first input is copied
//! (broadcast) into the output, which then accumulates the others in place.

use super::broadcast::{update, Walk};
use super::scalar::{max_nan, min_nan, Num};
use crate::backend::cpu::ops::{Inputs, Outputs};
use crate::ir::ops::elementwise::Variadic;
use crate::tensor::{broadcast_shapes, TensorView};
use crate::{with_numeric_type, Error, Result};

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
    with_numeric_type!(first.dtype, T => fold::<T>(op, &inputs, &shape, ins.threads(), out),
        _ => Err(Error::unsupported(op.name(), format!("dtype {}", first.dtype))))
}

fn fold<T: Num>(
    op: Variadic,
    inputs: &[TensorView<'_>],
    shape: &[usize],
    threads: usize,
    out: &mut Outputs,
) -> Result<()> {
    let mut y = out.alloc_uninit(0, T::DTYPE, shape)?;
    let acc = y.as_mut_slice::<T>()?;
    for (k, input) in inputs.iter().enumerate() {
        let walk = Walk::new(shape, &[input.shape])?.with_threads(threads);
        let x = input.as_slice::<T>()?;
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
    if op == Variadic::Mean {
        let n = T::from_f64(inputs.len() as f64);
        acc.iter_mut().for_each(|d| *d = d.div(n));
    }
    Ok(())
}
