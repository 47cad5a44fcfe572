//! Every compiled `softmax` variant against the `f64` reference, within the bounds stated in the
//! module docs: `1e-6 + (n + |x - max|)·ε` relative for softmax, `1e-6·(1 + |y|) + (n + |x -
//! max|)·ε` absolute for log-softmax (plus 1e-37 for subnormal results); NaN and infinities must
//! match exactly.

use proptest::prelude::*;

use super::{reference, SoftmaxFn, SoftmaxParams};
use crate::cpu::{supported_variants, variants, Variant};
use crate::KernelErrorKind;

fn supported() -> Vec<(&'static str, SoftmaxFn)> {
    supported_variants(Variant::softmax)
}

fn check(name: &str, f: SoftmaxFn, p: &SoftmaxParams, x: &[f32]) -> Result<(), TestCaseError> {
    let mut want = vec![0.0; x.len()];
    reference::softmax(p, x, &mut want).unwrap();
    let mut got = vec![f32::NAN; x.len()];
    f(p, x, &mut got).unwrap();
    let n = p.row_len as f32;
    let maxima: Vec<f32> = x
        .chunks(p.row_len)
        .map(|r| {
            r.iter()
                .fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m })
        })
        .collect();
    for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
        // `x - max` rounded to f32 is off by up to |x - max|·ε/2, and e^(x - max) relatively so.
        let k = (n + (x[i] - maxima[i / p.row_len]).abs()) * f32::EPSILON;
        let ok = if w.is_nan() || w.is_infinite() {
            g.to_bits() == w.to_bits() || (w.is_nan() && g.is_nan())
        } else {
            let allowed = if p.log {
                1e-6 * (1.0 + w.abs()) + k
            } else {
                (1e-6 + k) * w.abs() + 1e-37
            };
            // (`g == w` first: an infinite `x - max` makes `allowed` NaN.)
            g == w || (g - w).abs() <= allowed
        };
        prop_assert!(
            ok,
            "{name} {p:?} at [{i}] (x = {:e}): got {g:e}, want {w:e}",
            x[i]
        );
    }
    Ok(())
}

fn value() -> impl Strategy<Value = f32> {
    prop_oneof![
        8 => (-1.0f32..1.0, prop::sample::select(vec![1.0f32, 10.0, 100.0])).prop_map(|(v, k)| v * k),
        1 => prop::sample::select(vec![f32::NEG_INFINITY, -1e30, 1e30, 0.0, -0.0]),
        1 => prop::sample::select(vec![f32::NAN, f32::INFINITY]),
    ]
}

fn row_len() -> impl Strategy<Value = usize> {
    prop_oneof![
        prop::sample::select(vec![1usize, 7, 15, 16, 17, 31, 33, 255]),
        1..300usize,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn every_variant_matches_the_reference(
        (row_len, x) in (row_len(), 1..4usize)
            .prop_flat_map(|(n, rows)| (Just(n), prop::collection::vec(value(), n * rows))),
        log in any::<bool>(),
    ) {
        let p = SoftmaxParams { row_len, log };
        for (name, f) in supported() {
            check(name, f, &p, &x)?;
        }
    }
}

/// Finite rows (the common case) and a long row, where the sum's rounding matters most.
#[test]
fn finite_rows_sum_to_one() {
    let x: Vec<f32> = (0..4099)
        .map(|i| ((i * 7919) % 1000) as f32 / 50.0 - 10.0)
        .collect();
    for log in [false, true] {
        let p = SoftmaxParams {
            row_len: x.len(),
            log,
        };
        for (name, f) in supported() {
            check(name, f, &p, &x).unwrap();
            let mut y = vec![0.0; x.len()];
            f(&p, &x, &mut y).unwrap();
            let total: f64 = y
                .iter()
                .map(|&v| if log { f64::from(v).exp() } else { v.into() })
                .sum();
            assert!((total - 1.0).abs() < 1e-5, "{name} log={log}: Σ = {total}");
        }
    }
}

#[test]
fn bad_shapes_are_rejected_before_writing() {
    let x = [1.0f32; 6];
    for v in variants() {
        let Some(f) = v.softmax() else { continue };
        if !v.is_supported() {
            continue;
        }
        let mut y = [7.0f32; 6];
        let p = SoftmaxParams {
            row_len: 4,
            log: false,
        };
        assert_eq!(
            f(&p, &x, &mut y).unwrap_err().kind(),
            KernelErrorKind::InvalidParams
        );
        let p = SoftmaxParams {
            row_len: 0,
            log: false,
        };
        assert_eq!(
            f(&p, &x, &mut y).unwrap_err().kind(),
            KernelErrorKind::InvalidParams
        );
        let p = SoftmaxParams {
            row_len: 3,
            log: false,
        };
        assert_eq!(
            f(&p, &x, &mut y[..3]).unwrap_err().kind(),
            KernelErrorKind::OutOfBounds
        );
        assert_eq!(y, [7.0; 6], "{}", v.info.name);
        assert!(f(&p, &[], &mut []).is_ok());
    }
}

/// Proptest find: `8.07 - 46.95` rounded to f32 moves `e^(x - max)` by 1.9e-6 relative, more
/// than `1e-6 + n·ε`; the bound now charges `|x - max|·ε` for that rounding.
#[test]
fn regression_rounding_of_x_minus_max() {
    let x = [0.0, 46.953274, 0.0, 0.0, 0.0, 8.069853, 0.0];
    let p = SoftmaxParams {
        row_len: 7,
        log: false,
    };
    for (name, f) in supported() {
        check(name, f, &p, &x).unwrap();
    }
}
