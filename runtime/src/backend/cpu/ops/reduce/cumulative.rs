//! `CumSum` / `CumProd`: running sums or products along one axis, optionally exclusive (each
//! output leaves out its own element) and/or reversed. Floats accumulate in f64 and round each
//! output once (an f16 sum rounded at every step drifts); integers wrap like the type (i128
//! arithmetic wraps to the same low bits).

use super::number::Number;
use super::walk::Lines;
use super::{Inputs, Outputs};
use crate::ir::ops::infer_util::axis;
use crate::ir::ops::reduce::{CumKind, Cumulative};
use crate::{Error, Result};

pub(super) fn eval(c: &Cumulative, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let x = ins.get(0)?;
    let ax = axis(ins.get(1)?.scalar_i64()?, x.rank())?;
    let lines = Lines::around(x.shape, ax);
    crate::with_numeric_type!(x.dtype, T => {
        let src = x.as_slice::<T>()?;
        let dst = out.alloc_typed::<T>(0, x.shape)?;
        running(c, src, lines, dst);
        Ok(())
    }, _ => Err(Error::unsupported(op_name(c), format!("dtype {}", x.dtype)))
    )
}

fn op_name(c: &Cumulative) -> &'static str {
    match c.kind {
        CumKind::Sum => "CumSum",
        CumKind::Prod => "CumProd",
    }
}

/// The running sums or products of every line, in the accumulator that suits `T`.
fn running<T: Number>(c: &Cumulative, src: &[T], lines: Lines, dst: &mut [T]) {
    match (c.kind, T::IS_FLOAT) {
        (CumKind::Sum, true) => scan(c, src, lines, dst, 0.0, |s, v| s + v.to_f64(), T::from_f64),
        (CumKind::Prod, true) => scan(c, src, lines, dst, 1.0, |s, v| s * v.to_f64(), T::from_f64),
        (CumKind::Sum, false) => scan(
            c,
            src,
            lines,
            dst,
            0i128,
            |s, v| s.wrapping_add(v.to_i128()),
            T::wrap_i128,
        ),
        (CumKind::Prod, false) => scan(
            c,
            src,
            lines,
            dst,
            1i128,
            |s, v| s.wrapping_mul(v.to_i128()),
            T::wrap_i128,
        ),
    }
}

/// Runs `combine` along every line from `identity`, storing `finish(running value)`.
fn scan<T: Copy, A: Copy>(
    c: &Cumulative,
    src: &[T],
    lines: Lines,
    dst: &mut [T],
    identity: A,
    combine: impl Fn(A, T) -> A,
    finish: impl Fn(A) -> T,
) {
    for line in lines.each() {
        let mut acc = identity;
        let mut step = |offset: usize| {
            let with_own = combine(acc, src[offset]);
            dst[offset] = finish(if c.exclusive { acc } else { with_own });
            acc = with_own;
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

    fn scan(kind: CumKind, exclusive: bool, reverse: bool) -> Vec<i32> {
        let mut out = vec![0; 4];
        let c = Cumulative {
            kind,
            exclusive,
            reverse,
        };
        running(&c, &[1, 2, 3, 4], Lines::around(&[4], 0), &mut out);
        out
    }

    #[test]
    fn sums_in_all_four_modes() {
        assert_eq!(scan(CumKind::Sum, false, false), vec![1, 3, 6, 10]);
        assert_eq!(scan(CumKind::Sum, true, false), vec![0, 1, 3, 6]);
        assert_eq!(scan(CumKind::Sum, false, true), vec![10, 9, 7, 4]);
        assert_eq!(scan(CumKind::Sum, true, true), vec![9, 7, 4, 0]);
    }

    #[test]
    fn products_in_all_four_modes() {
        assert_eq!(scan(CumKind::Prod, false, false), vec![1, 2, 6, 24]);
        assert_eq!(scan(CumKind::Prod, true, false), vec![1, 1, 2, 6]);
        assert_eq!(scan(CumKind::Prod, false, true), vec![24, 24, 12, 4]);
        assert_eq!(scan(CumKind::Prod, true, true), vec![24, 12, 4, 1]);
    }

    #[test]
    fn integer_products_wrap_like_the_type() {
        let mut out = [0u32; 3];
        let c = Cumulative {
            kind: CumKind::Prod,
            exclusive: false,
            reverse: false,
        };
        running(&c, &[1 << 20, 1 << 20, 3], Lines::around(&[3], 0), &mut out);
        assert_eq!(out, [1 << 20, 0, 0]);
    }
}
