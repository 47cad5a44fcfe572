//! `ArgMax` / `ArgMin`: the index of the extreme element along one axis. Like numpy, a NaN
//! counts as the extreme (the first NaN wins, or the last with `select_last_index`).

use super::walk::Lines;
use super::{Inputs, Outputs};
use crate::ir::ops::infer_util::axis;
use crate::ir::ops::reduce::{reduced_shape, ArgKind, ArgReduce};
use crate::{Error, Result};

pub(super) fn eval(a: &ArgReduce, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let op_name = match a.kind {
        ArgKind::Max => "ArgMax",
        ArgKind::Min => "ArgMin",
    };
    let x = ins.get(0)?;
    let ax = axis(a.axis, x.rank())?;
    let lines = Lines::around(x.shape, ax);
    if lines.len == 0 {
        crate::bail!(
            shape,
            "{op_name} along axis {ax} of size 0 (shape {:?})",
            x.shape
        );
    }
    let mask: Vec<bool> = (0..x.rank()).map(|i| i == ax).collect();
    let out_shape = reduced_shape(x.shape, &mask, a.keepdims);
    crate::with_numeric_type!(x.dtype, T => {
        let src = x.as_slice::<T>()?;
        let dst = out.alloc_typed::<i64>(0, &out_shape)?;
        arg_extremes(a, src, lines, dst);
        Ok(())
    }, _ => Err(Error::unsupported(op_name, format!("dtype {}", x.dtype)))
    )
}

fn arg_extremes<T: PartialOrd + Copy>(a: &ArgReduce, src: &[T], lines: Lines, dst: &mut [i64]) {
    for (d, line) in dst.iter_mut().zip(lines.each()) {
        let mut best: Option<(usize, T)> = None;
        for (k, offset) in line.enumerate() {
            let v = src[offset];
            if best.is_none_or(|(_, b)| beats(a, v, b)) {
                best = Some((k, v));
            }
        }
        *d = best.map_or(0, |(k, _)| k as i64);
    }
}

/// Whether `v`, met after `best`, takes its place.
fn beats<T: PartialOrd>(a: &ArgReduce, v: T, best: T) -> bool {
    #[allow(clippy::eq_op)] // x != x is the NaN test for any PartialOrd type.
    let (v_nan, best_nan) = (v != v, best != best);
    if best_nan || v_nan {
        return v_nan && (!best_nan || a.select_last_index);
    }
    let strictly = match a.kind {
        ArgKind::Max => v > best,
        ArgKind::Min => v < best,
    };
    strictly || (a.select_last_index && v == best)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arg(kind: ArgKind, last: bool, v: &[f32]) -> i64 {
        let a = ArgReduce {
            kind,
            axis: 0,
            keepdims: false,
            select_last_index: last,
        };
        let mut out = [0i64];
        arg_extremes(&a, v, Lines::around(&[v.len()], 0), &mut out);
        out[0]
    }

    #[test]
    fn ties_pick_first_or_last() {
        assert_eq!(arg(ArgKind::Max, false, &[1.0, 3.0, 3.0, 2.0]), 1);
        assert_eq!(arg(ArgKind::Max, true, &[1.0, 3.0, 3.0, 2.0]), 2);
        assert_eq!(arg(ArgKind::Min, true, &[1.0, 3.0, 1.0, 2.0]), 2);
    }

    #[test]
    fn nan_wins() {
        assert_eq!(arg(ArgKind::Max, false, &[1.0, f32::NAN, 3.0, f32::NAN]), 1);
        assert_eq!(arg(ArgKind::Min, true, &[1.0, f32::NAN, 3.0, f32::NAN]), 3);
    }
}
