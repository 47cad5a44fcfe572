//! Every compiled `reduce` variant against the `f64` reference: max and min exactly (NaN
//! included; a zero's sign may differ), sums within `(len + 2)·ε·Σ|terms|` as the module docs state.

use proptest::prelude::*;

use super::{reference, ReduceFn, ReduceOp, ReduceParams};
use crate::cpu::{supported_variants, Variant};
use crate::KernelErrorKind;

const OPS: [ReduceOp; 5] = [
    ReduceOp::Sum,
    ReduceOp::SumSquare,
    ReduceOp::SumAbs,
    ReduceOp::Max,
    ReduceOp::Min,
];

fn supported() -> Vec<(&'static str, ReduceFn)> {
    supported_variants(Variant::reduce)
}

/// `Σ|term|` of output `(o, i)`: the scale of a sum's rounding error.
fn magnitude(op: ReduceOp, p: &ReduceParams, x: &[f32], o: usize, i: usize) -> f64 {
    (0..p.len)
        .map(|l| f64::from(x[(o * p.len + l) * p.inner + i]))
        .map(|t| match op {
            ReduceOp::SumSquare => t * t,
            _ => t.abs(),
        })
        .sum()
}

fn check(
    name: &str,
    f: ReduceFn,
    op: ReduceOp,
    p: &ReduceParams,
    x: &[f32],
) -> Result<(), TestCaseError> {
    let mut want = vec![0.0; p.outer * p.inner];
    reference::reduce(op, p, x, &mut want).unwrap();
    let mut got = vec![f32::NAN; want.len()];
    f(op, p, x, &mut got).unwrap();
    for (k, (&g, &w)) in got.iter().zip(&want).enumerate() {
        let ok = match op {
            // Equal values (so +0 and -0 alike: which one wins depends on the lane order).
            ReduceOp::Max | ReduceOp::Min => g == w || (g.is_nan() && w.is_nan()),
            _ if !w.is_finite() => g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
            _ => {
                let scale = magnitude(op, p, x, k / p.inner, k % p.inner);
                let allowed = (p.len as f64 + 2.0) * f64::from(f32::EPSILON) * scale + 1e-37;
                (f64::from(g) - f64::from(w)).abs() <= allowed
            }
        };
        prop_assert!(ok, "{name} {op:?} {p:?} at [{k}]: got {g:e}, want {w:e}");
    }
    Ok(())
}

fn value() -> impl Strategy<Value = f32> {
    prop_oneof![
        12 => (-1.0f32..1.0, prop::sample::select(vec![1.0f32, 10.0, 1e4])).prop_map(|(v, k)| v * k),
        1 => prop::sample::select(vec![0.0f32, -0.0, 1e30, -1e30]),
        1 => prop::sample::select(vec![f32::NAN, f32::INFINITY, f32::NEG_INFINITY]),
    ]
}

fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        prop::sample::select(vec![1usize, 7, 15, 16, 17, 31, 33, 63, 64, 65, 255]),
        1..300usize,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(160))]

    #[test]
    fn variants_match_the_reference(
        op in prop::sample::select(OPS.to_vec()),
        outer in 1..4usize,
        len in size(),
        inner in prop_oneof![Just(1usize), size()],
        seed in any::<u64>(),
        specials in any::<bool>(),
    ) {
        let p = ReduceParams { outer, len, inner };
        let n = outer * len * inner;
        // Mostly ordinary values; sometimes NaN and infinities mixed in.
        let mut runner = proptest::test_runner::TestRunner::new_with_rng(
            Default::default(),
            proptest::test_runner::TestRng::from_seed(
                proptest::test_runner::RngAlgorithm::ChaCha,
                &[seed as u8; 32],
            ),
        );
        let ordinary = (-1.0f32..1.0).prop_map(|v| v * 100.0);
        let x: Vec<f32> = (0..n)
            .map(|_| {
                let s = if specials { value().boxed() } else { ordinary.clone().boxed() };
                s.new_tree(&mut runner).unwrap().current()
            })
            .collect();
        for (name, f) in supported() {
            check(name, f, op, &p, &x)?;
        }
    }
}

#[test]
fn empty_reductions_give_the_identity() {
    for (name, f) in supported()
        .into_iter()
        .chain([("reference", reference::reduce as ReduceFn)])
    {
        for op in OPS {
            let p = ReduceParams {
                outer: 2,
                len: 0,
                inner: 3,
            };
            let mut y = [f32::NAN; 6];
            f(op, &p, &[], &mut y).unwrap();
            assert!(
                y.iter().all(|v| v.to_bits() == op.identity().to_bits()),
                "{name} {op:?}: {y:?}"
            );
        }
    }
}

#[test]
fn a_nan_anywhere_wins_max_and_min() {
    for (name, f) in supported() {
        for len in [5, 16, 64, 100] {
            for at in [0, len / 2, len - 1] {
                let mut x: Vec<f32> = (0..len).map(|i| i as f32).collect();
                x[at] = f32::NAN;
                for (op, inner) in [(ReduceOp::Max, 1), (ReduceOp::Min, 1), (ReduceOp::Max, 5)] {
                    let x: Vec<f32> = x
                        .iter()
                        .flat_map(|&v| std::iter::repeat_n(v, inner))
                        .collect();
                    let p = ReduceParams {
                        outer: 1,
                        len,
                        inner,
                    };
                    let mut y = vec![0.0; inner];
                    f(op, &p, &x, &mut y).unwrap();
                    assert!(
                        y.iter().all(|v| v.is_nan()),
                        "{name} {op:?} len {len} NaN at {at}: {y:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn bad_calls_are_errors() {
    for (name, f) in supported()
        .into_iter()
        .chain([("reference", reference::reduce as ReduceFn)])
    {
        let p = ReduceParams {
            outer: 2,
            len: 3,
            inner: 4,
        };
        let e = f(ReduceOp::Sum, &p, &[0.0; 23], &mut [0.0; 8]).unwrap_err();
        assert_eq!(e.kind(), KernelErrorKind::OutOfBounds, "{name}");
        let e = f(ReduceOp::Sum, &p, &[0.0; 24], &mut [0.0; 7]).unwrap_err();
        assert_eq!(e.kind(), KernelErrorKind::OutOfBounds, "{name}");
        let huge = ReduceParams {
            outer: usize::MAX,
            len: 2,
            inner: 2,
        };
        let e = f(ReduceOp::Max, &huge, &[], &mut []).unwrap_err();
        assert_eq!(e.kind(), KernelErrorKind::InvalidParams, "{name}");
    }
}
