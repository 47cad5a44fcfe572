//! Every compiled variant against the oracle, bit for bit, on random shapes (edge sizes 1, 7, 17
//! and 255 included), taps, weights and quantizations; the oracle itself on cases worked
//! out by hand; and the argument checks.

use proptest::prelude::*;

use super::{qresize, qresize_reference, QResizeFn, QResizeParams, Taps};
use crate::cpu::{supported_variants, Variant};
use crate::KernelErrorKind;

fn supported() -> Vec<(&'static str, QResizeFn)> {
    supported_variants(Variant::qresize)
}

/// Owned taps of one axis.
#[derive(Clone, Debug)]
struct AxisTaps {
    n: usize,
    index: Vec<usize>,
    weight: Vec<f32>,
    outside: Vec<bool>,
}

impl AxisTaps {
    fn view(&self) -> Taps<'_> {
        Taps {
            n: self.n,
            index: &self.index,
            weight: &self.weight,
            outside: &self.outside,
        }
    }
}

fn length() -> impl Strategy<Value = usize> {
    prop_oneof![Just(1usize), Just(7), Just(17), Just(255), 1usize..40]
}

/// Random taps from `out_len` positions into `in_len`: 1 to 6 taps (1, 2 and 4 take the
/// unrolled loops), weights in [-1, 2] (cubic weights go negative), a few positions outside.
fn taps(in_len: usize, out_len: usize) -> impl Strategy<Value = AxisTaps> {
    (1usize..=6, any::<bool>()).prop_flat_map(move |(n, with_outside)| {
        (
            proptest::collection::vec(0..in_len, n * out_len),
            proptest::collection::vec(-1.0f32..2.0, n * out_len),
            proptest::collection::vec(
                proptest::bool::weighted(if with_outside { 0.2 } else { 0.0 }),
                out_len,
            ),
        )
            .prop_map(move |(index, weight, outside)| AxisTaps {
                n,
                index,
                weight,
                outside,
            })
    })
}

/// A call's shapes, quantizations and taps; the rows are kept small when the columns are
/// long so that the oracle stays quick.
fn case() -> impl Strategy<Value = (QResizeParams, AxisTaps, AxisTaps)> {
    (
        1usize..4,
        length(),
        length(),
        length(),
        length(),
        any::<(bool, bool)>(),
        any::<(u8, u8, u8)>(),
        0.01f32..8.0,
    )
        .prop_filter("bounded work", |&(planes, in_h, in_w, out_h, out_w, ..)| {
            planes * (in_h * in_w + out_h * out_w) <= 40_000
        })
        .prop_flat_map(
            |(planes, in_h, in_w, out_h, out_w, (x_signed, y_signed), (zx, zy, fill), m)| {
                let zero = |z: u8, signed: bool| if signed { z as i8 as i32 } else { z as i32 };
                let p = QResizeParams {
                    planes,
                    in_h,
                    in_w,
                    out_h,
                    out_w,
                    x_signed,
                    x_zero_point: zero(zx, x_signed),
                    multiplier: m,
                    y_signed,
                    y_zero_point: zero(zy, y_signed),
                    fill,
                };
                (Just(p), taps(in_h, out_h), taps(in_w, out_w))
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_variant_matches_the_oracle_bit_for_bit(
        (p, rows, cols) in case(),
        seed in any::<u64>(),
    ) {
        let mut state = seed | 1;
        let x: Vec<u8> = (0..p.planes * p.in_h * p.in_w)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        let mut want = vec![0u8; p.planes * p.out_h * p.out_w];
        qresize_reference(&p, &rows.view(), &cols.view(), &x, &mut want).unwrap();
        for (name, f) in supported() {
            let mut got = vec![0xA5u8; want.len()];
            f(&p, &rows.view(), &cols.view(), &x, &mut got).unwrap();
            prop_assert_eq!(&got, &want, "{} {:?}", name, p);
        }
        // The table's choice too.
        let mut got = vec![0x5Au8; want.len()];
        qresize(&p, &rows.view(), &cols.view(), &x, &mut got).unwrap();
        prop_assert_eq!(got, want);
    }
}

fn params(in_w: usize, out_w: usize) -> QResizeParams {
    QResizeParams {
        planes: 1,
        in_h: 1,
        in_w,
        out_h: 1,
        out_w,
        x_signed: false,
        x_zero_point: 0,
        multiplier: 1.0,
        y_signed: false,
        y_zero_point: 0,
        fill: 0,
    }
}

fn identity_rows() -> AxisTaps {
    AxisTaps {
        n: 1,
        index: vec![0],
        weight: vec![1.0],
        outside: vec![false],
    }
}

#[test]
fn oracle_on_hand_worked_cases() {
    // Linear 1 x 2 -> 1 x 4 (align_corners-like weights), u8 in, zero point 10 in and out,
    // multiplier 1: the centred values 0 and 90 interpolate to 0, 30, 60, 90.
    let cols = AxisTaps {
        n: 2,
        index: vec![0, 1, 0, 1, 0, 1, 0, 1],
        weight: vec![
            1.0,
            0.0,
            2.0 / 3.0,
            1.0 / 3.0,
            1.0 / 3.0,
            2.0 / 3.0,
            0.0,
            1.0,
        ],
        outside: vec![false; 4],
    };
    let p = QResizeParams {
        x_zero_point: 10,
        y_zero_point: 10,
        ..params(2, 4)
    };
    let mut y = [0u8; 4];
    qresize_reference(
        &p,
        &identity_rows().view(),
        &cols.view(),
        &[10, 100],
        &mut y,
    )
    .unwrap();
    assert_eq!(y, [10, 40, 70, 100]);

    // Halves round to even: 0.5·1 + 0.5·2 = 1.5 -> 2, 0.5·2 + 0.5·3 = 2.5 -> 2; a multiplier
    // of 2 into i8 with zero point -128 saturates 2·100 + (-128) = 72, 2·200 - 128 -> 127.
    let halves = AxisTaps {
        n: 2,
        index: vec![0, 1, 1, 2],
        weight: vec![0.5; 4],
        outside: vec![false; 2],
    };
    let mut y = [0u8; 2];
    qresize_reference(
        &params(3, 2),
        &identity_rows().view(),
        &halves.view(),
        &[1, 2, 3],
        &mut y,
    )
    .unwrap();
    assert_eq!(y, [2, 2]);
    let one = AxisTaps {
        n: 1,
        index: vec![0, 1],
        weight: vec![1.0; 2],
        outside: vec![false, true],
    };
    let p = QResizeParams {
        multiplier: 2.0,
        y_signed: true,
        y_zero_point: -128,
        fill: 0x55,
        ..params(2, 2)
    };
    let all: Vec<QResizeFn> = supported()
        .into_iter()
        .map(|(_, f)| f)
        .chain([qresize_reference as QResizeFn])
        .collect();
    for f in all {
        let mut y = [0u8; 2];
        f(
            &p,
            &identity_rows().view(),
            &one.view(),
            &[100, 200],
            &mut y,
        )
        .unwrap();
        // Column 1 is outside: the fill byte, not the saturated 127.
        assert_eq!(y, [72, 0x55]);
    }
}

#[test]
fn bad_arguments_are_errors() {
    let cols = AxisTaps {
        n: 1,
        index: vec![0, 1],
        weight: vec![1.0; 2],
        outside: vec![false; 2],
    };
    let rows = identity_rows();
    let good = params(2, 2);
    let run = |p: &QResizeParams, rows: &AxisTaps, cols: &AxisTaps, x: &[u8], y: &mut [u8]| {
        let all = supported().into_iter().map(|(_, f)| f);
        for f in all.chain([qresize_reference as QResizeFn]) {
            let e = f(p, &rows.view(), &cols.view(), x, y).unwrap_err();
            assert!(
                matches!(
                    e.kind(),
                    KernelErrorKind::InvalidParams | KernelErrorKind::OutOfBounds
                ),
                "{e}"
            );
        }
    };
    run(&good, &rows, &cols, &[1], &mut [0; 2]);
    run(&good, &rows, &cols, &[1, 2], &mut [0; 3]);
    let far = AxisTaps {
        index: vec![0, 2],
        ..cols.clone()
    };
    run(&good, &rows, &far, &[1, 2], &mut [0; 2]);
    let short = AxisTaps {
        weight: vec![1.0],
        ..cols.clone()
    };
    run(&good, &rows, &short, &[1, 2], &mut [0; 2]);
    let nan = AxisTaps {
        weight: vec![1.0, f32::NAN],
        ..cols.clone()
    };
    run(&good, &rows, &nan, &[1, 2], &mut [0; 2]);
    let flags = AxisTaps {
        outside: vec![false],
        ..cols.clone()
    };
    run(&good, &rows, &flags, &[1, 2], &mut [0; 2]);
    let zero_taps = AxisTaps {
        n: 0,
        index: vec![],
        weight: vec![],
        ..cols.clone()
    };
    run(&good, &rows, &zero_taps, &[1, 2], &mut [0; 2]);
    for bad in [
        QResizeParams {
            multiplier: 0.0,
            ..good
        },
        QResizeParams {
            multiplier: f32::INFINITY,
            ..good
        },
        QResizeParams {
            x_zero_point: 256,
            ..good
        },
        QResizeParams {
            y_signed: true,
            y_zero_point: 128,
            ..good
        },
        QResizeParams {
            planes: usize::MAX,
            ..good
        },
    ] {
        run(&bad, &rows, &cols, &[1, 2], &mut [0; 2]);
    }
}
