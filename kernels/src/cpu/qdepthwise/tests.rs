//! Every compiled qdepthwise variant against the reference (the oracle): bit-identical, for
//! both output kinds, random geometry, zero points, scales, clamps and extreme inputs.

use proptest::prelude::*;

use super::{DepthwiseParams, PackedQDepthwiseWeights, QDepthwise, QDepthwiseFn, QDepthwiseOut};
use crate::cpu::{supported_variants, variants, Variant};
use crate::KernelErrorKind;

fn reference() -> QDepthwiseFn {
    variants()
        .iter()
        .find(|v| v.info.family == "qdepthwise" && v.info.reference)
        .and_then(Variant::qdepthwise)
        .expect("the qdepthwise reference is registered")
}

/// Deterministic bytes (xorshift), every `special_every`-th one an extreme (0, 255, 0x80, 0x7f).
fn bytes(seed: u64, len: usize, special_every: usize) -> Vec<u8> {
    let mut s = seed | 1;
    (0..len)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            if special_every > 0 && (s >> 8) % special_every as u64 == 0 {
                [0u8, 255, 0x80, 0x7f][i % 4]
            } else {
                (s >> 32) as u8
            }
        })
        .collect()
}

#[derive(Clone, Debug)]
struct Case {
    p: DepthwiseParams,
    x_signed: bool,
    x_zero_point: i32,
    w_signed: bool,
    /// Per-channel weight zero points (else one).
    per_channel: bool,
    bias: bool,
    y_signed: bool,
    y_zero_point: i32,
    /// `(lo, hi)` offsets into the output type range.
    clamp: (i32, i32),
    /// log10 of the scale's magnitude.
    scale_exp: f32,
    special_every: usize,
    seed: u64,
}

fn zero_point(signed: bool, raw: u8) -> i32 {
    if signed {
        raw as i8 as i32
    } else {
        raw as i32
    }
}

fn case() -> impl Strategy<Value = Case> {
    let geometry = (
        1usize..=5,
        1usize..=5,
        1usize..=3,
        1usize..=3,
        1usize..=2,
        1usize..=2,
        [0usize..=2, 0..=2, 0..=2, 0..=2],
    );
    let sizes = (1usize..=6, 1usize..=40, 1usize..=40);
    let quant = (
        any::<(bool, bool, bool, bool, bool, bool)>(),
        any::<(u8, u8)>(),
        (0i32..40, 0i32..40),
        -4.0f32..1.0,
        prop_oneof![Just(0usize), 2usize..20],
        any::<u64>(),
    );
    (geometry, sizes, quant).prop_filter_map(
        "kernel larger than the padded input",
        |((kh, kw, sh, sw, dh, dw, pads), (channels, in_h, in_w), quant)| {
            let ((xs, ws, pc, bias, ys, zero_x), (zx, zy), clamp, scale_exp, special, seed) = quant;
            let p = DepthwiseParams {
                channels,
                in_h,
                in_w,
                kernel_h: kh,
                kernel_w: kw,
                stride_h: sh,
                stride_w: sw,
                dilation_h: dh,
                dilation_w: dw,
                pad_top: pads[0],
                pad_left: pads[1],
                pad_bottom: pads[2],
                pad_right: pads[3],
            };
            p.output_size().ok()?;
            Some(Case {
                p,
                x_signed: xs,
                x_zero_point: if zero_x { 0 } else { zero_point(xs, zx) },
                w_signed: ws,
                per_channel: pc,
                bias,
                y_signed: ys,
                y_zero_point: zero_point(ys, zy),
                clamp,
                scale_exp,
                special_every: special,
                seed,
            })
        },
    )
}

struct Data {
    x: Vec<u8>,
    w: PackedQDepthwiseWeights,
    bias: Vec<i32>,
    scale: Vec<f32>,
    out_len: usize,
}

fn data(c: &Case) -> Data {
    let p = &c.p;
    let (oh, ow) = p.output_size().unwrap();
    let taps = p.kernel_h * p.kernel_w;
    let x = bytes(c.seed, p.channels * p.in_h * p.in_w, c.special_every);
    let raw_w = bytes(c.seed ^ 0x9e37, p.channels * taps, c.special_every);
    let zps: Vec<i32> = bytes(c.seed ^ 0x51, if c.per_channel { p.channels } else { 1 }, 0)
        .into_iter()
        .map(|b| zero_point(c.w_signed, b))
        .collect();
    let w = PackedQDepthwiseWeights::pack(
        &raw_w,
        c.w_signed,
        &zps,
        p.channels,
        [p.kernel_h, p.kernel_w],
    )
    .unwrap();
    let bias = if c.bias {
        bytes(c.seed ^ 0x77, p.channels, 0)
            .into_iter()
            .map(|b| (b as i32 - 128) * 997)
            .collect()
    } else {
        Vec::new()
    };
    let scale = (0..p.channels)
        .map(|i| 10f32.powf(c.scale_exp) * (1.0 + i as f32 / 7.0) / taps as f32)
        .collect();
    Data {
        x,
        w,
        bias,
        scale,
        out_len: p.channels * oh * ow,
    }
}

fn call<'a>(c: &Case, d: &'a Data) -> QDepthwise<'a> {
    QDepthwise {
        params: c.p,
        x: &d.x,
        x_signed: c.x_signed,
        x_zero_point: c.x_zero_point,
        w: d.w.as_slice(),
        w_pairs: d.w.pairs(),
        bias: &d.bias,
        scale: &d.scale,
    }
}

fn run_u8(f: QDepthwiseFn, c: &Case, d: &Data) -> Vec<u8> {
    let (tlo, thi) = super::type_range(c.y_signed);
    let (lo, hi) = (tlo + c.clamp.0, (thi - c.clamp.1).max(tlo + c.clamp.0));
    let mut y = vec![0xA5u8; d.out_len];
    f(
        &call(c, d),
        QDepthwiseOut::U8 {
            y: &mut y,
            signed: c.y_signed,
            zero_point: c.y_zero_point,
            lo,
            hi,
        },
    )
    .unwrap();
    y
}

fn run_f32(f: QDepthwiseFn, c: &Case, d: &Data) -> Vec<u32> {
    let mut y = vec![f32::NAN; d.out_len];
    f(&call(c, d), QDepthwiseOut::F32 { y: &mut y }).unwrap();
    y.iter().map(|v| v.to_bits()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn variants_match_reference(c in case()) {
        let d = data(&c);
        let (want8, wantf) = (run_u8(reference(), &c, &d), run_f32(reference(), &c, &d));
        for (name, f) in supported_variants(Variant::qdepthwise) {
            prop_assert_eq!(&run_u8(f, &c, &d), &want8, "{} u8 on {:?}", name, c);
            prop_assert_eq!(&run_f32(f, &c, &d), &wantf, "{} f32 on {:?}", name, c);
        }
    }
}

/// The hot shapes at sizes that exercise full vectors, tails and both strides.
#[test]
fn hot_shapes_match_reference() {
    for (k, s, hw, channels) in [(3, 1, 37, 3), (3, 2, 40, 2), (5, 1, 33, 2), (5, 2, 41, 2)] {
        let pad = k / 2;
        let c = Case {
            p: DepthwiseParams {
                channels,
                in_h: hw,
                in_w: hw,
                kernel_h: k,
                kernel_w: k,
                stride_h: s,
                stride_w: s,
                dilation_h: 1,
                dilation_w: 1,
                pad_top: pad,
                pad_left: pad,
                pad_bottom: pad,
                pad_right: pad,
            },
            x_signed: false,
            x_zero_point: 131,
            w_signed: true,
            per_channel: true,
            bias: true,
            y_signed: true,
            y_zero_point: -3,
            clamp: (0, 0),
            scale_exp: -3.0,
            special_every: 5,
            seed: 42 + k as u64,
        };
        let d = data(&c);
        let (want8, wantf) = (run_u8(reference(), &c, &d), run_f32(reference(), &c, &d));
        // Not a degenerate output: some values saturate, most do not.
        let inside = want8.iter().filter(|&&v| v != 0x80 && v != 0x7f).count();
        assert!(inside > want8.len() / 2, "{inside} of {}", want8.len());
        for (name, f) in supported_variants(Variant::qdepthwise) {
            assert_eq!(run_u8(f, &c, &d), want8, "{name} k{k} s{s}");
            assert_eq!(run_f32(f, &c, &d), wantf, "{name} k{k} s{s}");
        }
    }
}

/// Long, non-square rows (many full vectors plus a tail), asymmetric padding, both output kinds.
#[test]
fn long_rows_match_reference() {
    for (k, s, pads) in [
        (3, 1, [1, 0, 2, 1]),
        (3, 2, [0, 1, 1, 2]),
        (5, 1, [2, 2, 1, 0]),
        (5, 2, [2, 1, 2, 2]),
    ] {
        let c = Case {
            p: DepthwiseParams {
                channels: 2,
                in_h: 23,
                in_w: 157,
                kernel_h: k,
                kernel_w: k,
                stride_h: s,
                stride_w: s,
                dilation_h: 1,
                dilation_w: 1,
                pad_top: pads[0],
                pad_left: pads[1],
                pad_bottom: pads[2],
                pad_right: pads[3],
            },
            x_signed: true,
            x_zero_point: -17,
            w_signed: false,
            per_channel: false,
            bias: true,
            y_signed: false,
            y_zero_point: 140,
            clamp: (3, 9),
            scale_exp: -3.0,
            special_every: 0,
            seed: 99 + s as u64,
        };
        let d = data(&c);
        let (want8, wantf) = (run_u8(reference(), &c, &d), run_f32(reference(), &c, &d));
        for (name, f) in supported_variants(Variant::qdepthwise) {
            assert_eq!(run_u8(f, &c, &d), want8, "{name} k{k} s{s}");
            assert_eq!(run_f32(f, &c, &d), wantf, "{name} k{k} s{s}");
        }
    }
}

/// The short planes of mobile networks (1 to 4 image rows under 3×3 and 5×5 kernels, strided
/// along the height only), where most kernel rows read only padding and are skipped, and
/// paddings as tall as the kernel (output rows that read nothing but padding).
#[test]
fn short_planes_match_reference() {
    for (in_h, k, stride_h, pad_top, pad_bottom) in [
        (1, 5, 1, 2, 2),
        (2, 5, 1, 2, 2),
        (3, 5, 1, 2, 2),
        (3, 5, 2, 2, 2),
        (4, 5, 2, 2, 1),
        (2, 3, 1, 1, 1),
        (3, 3, 2, 1, 1),
        (2, 3, 1, 3, 3),
        (2, 5, 1, 5, 4),
    ] {
        let c = Case {
            p: DepthwiseParams {
                channels: 3,
                in_h,
                in_w: 97,
                kernel_h: k,
                kernel_w: k,
                stride_h,
                stride_w: 1,
                dilation_h: 1,
                dilation_w: 1,
                pad_top,
                pad_left: k / 2,
                pad_bottom,
                pad_right: k / 2,
            },
            x_signed: false,
            x_zero_point: 128,
            w_signed: true,
            per_channel: true,
            bias: true,
            y_signed: false,
            y_zero_point: 3,
            clamp: (0, 0),
            scale_exp: -2.0,
            special_every: 7,
            seed: 7 * in_h as u64 + k as u64,
        };
        let d = data(&c);
        let (want8, wantf) = (run_u8(reference(), &c, &d), run_f32(reference(), &c, &d));
        for (name, f) in supported_variants(Variant::qdepthwise) {
            assert_eq!(run_u8(f, &c, &d), want8, "{name} h{in_h} k{k} s{stride_h}");
            assert_eq!(run_f32(f, &c, &d), wantf, "{name} h{in_h} k{k} s{stride_h}");
        }
    }
}

/// A hand-computed case: 1 channel, 3×3 ones, pad 1; padding reads the zero point.
#[test]
fn known_values() {
    let p = DepthwiseParams {
        channels: 1,
        in_h: 2,
        in_w: 2,
        kernel_h: 3,
        kernel_w: 3,
        stride_h: 1,
        stride_w: 1,
        dilation_h: 1,
        dilation_w: 1,
        pad_top: 1,
        pad_left: 1,
        pad_bottom: 1,
        pad_right: 1,
    };
    // x − 10 = [1, 2, 3, 4]; w − 1 = 1 everywhere; every output sees all four inputs.
    let w = PackedQDepthwiseWeights::pack(&[2; 9], false, &[1], 1, [3, 3]).unwrap();
    let q = QDepthwise {
        params: p,
        x: &[11, 12, 13, 14],
        x_signed: false,
        x_zero_point: 10,
        w: w.as_slice(),
        w_pairs: w.pairs(),
        bias: &[5],
        scale: &[0.5],
    };
    let mut y = [0u8; 4];
    for f in std::iter::once(reference()).chain(
        supported_variants(Variant::qdepthwise)
            .into_iter()
            .map(|v| v.1),
    ) {
        // (10 + 5) · 0.5 = 7.5 → 8 (ties to even) + 100.
        f(
            &q,
            QDepthwiseOut::U8 {
                y: &mut y,
                signed: false,
                zero_point: 100,
                lo: 0,
                hi: 255,
            },
        )
        .unwrap();
        assert_eq!(y, [108; 4]);
    }
}

#[test]
fn channel_ranges_compose() {
    let c = Case {
        p: DepthwiseParams {
            channels: 5,
            in_h: 9,
            in_w: 11,
            kernel_h: 3,
            kernel_w: 3,
            stride_h: 2,
            stride_w: 2,
            dilation_h: 1,
            dilation_w: 1,
            pad_top: 1,
            pad_left: 1,
            pad_bottom: 1,
            pad_right: 1,
        },
        x_signed: true,
        x_zero_point: 5,
        w_signed: true,
        per_channel: true,
        bias: true,
        y_signed: false,
        y_zero_point: 128,
        clamp: (0, 0),
        scale_exp: -1.0,
        special_every: 0,
        seed: 7,
    };
    let d = data(&c);
    let whole = run_u8(reference(), &c, &d);
    let (oh, ow) = c.p.output_size().unwrap();
    let q = call(&c, &d);
    let mut parts = vec![0u8; whole.len()];
    for range in [0..2, 2..2, 2..5] {
        let sub = q.channels(range.clone()).unwrap();
        let y = &mut parts[range.start * oh * ow..range.end * oh * ow];
        let out = QDepthwiseOut::U8 {
            y,
            signed: false,
            zero_point: 128,
            lo: 0,
            hi: 255,
        };
        reference()(&sub, out).unwrap();
    }
    assert_eq!(parts, whole);
    assert!(q.channels(3..6).is_err());
}

fn u8out(y: &mut [u8]) -> QDepthwiseOut<'_> {
    QDepthwiseOut::U8 {
        y,
        signed: false,
        zero_point: 0,
        lo: 0,
        hi: 255,
    }
}

#[test]
fn bad_calls_are_errors() {
    let p = DepthwiseParams {
        channels: 2,
        in_h: 4,
        in_w: 4,
        kernel_h: 3,
        kernel_w: 3,
        stride_h: 1,
        stride_w: 1,
        dilation_h: 1,
        dilation_w: 1,
        pad_top: 1,
        pad_left: 1,
        pad_bottom: 1,
        pad_right: 1,
    };
    let (x, w, scale) = (vec![0u8; 32], vec![0i16; 18], vec![1.0f32; 2]);
    let pairs = vec![0u32; 18];
    let good = QDepthwise {
        params: p,
        x: &x,
        x_signed: false,
        x_zero_point: 0,
        w: &w,
        w_pairs: &pairs,
        bias: &[],
        scale: &scale,
    };
    let fns = std::iter::once(reference())
        .chain(
            supported_variants(Variant::qdepthwise)
                .into_iter()
                .map(|v| v.1),
        )
        .collect::<Vec<_>>();
    for f in fns {
        let mut y = [0u8; 32];
        let mut yf = [0f32; 32];
        assert!(f(&good, u8out(&mut y)).is_ok());
        let kind = |q: &QDepthwise<'_>, y: QDepthwiseOut<'_>| f(q, y).unwrap_err().kind();
        assert_eq!(
            kind(&good, u8out(&mut y[..31])),
            KernelErrorKind::OutOfBounds
        );
        assert_eq!(
            kind(&good, QDepthwiseOut::F32 { y: &mut yf[..5] }),
            KernelErrorKind::OutOfBounds
        );
        assert_eq!(
            kind(
                &QDepthwise {
                    x: &x[..31],
                    ..good
                },
                u8out(&mut y)
            ),
            KernelErrorKind::OutOfBounds
        );
        assert_eq!(
            kind(
                &QDepthwise {
                    w: &w[..17],
                    ..good
                },
                u8out(&mut y)
            ),
            KernelErrorKind::OutOfBounds
        );
        assert_eq!(
            kind(
                &QDepthwise {
                    w_pairs: &pairs[..17],
                    ..good
                },
                u8out(&mut y)
            ),
            KernelErrorKind::OutOfBounds
        );
        assert_eq!(
            kind(
                &QDepthwise {
                    scale: &scale[..1],
                    ..good
                },
                u8out(&mut y)
            ),
            KernelErrorKind::OutOfBounds
        );
        assert_eq!(
            kind(&QDepthwise { bias: &[1], ..good }, u8out(&mut y)),
            KernelErrorKind::OutOfBounds
        );
        assert_eq!(
            kind(
                &QDepthwise {
                    x_zero_point: 256,
                    ..good
                },
                u8out(&mut y)
            ),
            KernelErrorKind::InvalidParams
        );
        assert_eq!(
            kind(
                &QDepthwise {
                    x_zero_point: -1,
                    ..good
                },
                u8out(&mut y)
            ),
            KernelErrorKind::InvalidParams
        );
        assert_eq!(
            kind(
                &QDepthwise {
                    scale: &[1.0, f32::NAN],
                    ..good
                },
                u8out(&mut y)
            ),
            KernelErrorKind::InvalidParams
        );
        let bad = QDepthwiseOut::U8 {
            y: &mut y,
            signed: true,
            zero_point: 0,
            lo: -129,
            hi: 0,
        };
        assert_eq!(kind(&good, bad), KernelErrorKind::InvalidParams);
        let bad = QDepthwiseOut::U8 {
            y: &mut y,
            signed: false,
            zero_point: 0,
            lo: 9,
            hi: 8,
        };
        assert_eq!(kind(&good, bad), KernelErrorKind::InvalidParams);
        let p0 = DepthwiseParams { kernel_h: 0, ..p };
        assert_eq!(
            kind(&QDepthwise { params: p0, ..good }, u8out(&mut y)),
            KernelErrorKind::InvalidParams
        );
    }
    assert!(PackedQDepthwiseWeights::pack(&[0; 9], true, &[0, 0], 1, [3, 3]).is_err());
    assert!(PackedQDepthwiseWeights::pack(&[0; 8], true, &[0], 1, [3, 3]).is_err());
    assert!(PackedQDepthwiseWeights::pack(&[0; 9], true, &[128], 1, [3, 3]).is_err());
}
