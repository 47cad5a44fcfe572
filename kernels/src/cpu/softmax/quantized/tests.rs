use super::*;
use crate::cpu::supported_variants;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn within_one_step_of_the_reference(
        row_len in prop_oneof![1usize..=20, Just(255), Just(256)],
        rows in 1usize..5,
        x_signed in any::<bool>(),
        y_signed in any::<bool>(),
        x_scale in prop_oneof![1e-4f32..1e-2, 1e-2f32..1.0, Just(1.0f32 / 16.0)],
        y_scale in prop_oneof![Just(1.0f32 / 256.0), Just(1.0f32 / 255.0), 1e-4f32..0.1],
        y_zero_point in -128i32..256,
        seed in any::<u64>(),
    ) {
        let y_zero_point = if y_signed { y_zero_point.clamp(-128, 127) } else { y_zero_point.clamp(0, 255) };
        let p = QSoftmaxParams { row_len, x_signed, y_scale, y_zero_point, y_signed };
        let x: Vec<u8> = (0..rows * row_len)
            .map(|i| (seed.wrapping_mul(6364136223846793005).wrapping_add(i as u64 * 2654435761) >> 29) as u8)
            .collect();
        let (mut want, mut got) = (vec![0u8; x.len()], vec![0u8; x.len()]);
        let table = QSoftmaxTable::new(x_scale).unwrap();
        qsoftmax_reference(&p, &table, &x, &mut want).unwrap();
        let value = |b: u8| if y_signed { b as i8 as i32 } else { b as i32 };
        for (name, f) in supported_variants(Variant::qsoftmax) {
            f(&p, &table, &x, &mut got).unwrap();
            for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
                prop_assert!((value(g) - value(w)).abs() <= 1, "{}: element {}: {} vs {}", name, i, value(g), value(w));
            }
        }
    }
}

#[test]
fn known_row_and_bad_arguments() {
    // Two equal maxima and a value far below: halves and (almost) zero.
    let p = QSoftmaxParams {
        row_len: 3,
        x_signed: false,
        y_scale: 1.0 / 256.0,
        y_zero_point: 0,
        y_signed: false,
    };
    let t = QSoftmaxTable::new(0.5).unwrap();
    let mut y = [0u8; 3];
    qsoftmax(&p, &t, &[200, 200, 0], &mut y).unwrap();
    assert_eq!(y, [128, 128, 0]);
    // Signed inputs: -128 is the smallest value, not the largest byte.
    let s = QSoftmaxParams {
        x_signed: true,
        ..p
    };
    qsoftmax(&s, &t, &[0x80, 0x7f, 0x80], &mut y).unwrap();
    assert_eq!(y, [0, 255, 0]);
    for (name, f) in supported_variants(Variant::qsoftmax) {
        let mut y = [0u8; 3];
        f(&p, &t, &[200, 200, 0], &mut y).unwrap();
        assert_eq!(y, [128, 128, 0], "{name}");
        f(&s, &t, &[0x80, 0x7f, 0x80], &mut y).unwrap();
        assert_eq!(y, [0, 255, 0], "{name}");
        assert!(f(&p, &t, &[1, 2], &mut [0; 2]).is_err(), "{name}");
    }
    assert!(qsoftmax(&p, &t, &[1, 2], &mut [0; 2]).is_err());
    assert!(qsoftmax(&p, &t, &[1, 2, 3], &mut [0; 2]).is_err());
    let bad_scale = QSoftmaxParams { y_scale: 0.0, ..p };
    assert!(qsoftmax(&bad_scale, &t, &[1, 2, 3], &mut y).is_err());
    let bad_zero = QSoftmaxParams {
        y_zero_point: 300,
        ..p
    };
    assert!(qsoftmax(&bad_zero, &t, &[1, 2, 3], &mut y).is_err());
    assert!(QSoftmaxTable::new(f32::NAN).is_err());
    assert!(QSoftmaxTable::new(-1.0).is_err());
}

#[test]
fn every_variant_is_registered() {
    let names: Vec<_> = supported_variants(Variant::qsoftmax)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(names.contains(&"qsoftmax_u8_portable"), "{names:?}");
}
