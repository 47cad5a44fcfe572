//! Every compiled `activate` variant against the reference, and the reference's `erf` against
//! known values.
//!
//! Tolerances (the contract stated on [`Activation`]): the piecewise-linear functions are
//! bit for bit (NaN matching NaN); `Exp` within [`EXP_REL`] relative; `Sigmoid`, `Tanh`, `Erf`
//! within [`BOUNDED_REL`] *relative* (so also absolutely, as `|f| <= 1`, and accurately near 0,
//! where the conformance suite compares with `atol = 1e-7`); `Silu`, `Gelu`, `GeluTanh` within
//! [`GATED_ABS`]`·max(1, |x|)`. Everywhere a slack of [`SUBNORMAL_SLACK`] absorbs subnormal
//! results, whose relative precision no `f32` formula has. Infinities must match exactly.

use proptest::prelude::*;

use super::reference::{self, erf_f64};
use super::{ActivateFn, Activation};
use crate::cpu::{supported_variants, Variant};

const EXP_REL: f32 = 5e-7;
const BOUNDED_REL: f32 = 1e-6;
const GATED_ABS: f32 = 2e-6;
const SUBNORMAL_SLACK: f32 = 1e-37;

/// One of each kind, with parameters that exercise both sides of every kink.
const ALL: [Activation; 12] = [
    Activation::Relu,
    Activation::Clip {
        min: -1.0,
        max: 6.0,
    },
    Activation::LeakyRelu { alpha: 0.1 },
    Activation::HardSigmoid {
        alpha: 0.2,
        beta: 0.5,
    },
    Activation::HardSwish,
    Activation::Sigmoid,
    Activation::Silu,
    Activation::Tanh,
    Activation::Exp,
    Activation::Erf,
    Activation::Gelu,
    Activation::GeluTanh,
];

/// Why `got` is not an acceptable value of `act` at `x`, given the reference's `want`.
fn mismatch(act: Activation, x: f32, got: f32, want: f32) -> Option<String> {
    if want.is_nan() || got.is_nan() {
        return (want.is_nan() != got.is_nan()).then(|| "NaN mismatch".to_string());
    }
    let err = (got - want).abs();
    let allowed = match act {
        Activation::Relu
        | Activation::Clip { .. }
        | Activation::LeakyRelu { .. }
        | Activation::HardSigmoid { .. }
        | Activation::HardSwish => {
            return (got.to_bits() != want.to_bits()).then(|| "not bit for bit".to_string())
        }
        _ if want.is_infinite() || got.is_infinite() => {
            return (got != want).then(|| "infinity mismatch".to_string())
        }
        Activation::Exp => EXP_REL * want.abs(),
        Activation::Sigmoid | Activation::Tanh | Activation::Erf => BOUNDED_REL * want.abs(),
        Activation::Silu | Activation::Gelu | Activation::GeluTanh => GATED_ABS * x.abs().max(1.0),
    };
    (err > allowed + SUBNORMAL_SLACK).then(|| format!("error {err:e} > {allowed:e}"))
}

/// Runs `f` on `xs` for every activation and checks each element against the reference.
fn check(name: &str, f: ActivateFn, xs: &[f32]) -> Result<(), TestCaseError> {
    for act in ALL {
        let mut got = xs.to_vec();
        f(act, &mut got);
        for (i, (&x, &g)) in xs.iter().zip(&got).enumerate() {
            let want = reference::scalar(act, x);
            if let Some(why) = mismatch(act, x, g, want) {
                return Err(TestCaseError::fail(format!(
                    "{name} {act:?} at [{i}] of {}: x = {x:e}: got {g:e}, want {want:e}: {why}",
                    xs.len()
                )));
            }
        }
    }
    Ok(())
}

/// The optimised variants this CPU runs (the others reported as skipped).
fn supported() -> Vec<(&'static str, ActivateFn)> {
    supported_variants(Variant::activate)
}

const SPECIAL: [f32; 22] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    100.0,
    -100.0,
    1e30,
    -1e30,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::NAN,
    f32::MAX,
    f32::MIN,
    f32::MIN_POSITIVE,
    1e-40,
    -1e-40,
    88.72,
    -87.5,
    -103.9,
    3.92,
    -4.0,
    9.5,
];

fn value() -> impl Strategy<Value = f32> {
    prop_oneof![
        4 => -10.0f32..10.0,
        2 => (any::<bool>(), -40i32..39, 1.0f32..10.0)
            .prop_map(|(neg, e, m)| if neg { -m } else { m } * 10f32.powi(e)),
        1 => prop::sample::select(&SPECIAL[..]),
        1 => any::<f32>(),
    ]
}

fn len() -> impl Strategy<Value = usize> {
    prop_oneof![
        prop::sample::select(vec![0usize, 1, 7, 15, 16, 17, 31, 33, 255]),
        0..300usize,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_variant_matches_the_reference(xs in len().prop_flat_map(|n| prop::collection::vec(value(), n))) {
        for (name, f) in supported() {
            check(name, f, &xs)?;
        }
    }
}

/// Every special value, in every lane position of a vector and of the tail.
#[test]
fn special_values_in_every_lane() {
    let xs: Vec<f32> = (0..SPECIAL.len() + 40)
        .map(|i| SPECIAL[i % SPECIAL.len()])
        .collect();
    for (name, f) in supported() {
        for len in 0..xs.len() {
            check(name, f, &xs[..len]).unwrap();
        }
    }
}

/// The sweep behind the bounds quoted in `math.rs`: every 4099th `f32` bit pattern (the whole
/// line, both signs, subnormals to infinities) and 200 001 points of `[-12, 12]`, each variant
/// against the reference within the test tolerances. Run with `--nocapture` to see the maxima.
#[test]
fn measured_error_bounds() {
    let mut xs: Vec<f32> = (0..=u32::MAX / 4099)
        .map(|i| f32::from_bits(i * 4099))
        .collect();
    xs.extend((0..=200_000).map(|i| -12.0 + 24.0 * i as f32 / 200_000.0));
    let wants: Vec<Vec<f32>> = ALL
        .iter()
        .map(|&act| xs.iter().map(|&x| reference::scalar(act, x)).collect())
        .collect();
    for (name, f) in supported() {
        for (&act, want) in ALL.iter().zip(&wants) {
            let mut got = xs.clone();
            f(act, &mut got);
            let (mut abs, mut rel) = (0.0f64, 0.0f64);
            for ((&x, &g), &w) in xs.iter().zip(&got).zip(want) {
                if let Some(why) = mismatch(act, x, g, w) {
                    panic!("{name} {act:?}: x = {x:e}: got {g:e}, want {w:e}: {why}");
                }
                if w.is_finite() && g.is_finite() {
                    let err = (f64::from(g) - f64::from(w)).abs();
                    abs = abs.max(err / f64::from(x.abs().max(1.0)));
                    // Far above the subnormal slack, where relative error means something.
                    if w.abs() >= 1e-30 {
                        rel = rel.max(err / f64::from(w.abs()));
                    }
                }
            }
            // Exp is unbounded: only its relative error means something.
            let abs = if act == Activation::Exp {
                "-".to_string()
            } else {
                format!("{abs:.2e}")
            };
            let act = format!("{act:?}");
            eprintln!("{name:>24} {act:<40} abs/max(1,|x|) {abs:>8}  rel {rel:.2e}");
        }
    }
}

/// `(x, erf(x))` from Python's `math.erf`.
const ERF_KNOWN: [(f64, f64); 9] = [
    (1e-10, 1.1283791670955126e-10),
    (0.1, 0.1124629160182849),
    (0.5, 0.5204998778130465),
    (1.0, 0.8427007929497149),
    (2.0, 0.9953222650189527),
    (2.4999, 0.9995928300996666),
    (2.5, 0.999593047982555),
    (3.0, 0.9999779095030014),
    (4.5, 0.9999999998033839),
];

#[test]
fn reference_erf_matches_known_values() {
    for (x, want) in ERF_KNOWN {
        for (x, want) in [(x, want), (-x, -want)] {
            let got = erf_f64(x);
            assert!(
                (got - want).abs() <= 1e-14 * want.abs(),
                "erf({x}) = {got}, want {want}"
            );
        }
    }
    assert_eq!(erf_f64(0.0), 0.0);
    assert_eq!(erf_f64(f64::INFINITY), 1.0);
    assert_eq!(erf_f64(f64::NEG_INFINITY), -1.0);
    assert!(erf_f64(f64::NAN).is_nan());
}

#[test]
fn invalid_clip_is_rejected() {
    assert!(Activation::Clip { min: 1.0, max: 0.0 }.validate().is_err());
    assert!(Activation::Clip {
        min: f32::NAN,
        max: 0.0
    }
    .validate()
    .is_err());
    assert!(Activation::Clip { min: 0.0, max: 0.0 }.validate().is_ok());
}
