//! Every compiled quantize-family variant against the reference (the oracle): bit-identical on
//! random and extreme inputs (NaN, ±inf, huge values, every byte), all lengths around the vector
//! widths, signed and unsigned sides, random zero points and scales from 1e-4 to 10.

use proptest::prelude::*;

use super::{QBinaryOp, QParams, QuantizeKernels, REFERENCE_KERNELS};
use crate::cpu::{supported_variants, Variant};
use crate::KernelErrorKind;

/// Around the vector widths, and past [`super::TABLE_FROM`] (the table paths).
const LENGTHS: &[usize] = &[
    0, 1, 7, 15, 16, 17, 31, 63, 64, 65, 255, 1000, 1024, 1100, 4099,
];

fn optimised() -> Vec<(&'static str, QuantizeKernels)> {
    supported_variants(Variant::quantize)
}

/// Deterministic bytes (xorshift) with the extremes 0, 255, 0x80, 0x7f mixed in.
fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut s = seed | 1;
    (0..len)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            if (s >> 8) % 9 == 0 {
                [0u8, 255, 0x80, 0x7f][i % 4]
            } else {
                (s >> 32) as u8
            }
        })
        .collect()
}

/// Deterministic floats around ±`range` with specials mixed in: NaN, ±inf, ±0, huge, exact
/// halves (ties), tiny.
fn floats(seed: u64, len: usize, range: f32) -> Vec<f32> {
    const SPECIALS: [f32; 10] = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.0,
        -0.0,
        3.0e38,
        -3.0e38,
        1.0e-40,
        2.5,
        -0.5,
    ];
    let mut s = seed | 1;
    (0..len)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            if (s >> 8) % 7 == 0 {
                SPECIALS[i % SPECIALS.len()]
            } else {
                ((s >> 40) as f32 / (1u64 << 23) as f32 - 1.0) * range
            }
        })
        .collect()
}

fn qparams() -> impl Strategy<Value = QParams> {
    (any::<bool>(), any::<u8>(), -4.0f32..1.0).prop_map(|(signed, z, e)| QParams {
        scale: 10f32.powf(e),
        zero_point: if signed { z as i8 as i32 } else { z as i32 },
        signed,
    })
}

fn length() -> impl Strategy<Value = usize> {
    prop_oneof![proptest::sample::select(LENGTHS), 0usize..300]
}

fn op() -> impl Strategy<Value = QBinaryOp> {
    proptest::sample::select(vec![
        QBinaryOp::Add,
        QBinaryOp::Sub,
        QBinaryOp::Mul,
        QBinaryOp::Div,
        QBinaryOp::Max,
        QBinaryOp::Min,
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn quantize_matches(n in length(), q in qparams(), range_exp in -3.0f32..4.0, seed: u64) {
        let x = floats(seed, n, 10f32.powf(range_exp));
        let mut want = vec![0u8; n];
        (REFERENCE_KERNELS.quantize)(&x, q.scale, q.zero_point, q.signed, &mut want).unwrap();
        for (name, k) in optimised() {
            let mut got = vec![0xA5u8; n];
            (k.quantize)(&x, q.scale, q.zero_point, q.signed, &mut got).unwrap();
            prop_assert_eq!(&got, &want, "{}", name);
        }
    }

    #[test]
    fn dequantize_matches(n in length(), q in qparams(), seed: u64) {
        let x = bytes(seed, n);
        let mut want = vec![0f32; n];
        (REFERENCE_KERNELS.dequantize)(&x, q.signed, q.scale, q.zero_point, &mut want).unwrap();
        for (name, k) in optimised() {
            let mut got = vec![f32::NAN; n];
            (k.dequantize)(&x, q.signed, q.scale, q.zero_point, &mut got).unwrap();
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&got), bits(&want), "{}", name);
        }
    }

    #[test]
    fn qbinary_matches(
        n in length(),
        op in op(),
        (qa, qb, qy) in (qparams(), qparams(), qparams()),
        (a_single, b_single) in any::<(bool, bool)>(),
        seed: u64,
    ) {
        let a = bytes(seed, if a_single { 1 } else { n });
        let b = bytes(seed ^ 0xabc, if b_single { 1 } else { n });
        let mut want = vec![0u8; n];
        (REFERENCE_KERNELS.qbinary)(op, &a, qa, &b, qb, qy, &mut want).unwrap();
        for (name, k) in optimised() {
            let mut got = vec![0xA5u8; n];
            (k.qbinary)(op, &a, qa, &b, qb, qy, &mut got).unwrap();
            prop_assert_eq!(&got, &want, "{} {:?}", name, op);
        }
    }

    #[test]
    fn qbinary_runs_matches(
        run in prop_oneof![1usize..=20, Just(96), Just(192), Just(255)],
        runs in 1usize..12,
        op in op(),
        (qa, qb, qy) in (qparams(), qparams(), qparams()),
        seed: u64,
    ) {
        let n = run * runs;
        let (a, b) = (bytes(seed, n), bytes(seed ^ 0xabc, runs));
        let mut want = vec![0u8; n];
        (REFERENCE_KERNELS.qbinary_runs)(op, &a, qa, &b, qb, qy, &mut want, run).unwrap();
        // The reference itself: `qbinary` with the run's repeated value, run by run.
        for r in 0..runs {
            let mut y = vec![0u8; run];
            let span = r * run..(r + 1) * run;
            (REFERENCE_KERNELS.qbinary)(op, &a[span.clone()], qa, &b[r..r + 1], qb, qy, &mut y).unwrap();
            prop_assert_eq!(&y[..], &want[span]);
        }
        for (name, k) in optimised() {
            let mut got = vec![0xA5u8; n];
            (k.qbinary_runs)(op, &a, qa, &b, qb, qy, &mut got, run).unwrap();
            prop_assert_eq!(&got, &want, "{} {:?}", name, op);
        }
    }

    #[test]
    fn requantize_matches(n in length(), (qx, qy) in (qparams(), qparams()), seed: u64) {
        let x = bytes(seed, n);
        let mut want = vec![0u8; n];
        (REFERENCE_KERNELS.requantize)(&x, qx, qy, &mut want).unwrap();
        for (name, k) in optimised() {
            let mut got = vec![0xA5u8; n];
            (k.requantize)(&x, qx, qy, &mut got).unwrap();
            prop_assert_eq!(&got, &want, "{}", name);
        }
    }

    #[test]
    fn lut8_matches(n in length(), seed: u64) {
        let x = bytes(seed, n);
        let table: [u8; 256] = bytes(seed ^ 0x1234, 256).try_into().unwrap();
        let mut want = vec![0u8; n];
        (REFERENCE_KERNELS.lut8)(&x, &table, &mut want).unwrap();
        for (name, k) in optimised() {
            let mut got = vec![0xA5u8; n];
            (k.lut8)(&x, &table, &mut got).unwrap();
            prop_assert_eq!(&got, &want, "{}", name);
        }
    }
}

fn all() -> Vec<(&'static str, QuantizeKernels)> {
    let mut v = vec![("reference", REFERENCE_KERNELS)];
    v.extend(optimised());
    v
}

/// The definition on hand-picked values: ties to even, NaN → zero point, saturation.
#[test]
fn quantize_known_values() {
    let x = [
        0.5,
        1.5,
        2.5,
        -0.5,
        -1.5,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        1e30,
        -1e30,
        126.9,
        300.0,
        -0.0,
        2.4999998,
        -129.0,
        0.0,
        7.0,
    ];
    let want_u8 = [
        10, 12, 12, 10, 8, 10, 255, 0, 255, 0, 137, 255, 10, 12, 0, 10, 17,
    ];
    let want_i8 = [
        0i8, 2, 2, 0, -2, 0, 127, -128, 127, -128, 127, 127, 0, 2, -128, 0, 7,
    ];
    for (name, k) in all() {
        let mut y = [0u8; 17];
        (k.quantize)(&x, 1.0, 10, false, &mut y).unwrap();
        assert_eq!(y, want_u8, "{name} u8");
        (k.quantize)(&x, 1.0, 0, true, &mut y).unwrap();
        assert_eq!(y.map(|b| b as i8), want_i8, "{name} i8");
    }
}

/// Every byte, both signs, through dequantize and back: the identity.
#[test]
fn dequantize_then_quantize_round_trips() {
    let x: Vec<u8> = (0..=255).collect();
    for (name, k) in all() {
        for (signed, zp) in [(false, 0), (false, 128), (true, 0), (true, -7)] {
            let mut f = vec![0f32; 256];
            let mut back = vec![0u8; 256];
            (k.dequantize)(&x, signed, 0.037, zp, &mut f).unwrap();
            (k.quantize)(&f, 0.037, zp, signed, &mut back).unwrap();
            assert_eq!(back, x, "{name} signed={signed} zp={zp}");
        }
    }
}

/// Hand-computed binary ops and the broadcast of one element.
#[test]
fn qbinary_known_values() {
    let qa = QParams {
        scale: 0.5,
        zero_point: 10,
        signed: false,
    };
    let qb = QParams {
        scale: 0.25,
        zero_point: -4,
        signed: true,
    };
    let qy = QParams {
        scale: 1.0,
        zero_point: 100,
        signed: false,
    };
    // a = (20 - 10)·0.5 = 5; b = (8 + 4)·0.25 = 3.
    let (a, b) = ([20u8; 19], [8u8]);
    for (name, k) in all() {
        for (op, want) in [
            (QBinaryOp::Add, 108u8),
            (QBinaryOp::Sub, 102),
            (QBinaryOp::Mul, 115),
            (QBinaryOp::Div, 102), // 5/3 = 1.67 → 2
            (QBinaryOp::Max, 105),
            (QBinaryOp::Min, 103),
        ] {
            let mut y = [0u8; 19];
            (k.qbinary)(op, &a, qa, &b, qb, qy, &mut y).unwrap();
            assert_eq!(y, [want; 19], "{name} {op:?}");
            (k.qbinary)(op, &a[..1], qa, &b, qb, qy, &mut y).unwrap();
            assert_eq!(y, [want; 19], "{name} {op:?} both repeated");
        }
    }
}

#[test]
fn bad_calls_are_errors() {
    let q = QParams {
        scale: 1.0,
        zero_point: 0,
        signed: false,
    };
    let bad_scales = [0.0, -1.0, f32::NAN, f32::INFINITY];
    for (name, k) in all() {
        let (x, xf) = ([1u8; 5], [1f32; 5]);
        let (mut y, mut yf) = ([0u8; 5], [0f32; 5]);
        let kind = |r: Result<(), crate::KernelError>| r.unwrap_err().kind();
        use KernelErrorKind::{InvalidParams as Inv, OutOfBounds as Oob};
        assert_eq!(
            kind((k.quantize)(&xf, 1.0, 0, false, &mut y[..4])),
            Oob,
            "{name}"
        );
        assert_eq!(
            kind((k.quantize)(&xf, 1.0, 256, false, &mut y)),
            Inv,
            "{name}"
        );
        assert_eq!(
            kind((k.quantize)(&xf, 1.0, 128, true, &mut y)),
            Inv,
            "{name}"
        );
        assert_eq!(
            kind((k.dequantize)(&x[..4], false, 1.0, 0, &mut yf)),
            Oob,
            "{name}"
        );
        assert_eq!(
            kind((k.dequantize)(&x, true, 1.0, -129, &mut yf)),
            Inv,
            "{name}"
        );
        for s in bad_scales {
            assert_eq!(
                kind((k.quantize)(&xf, s, 0, false, &mut y)),
                Inv,
                "{name} {s}"
            );
            assert_eq!(
                kind((k.dequantize)(&x, false, s, 0, &mut yf)),
                Inv,
                "{name} {s}"
            );
            let bad = QParams { scale: s, ..q };
            assert_eq!(kind((k.requantize)(&x, bad, q, &mut y)), Inv, "{name} {s}");
            assert_eq!(
                kind((k.qbinary)(QBinaryOp::Add, &x, q, &x, q, bad, &mut y)),
                Inv
            );
        }
        assert_eq!(kind((k.requantize)(&x, q, q, &mut y[..2])), Oob, "{name}");
        assert_eq!(
            kind((k.qbinary)(QBinaryOp::Mul, &x[..2], q, &x, q, q, &mut y)),
            Oob
        );
        assert_eq!(
            kind((k.qbinary)(QBinaryOp::Mul, &x, q, &x[..0], q, q, &mut y)),
            Oob
        );
        let runs = |a: &[u8], b: &[u8], qy, y: &mut [u8], run| {
            kind((k.qbinary_runs)(QBinaryOp::Mul, a, q, b, q, qy, y, run))
        };
        // Runs that do not tile the output, a wrong count of repeated values, `a` too short,
        // a bad output scale.
        assert_eq!(runs(&x, &x[..2], q, &mut y, 2), Oob, "{name}");
        assert_eq!(runs(&x, &x[..2], q, &mut y, 0), Oob, "{name}");
        assert_eq!(runs(&x[..4], &x[..3], q, &mut y[..4], 2), Oob, "{name}");
        assert_eq!(runs(&x[..3], &x[..2], q, &mut y[..4], 2), Oob, "{name}");
        let bad = QParams { scale: 0.0, ..q };
        assert_eq!(runs(&x[..4], &x[..2], bad, &mut y[..4], 2), Inv, "{name}");
        (k.qbinary_runs)(QBinaryOp::Mul, &x[..4], q, &x[..2], q, q, &mut y[..4], 2).unwrap();
        assert_eq!(kind((k.lut8)(&x, &[0; 256], &mut y[..3])), Oob, "{name}");
        // Empty is fine everywhere (a repeated operand with an empty output too).
        (k.qbinary)(QBinaryOp::Add, &x[..1], q, &x[..1], q, q, &mut []).unwrap();
        (k.quantize)(&[], 1.0, 0, false, &mut []).unwrap();
        (k.lut8)(&[], &[0; 256], &mut []).unwrap();
    }
}

/// `Mul` multiplies the centred integers and then by `m = sa·sb/sy` (onnxruntime's
/// `QLinearMul`), every variant alike; scales whose `m` is not a normal `f32` fall back to the
/// generic `(DQ(a)·DQ(b)) / sy`.
#[test]
fn mul_by_one_multiplier() {
    let qa = QParams {
        scale: 0.1,
        zero_point: 3,
        signed: false,
    };
    let qb = QParams {
        scale: 0.07,
        zero_point: -2,
        signed: true,
    };
    let qy = QParams {
        scale: 0.013,
        zero_point: 9,
        signed: false,
    };
    let a: Vec<u8> = (0..=255).collect();
    let b: Vec<u8> = (0..=255u32).map(|v| (v * 37 % 256) as u8).collect();
    let m = 0.1f32 * 0.07 / 0.013;
    let want: Vec<u8> = a
        .iter()
        .zip(&b)
        .map(|(&x, &w)| {
            let product = ((x as i32 - 3) * (w as i8 as i32 + 2)) as f32;
            ((product * m).round_ties_even() as i32 + 9).clamp(0, 255) as u8
        })
        .collect();
    let huge = QParams {
        scale: 1e30,
        zero_point: 0,
        signed: true,
    };
    let tiny = QParams {
        scale: 1e-30,
        zero_point: 0,
        signed: true,
    };
    for (name, k) in all() {
        let mut y = vec![0u8; 256];
        (k.qbinary)(QBinaryOp::Mul, &a, qa, &b, qb, qy, &mut y).unwrap();
        assert_eq!(y, want, "{name}");
        // m = 1e90 overflows: the generic formula saturates 1·1 to the type maximum.
        let mut y = [0u8; 3];
        (k.qbinary)(QBinaryOp::Mul, &[1; 3], huge, &[1], huge, tiny, &mut y).unwrap();
        assert_eq!(y, [127; 3], "{name} extreme scales");
    }
}
