//! The kernel-based `DynamicQuantizeLinear` against its scalar definition, bit for bit.

use super::{dynamic_quantize_scalar, dynamic_quantize_u8};
use proptest::prelude::*;

fn check(xs: &[f32]) {
    let (mut fast, mut slow) = (vec![0u8; xs.len()], vec![0u8; xs.len()]);
    let got = dynamic_quantize_u8(xs, &mut fast).expect("runs");
    let want = dynamic_quantize_scalar(xs, &mut slow);
    assert_eq!(got.0.to_bits(), want.0.to_bits(), "scale of {xs:?}");
    assert_eq!(got.1, want.1, "zero point of {xs:?}");
    assert_eq!(fast, slow, "values of {xs:?}");
}

#[test]
fn edge_inputs_match_the_definition() {
    let cases: [&[f32]; 12] = [
        &[],
        &[0.0],
        &[-0.0, 0.0, -0.0],
        &[1.0, 2.0, 3.0],
        &[-1.0, -2.0, -3.0],
        &[f32::NAN, 1.0, -2.0],
        &[f32::INFINITY, 1.0, -2.0],
        &[f32::NEG_INFINITY, 1.0, -2.0],
        &[3e38, -3e38, 1.0],
        &[1e-45, -1e-45, 0.0],
        &[1e-40, 2e-40, -3e-41],
        &[f32::MAX, f32::MIN_POSITIVE, 1e30],
    ];
    for xs in cases {
        check(xs);
    }
}

proptest! {
    #[test]
    fn kernel_path_matches_the_definition(
        xs in prop::collection::vec(prop_oneof![
            8 => -1e3f32..1e3,
            1 => -1e-3f32..1e-3,
            1 => Just(0.0f32),
            1 => prop::num::f32::ANY,
        ], 0..300),
    ) {
        check(&xs);
    }

    #[test]
    fn one_signed_ranges_match_the_definition(
        xs in prop::collection::vec(0f32..50.0, 1..200),
        negate in any::<bool>(),
    ) {
        let xs: Vec<f32> = xs.iter().map(|&v| if negate { -v } else { v }).collect();
        check(&xs);
    }
}
