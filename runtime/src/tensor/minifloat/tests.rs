//! Exhaustive checks against `ml_dtypes` 0.6 / onnx 1.23, pinned as FNV-1a hashes of whole
//! conversion tables (a mismatch names the table; spot checks below help locate it).
//!
//! The tables: decoding all 256 codes (f32 bits, every NaN as 0x7FC00000); encoding every
//! f16 bit pattern and 65,536 f32 patterns spread over the whole range (`i * 65537`), each
//! without and with saturation (ml_dtypes `astype` vs `np.clip(x, finfo.min, finfo.max)
//! .astype`); e8m0 through `onnx.numpy_helper.to_float8e8m0`. Regenerate with:
//!
//! ```python
//! import numpy as np, ml_dtypes
//! f16 = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.float16)
//! f32 = (np.arange(65536, dtype=np.uint64) * 65537).astype(np.uint32).view(np.float32)
//! plain = f16.astype(ml_dtypes.float8_e4m3fn).view(np.uint8)        # then fnv1a64(bytes)
//! info = ml_dtypes.finfo(ml_dtypes.float8_e4m3fn)
//! sat = np.clip(f16, info.min, info.max).astype(ml_dtypes.float8_e4m3fn).view(np.uint8)
//! ```

use super::*;
use half::f16;

fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn f16_inputs() -> impl Iterator<Item = f64> {
    (0..=u16::MAX).map(|b| f16::from_bits(b).to_f64())
}

fn f32_inputs() -> impl Iterator<Item = f32> {
    (0..65536u32).map(|i| f32::from_bits(i.wrapping_mul(65537)))
}

fn decode_hash(decode: impl Fn(u8) -> f32) -> u64 {
    fnv1a((0..=255u8).flat_map(|b| {
        let v = decode(b);
        let bits = if v.is_nan() { 0x7FC0_0000 } else { v.to_bits() };
        bits.to_le_bytes()
    }))
}

struct Expected {
    format: Minifloat,
    decode: u64,
    f16_plain: u64,
    f16_saturate: u64,
    f32_plain: u64,
    f32_saturate: u64,
}

const EXPECTED: [Expected; 5] = [
    Expected {
        format: Minifloat::E4M3FN,
        decode: 0xdad1d9c50f749ca5,
        f16_plain: 0xbd571fcbcd351aa5,
        f16_saturate: 0x2d724a8149ff1225,
        f32_plain: 0xa91cf579773d6995,
        f32_saturate: 0x5ccc97b8f5b20fc5,
    },
    Expected {
        format: Minifloat::E4M3FNUZ,
        decode: 0xf51851cb11c63018,
        f16_plain: 0x5baaf26b4d46d9a5,
        f16_saturate: 0xd67161fa988de225,
        f32_plain: 0xbd32e8dddaf44da5,
        f32_saturate: 0x0ee44f0a07604995,
    },
    Expected {
        format: Minifloat::E5M2,
        decode: 0x6c1e56b6fb09c905,
        f16_plain: 0xbd846ad273634325,
        f16_saturate: 0x1e3ecb6c5c7e6f25,
        f32_plain: 0x1b0c817001531425,
        f32_saturate: 0xaad919cba053fe85,
    },
    Expected {
        format: Minifloat::E5M2FNUZ,
        decode: 0x94ae6fc493d49818,
        f16_plain: 0xf336d4e1e12edda5,
        f16_saturate: 0xf78bd6e13c6cf725,
        f32_plain: 0xbe32c2c33f9e3f25,
        f32_saturate: 0x612477ac0eaa2f05,
    },
    Expected {
        format: Minifloat::E2M1,
        decode: 0x00e6eccc4e469b25,
        f16_plain: 0x93e60c1ef55ccd25,
        f16_saturate: 0x93e60c1ef55ccd25,
        f32_plain: 0x99971dda4a079765,
        f32_saturate: 0x99971dda4a079765,
    },
];

#[test]
fn decode_matches_ml_dtypes_for_all_codes() {
    for e in &EXPECTED {
        assert_eq!(
            decode_hash(|b| e.format.decode(b)),
            e.decode,
            "{:?}",
            e.format
        );
    }
}

#[test]
fn encode_matches_ml_dtypes_for_every_f16() {
    for e in &EXPECTED {
        let plain = fnv1a(f16_inputs().map(|x| e.format.encode(x, false)));
        let saturated = fnv1a(f16_inputs().map(|x| e.format.encode(x, true)));
        assert_eq!(plain, e.f16_plain, "{:?} without saturation", e.format);
        assert_eq!(saturated, e.f16_saturate, "{:?} saturated", e.format);
    }
}

#[test]
fn encode_matches_ml_dtypes_across_f32() {
    for e in &EXPECTED {
        let plain = fnv1a(f32_inputs().map(|x| e.format.encode(f64::from(x), false)));
        let saturated = fnv1a(f32_inputs().map(|x| e.format.encode(f64::from(x), true)));
        assert_eq!(plain, e.f32_plain, "{:?} without saturation", e.format);
        assert_eq!(saturated, e.f32_saturate, "{:?} saturated", e.format);
    }
}

#[test]
fn every_finite_code_round_trips() {
    for e in &EXPECTED {
        let f = e.format;
        let codes = if f == Minifloat::E2M1 {
            0..=15u8
        } else {
            0..=255u8
        };
        for code in codes {
            let v = f.decode(code);
            if v.is_finite() {
                assert_eq!(
                    f.encode(f64::from(v), false),
                    code,
                    "{f:?} code {code:#04x} ({v})"
                );
            }
        }
    }
}

#[test]
fn spot_values() {
    use Minifloat::*;
    assert_eq!(E4M3FN.decode(0x7E), 448.0);
    assert_eq!(E4M3FNUZ.decode(0x7F), 240.0);
    assert_eq!(E5M2.decode(0x7B), 57344.0);
    assert_eq!(E5M2.decode(0x7C), f32::INFINITY);
    assert_eq!(E2M1.decode(0x7), 6.0);
    assert_eq!(E2M1.decode(0xF), -6.0);
    assert_eq!(E4M3FN.decode(0x01), 2f32.powi(-9));
    // Ties to even: 464 lies halfway between 448 (even mantissa) and 480 (would be NaN).
    assert_eq!(E4M3FN.encode(464.0, false), 0x7E);
    assert_eq!(E4M3FN.encode(470.0, false), 0x7F);
    assert_eq!(E4M3FN.encode(470.0, true), 0x7E);
    assert_eq!(E4M3FN.encode(-1e6, true), 0xFE);
    assert_eq!(E5M2.encode(f64::INFINITY, false), 0x7C);
    assert_eq!(E5M2.encode(f64::NEG_INFINITY, true), 0xFB);
    assert_eq!(E4M3FNUZ.encode(-0.0, false), 0x00);
    assert_eq!(E4M3FN.encode(-0.0, false), 0x80);
    assert_eq!(E5M2FNUZ.encode(f64::NAN, true), 0x80);
    assert_eq!(E2M1.encode(0.25, true), 0x0); // tie between 0 and 0.5 goes to even 0
    assert_eq!(E2M1.encode(2.5, true), 0x4); // tie between 2 and 3 goes to even 2
}

#[test]
fn e8m0_matches_onnx_numpy_helper() {
    assert_eq!(decode_hash(e8m0_decode), 0x6d2c8b41c3f0e5a5);
    let cases = [
        (E8M0Rounding::Up, true, 0xc4c5fd6141544124),
        (E8M0Rounding::Up, false, 0xe99f5fb42c3e7224),
        (E8M0Rounding::Down, true, 0x2520a46ad2925b25),
        (E8M0Rounding::Down, false, 0x2520a46ad2925b25),
        (E8M0Rounding::Nearest, true, 0x7a243cf622345325),
        (E8M0Rounding::Nearest, false, 0x595ed6573c2fa4a5),
    ];
    for (mode, saturate, expected) in cases {
        let hash = fnv1a(f32_inputs().map(|x| e8m0_encode(x, saturate, mode)));
        assert_eq!(hash, expected, "{mode:?} saturate={saturate}");
    }
    assert_eq!(e8m0_encode(1.1, true, E8M0Rounding::Up), 128);
    assert_eq!(e8m0_encode(0.124, true, E8M0Rounding::Up), 124);
    assert_eq!(e8m0_decode(127), 1.0);
}
