//! Every compiled `binary` variant against the reference: bit for bit (any NaN matching any
//! NaN: payloads are the ISA's business), for every operator, with either operand repeated.

use proptest::prelude::*;

use super::reference;
use super::{BinaryFn, BinaryOp};
use crate::cpu::{supported_variants, Variant};

const OPS: [BinaryOp; 4] = [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div];

/// The optimised variants this CPU runs (the others reported as skipped).
fn supported() -> Vec<(&'static str, BinaryFn)> {
    supported_variants(Variant::binary)
}

/// How the operands broadcast: each is contiguous or one repeated element.
#[derive(Clone, Copy, Debug)]
enum Layout {
    Both,
    LeftRepeated,
    RightRepeated,
    BothRepeated,
}

const LAYOUTS: [Layout; 4] = [
    Layout::Both,
    Layout::LeftRepeated,
    Layout::RightRepeated,
    Layout::BothRepeated,
];

/// Runs every variant on `(a, b)` cut to `layout` for every operator, against the reference.
fn check(a: &[f32], b: &[f32], layout: Layout) -> Result<(), TestCaseError> {
    let n = a.len().min(b.len());
    let (a, b) = match layout {
        Layout::Both => (&a[..n], &b[..n]),
        Layout::LeftRepeated => (&a[..1], &b[..n]),
        Layout::RightRepeated => (&a[..n], &b[..1]),
        Layout::BothRepeated => (&a[..1], &b[..1]),
    };
    for op in OPS {
        let mut want = vec![0.0f32; n];
        reference::binary(op, a, b, &mut want).unwrap();
        for (name, f) in supported() {
            // Stale contents must not leak into the result.
            let mut got = vec![f32::from_bits(0x7fc0_1234); n];
            f(op, a, b, &mut got).unwrap();
            for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
                let same = g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan());
                prop_assert!(
                    same,
                    "{} {:?} {:?} at [{}] of {}: got {:e}, want {:e}",
                    name,
                    op,
                    layout,
                    i,
                    n,
                    g,
                    w
                );
            }
        }
    }
    Ok(())
}

const SPECIAL: [f32; 14] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    3.0,
    6.0,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::NAN,
    f32::MAX,
    f32::MIN,
    f32::MIN_POSITIVE,
    1e-40,
    -1e-40,
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
        prop::sample::select(vec![1usize, 7, 15, 16, 17, 31, 33, 255]),
        1..300usize,
    ]
}

fn operands() -> impl Strategy<Value = (Vec<f32>, Vec<f32>)> {
    len().prop_flat_map(|n| {
        (
            prop::collection::vec(value(), n),
            prop::collection::vec(value(), n),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_variant_matches_the_reference((a, b) in operands()) {
        for layout in LAYOUTS {
            check(&a, &b, layout)?;
        }
    }
}

/// Every pair of special values, in every lane position of a vector and of the tail.
#[test]
fn special_values_in_every_lane() {
    let a: Vec<f32> = (0..SPECIAL.len() * SPECIAL.len())
        .map(|i| SPECIAL[i % SPECIAL.len()])
        .collect();
    let b: Vec<f32> = (0..a.len()).map(|i| SPECIAL[i / SPECIAL.len()]).collect();
    for len in 1..=a.len() {
        for layout in LAYOUTS {
            check(&a[..len], &b[..len], layout).unwrap();
        }
    }
}

#[test]
fn empty_outputs_are_fine_and_wrong_lengths_are_rejected() {
    let every: Vec<(&str, BinaryFn)> =
        std::iter::once(("reference", reference::binary as BinaryFn))
            .chain(supported())
            .collect();
    for (name, f) in every {
        let mut out = [0.0f32; 4];
        assert!(f(BinaryOp::Add, &[], &[], &mut []).is_ok(), "{name}");
        assert!(f(BinaryOp::Add, &[1.0], &[2.0], &mut []).is_ok(), "{name}");
        assert!(
            f(BinaryOp::Add, &[1.0; 3], &[1.0; 4], &mut out).is_err(),
            "{name}"
        );
        assert!(
            f(BinaryOp::Add, &[1.0; 4], &[1.0; 2], &mut out).is_err(),
            "{name}"
        );
        assert!(f(BinaryOp::Add, &[], &[1.0], &mut out).is_err(), "{name}");
        assert_eq!(out, [0.0; 4], "{name}: a rejected call wrote its output");
        f(BinaryOp::Div, &[1.0; 4], &[2.0], &mut out).unwrap();
        assert_eq!(out, [0.5; 4], "{name}");
    }
}
