//! `CumSum`: running sums along one axis, optionally exclusive (each output leaves out its own
//! element) and/or reversed. Floats accumulate in f64 and round each output once (an f16 sum
//! rounded at every step drifts); integers wrap like the type.

use super::number::Number;
use super::walk::Lines;
use super::{Inputs, Outputs};
use crate::ir::ops::infer_util::axis;
use crate::ir::ops::reduce::CumSum;
use crate::{Error, Result};

pub(super) fn eval(c: &CumSum, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let x = ins.get(0)?;
    let ax = axis(ins.get(1)?.scalar_i64()?, x.rank())?;
    let lines = Lines::around(x.shape, ax);
    crate::with_numeric_type!(x.dtype, T => {
        let src = x.as_slice::<T>()?;
        let dst = out.alloc_typed::<T>(0, x.shape)?;
        running_sums(c, src, lines, dst);
        Ok(())
    }, _ => Err(Error::unsupported("CumSum", format!("dtype {}", x.dtype)))
    )
}

fn running_sums<T: Number>(c: &CumSum, src: &[T], lines: Lines, dst: &mut [T]) {
    if T::IS_FLOAT {
        scan(c, src, lines, dst, 0.0, |s, v| s + v.to_f64(), T::from_f64);
    } else {
        scan(
            c,
            src,
            lines,
            dst,
            0i128,
            |s, v| s.wrapping_add(v.to_i128()),
            T::wrap_i128,
        );
    }
}

/// Runs `add` along every line from `zero`, storing `finish(running sum)`.
fn scan<T: Copy, A: Copy>(
    c: &CumSum,
    src: &[T],
    lines: Lines,
    dst: &mut [T],
    zero: A,
    add: impl Fn(A, T) -> A,
    finish: impl Fn(A) -> T,
) {
    for line in lines.each() {
        let mut sum = zero;
        let mut step = |offset: usize| {
            let with_own = add(sum, src[offset]);
            dst[offset] = finish(if c.exclusive { sum } else { with_own });
            sum = with_own;
        };
        if c.reverse {
            line.rev().for_each(&mut step);
        } else {
            line.for_each(&mut step);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(exclusive: bool, reverse: bool) -> Vec<i32> {
        let mut out = vec![0; 4];
        running_sums(
            &CumSum { exclusive, reverse },
            &[1, 2, 3, 4],
            Lines::around(&[4], 0),
            &mut out,
        );
        out
    }

    #[test]
    fn all_four_modes() {
        assert_eq!(scan(false, false), vec![1, 3, 6, 10]);
        assert_eq!(scan(true, false), vec![0, 1, 3, 6]);
        assert_eq!(scan(false, true), vec![10, 9, 7, 4]);
        assert_eq!(scan(true, true), vec![9, 7, 4, 0]);
    }
}
