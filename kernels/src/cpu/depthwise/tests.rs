//! Every compiled depthwise variant against the reference (the oracle).
//!
//! Tolerance: both sides add the same `n = kernel_h·kernel_w + 1` terms (the reference in
//! order, the variants in a few partial sums, with FMA); any such order is within `n·ε·scale`
//! of the exact sum,
//! `scale = |bias| + Σ|w·x|` (ε = `f32::EPSILON`): they may differ by `2n·ε·scale`. The fused
//! activations tested are Lipschitz with constant at most 1.5 (HardSwish), and the in-register
//! HardSwish computes `x/6` as `x·(1/6)` (an ulp), hence `1.5·2n·ε·scale + 4ε·|y|`. NaN must
//! match NaN, infinities must match exactly. Weights are finite (a padding tap is zero input:
//! the reference skips it, the variants multiply a zero).

use proptest::prelude::*;

use super::{DepthwiseFn, DepthwiseParams};
use crate::cpu::activation::Activation;
use crate::cpu::{variants, Variant};
use crate::KernelErrorKind;

/// Deterministic values in [-1, 1) (xorshift), with every `special_every`-th element replaced
/// by an edge value: 0, -0, ±1000, NaN, ±inf.
fn fill(seed: u64, len: usize, special_every: usize) -> Vec<f32> {
    const SPECIALS: [f32; 7] = [
        0.0,
        -0.0,
        1000.0,
        -1000.0,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
    ];
    let mut s = seed | 1;
    (0..len)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            if special_every > 0 && (s >> 8) % special_every as u64 == 0 {
                SPECIALS[i % SPECIALS.len()]
            } else {
                (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            }
        })
        .collect()
}

fn optimised() -> impl Iterator<Item = (&'static Variant, DepthwiseFn)> {
    variants()
        .iter()
        .filter(|v| v.info.family == "depthwise" && !v.info.reference)
        .filter_map(|v| {
            if !v.is_supported() {
                eprintln!("skipped {}: this CPU lacks {}", v.info.name, v.info.isa);
                return None;
            }
            Some((v, v.depthwise()?))
        })
}

fn reference() -> DepthwiseFn {
    variants()
        .iter()
        .find(|v| v.info.family == "depthwise" && v.info.reference)
        .and_then(Variant::depthwise)
        .expect("the depthwise reference is registered")
}

#[derive(Clone, Debug)]
struct Case {
    p: DepthwiseParams,
    bias: bool,
    act: Option<Activation>,
    /// Every how many inputs an edge value (0 = none).
    special_every: usize,
    seed: u64,
}

/// `|bias| + Σ|w·x|` per output element, in f64 (the tolerance's scale), NaN where an input
/// is not finite.
fn scales(c: &Case, x: &[f32], w: &[f32], b: Option<&[f32]>) -> Vec<f64> {
    let p = &c.p;
    let (oh, ow) = p.output_size().unwrap();
    let mut out = Vec::with_capacity(p.channels * oh * ow);
    for ch in 0..p.channels {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut s = b.map_or(0.0, |b| f64::from(b[ch]).abs());
                for ky in 0..p.kernel_h {
                    for kx in 0..p.kernel_w {
                        let iy = (oy * p.stride_h + ky * p.dilation_h).checked_sub(p.pad_top);
                        let ix = (ox * p.stride_w + kx * p.dilation_w).checked_sub(p.pad_left);
                        if let (Some(iy), Some(ix)) = (iy, ix) {
                            if iy < p.in_h && ix < p.in_w {
                                let xv = x[(ch * p.in_h + iy) * p.in_w + ix];
                                let wv = w[ch * p.kernel_h * p.kernel_w + ky * p.kernel_w + kx];
                                s += f64::from(xv).abs() * f64::from(wv).abs();
                            }
                        }
                    }
                }
                out.push(s);
            }
        }
    }
    out
}

fn check(c: &Case) -> Result<(), TestCaseError> {
    let p = &c.p;
    let x = fill(c.seed ^ 1, p.channels * p.in_h * p.in_w, c.special_every);
    let w = fill(c.seed ^ 2, p.channels * p.kernel_h * p.kernel_w, 0);
    let bias = c.bias.then(|| fill(c.seed ^ 3, p.channels, 0));
    let Ok((oh, ow)) = p.output_size() else {
        // No output geometry: every variant must refuse it.
        for (v, f) in optimised() {
            let mut y = vec![0.0; 4];
            prop_assert!(
                f(p, &x, &w, bias.as_deref(), c.act, &mut y).is_err(),
                "{}",
                v.info.name
            );
        }
        return Ok(());
    };
    let mut want = vec![f32::NAN; p.channels * oh * ow];
    reference()(p, &x, &w, bias.as_deref(), c.act, &mut want).unwrap();
    let scale = scales(c, &x, &w, bias.as_deref());
    let taps = (p.kernel_h * p.kernel_w + 1) as f64;
    let eps = f64::from(f32::EPSILON);
    for (v, f) in optimised() {
        let mut got = vec![f32::NAN; want.len()];
        f(p, &x, &w, bias.as_deref(), c.act, &mut got).unwrap();
        for (i, (&g, &r)) in got.iter().zip(&want).enumerate() {
            let ok = if r.is_nan() || g.is_nan() {
                r.is_nan() && g.is_nan()
            } else if r.is_infinite() || g.is_infinite() {
                r == g
            } else {
                let tol = 1.5 * 2.0 * taps * eps * scale[i] + 4.0 * eps * f64::from(r).abs();
                (f64::from(g) - f64::from(r)).abs() <= tol
            };
            prop_assert!(
                ok,
                "{}: y[{i}] = {g}, reference {r} (scale {}) in {c:?}",
                v.info.name,
                scale[i]
            );
        }
    }
    Ok(())
}

/// Sizes that matter: 1, odd, around the vector widths (4, 8, 16 lanes).
fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(1usize),
        Just(7),
        Just(17),
        Just(15),
        Just(16),
        Just(31),
        Just(33),
        1..=40usize,
    ]
}

fn activation() -> impl Strategy<Value = Option<Activation>> {
    prop_oneof![
        Just(None),
        Just(Some(Activation::Relu)),
        Just(Some(Activation::HardSwish)),
        (-0.5f32..0.0, 0.0f32..0.5).prop_map(|(min, max)| Some(Activation::Clip { min, max })),
        // Applied to the stored row rather than in registers.
        Just(Some(Activation::LeakyRelu { alpha: 0.125 })),
    ]
}

/// Geometries biased towards the specialised ones (3×3 / 5×5, horizontal stride 1–2,
/// dilation 1), the rest random.
fn case() -> impl Strategy<Value = Case> {
    let kernel = prop_oneof![
        Just((3usize, 3usize)),
        Just((5, 5)),
        (1..=5usize, 1..=5usize)
    ];
    let strides = (1..=3usize, prop_oneof![Just(1usize), Just(2), 1..=3usize]);
    let dilations = (1..=2usize, prop_oneof![Just(1usize), 1..=2usize]);
    let pads = (0..=2usize, 0..=2usize, 0..=2usize, 0..=2usize);
    (
        (1..=17usize, size(), size()),
        kernel,
        strides,
        dilations,
        pads,
        (
            any::<bool>(),
            activation(),
            prop_oneof![Just(0usize), Just(13)],
            any::<u64>(),
        ),
    )
        .prop_map(
            |((channels, in_h, in_w), (kh, kw), (sh, sw), (dh, dw), pads, extra)| {
                let (pad_top, pad_left, pad_bottom, pad_right) = pads;
                let (bias, act, special_every, seed) = extra;
                Case {
                    p: DepthwiseParams {
                        channels,
                        in_h,
                        in_w,
                        kernel_h: kh,
                        kernel_w: kw,
                        stride_h: sh,
                        stride_w: sw,
                        dilation_h: dh,
                        dilation_w: dw,
                        pad_top,
                        pad_left,
                        pad_bottom,
                        pad_right,
                    },
                    bias,
                    act,
                    special_every,
                    seed,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn variants_match_the_reference(c in case()) {
        check(&c)?;
    }
}

/// "Same" padding (as PP-OCR uses) for a `k×k` kernel with stride `s` on an `h×w` input.
fn same(channels: usize, h: usize, w: usize, k: usize, s: usize) -> DepthwiseParams {
    DepthwiseParams {
        channels,
        in_h: h,
        in_w: w,
        kernel_h: k,
        kernel_w: k,
        stride_h: s,
        stride_w: s,
        dilation_h: 1,
        dilation_w: 1,
        pad_top: k / 2,
        pad_left: k / 2,
        pad_bottom: k / 2,
        pad_right: k / 2,
    }
}

/// Every specialised shape on every width from 1 to 40 and 255 (each vector width's full
/// vectors, partial tails and single-vector rows), with a fused activation.
#[test]
fn specialised_shapes_on_every_width() {
    for k in [3, 5] {
        for s in [1, 2] {
            for in_w in (1..=40).chain([255]) {
                for act in [None, Some(Activation::HardSwish)] {
                    let c = Case {
                        p: same(2, 5, in_w, k, s),
                        bias: true,
                        act,
                        special_every: 0,
                        seed: in_w as u64,
                    };
                    check(&c).unwrap();
                }
            }
        }
    }
}

/// Benchmark-sized planes (many rows, vertical stride 2) stay exact enough.
#[test]
fn pp_ocr_like_layers() {
    for (k, s, channels, hw) in [(3, 1, 3, 40), (5, 2, 2, 40), (3, 2, 3, 41), (5, 1, 2, 20)] {
        let c = Case {
            p: same(channels, hw, hw, k, s),
            bias: true,
            act: Some(Activation::Relu),
            special_every: 0,
            seed: 7,
        };
        check(&c).unwrap();
    }
}

#[test]
fn bad_arguments_are_refused_without_writing() {
    let p = same(2, 4, 4, 3, 1);
    let (x, w, b) = (vec![1.0; 32], vec![1.0; 18], vec![0.0; 2]);
    let all = variants()
        .iter()
        .filter(|v| v.is_supported())
        .filter_map(Variant::depthwise);
    for f in all {
        let mut y = vec![7.0; 32];
        let refused = |p: &DepthwiseParams, x: &[f32], w: &[f32], b: Option<&[f32]>, act, y_len| {
            let mut y_short = vec![7.0; y_len];
            let r = f(p, x, w, b, act, &mut y_short);
            assert!(
                y_short.iter().all(|&v| v == 7.0),
                "{p:?}: wrote before refusing"
            );
            r.unwrap_err().kind()
        };
        assert_eq!(
            refused(&p, &x[1..], &w, None, None, 32),
            KernelErrorKind::OutOfBounds
        );
        assert_eq!(
            refused(&p, &x, &w[1..], None, None, 32),
            KernelErrorKind::OutOfBounds
        );
        assert_eq!(
            refused(&p, &x, &w, Some(&b[1..]), None, 32),
            KernelErrorKind::OutOfBounds
        );
        assert_eq!(
            refused(&p, &x, &w, None, None, 31),
            KernelErrorKind::OutOfBounds
        );
        let bad_clip = Some(Activation::Clip { min: 1.0, max: 0.0 });
        assert_eq!(
            refused(&p, &x, &w, None, bad_clip, 32),
            KernelErrorKind::InvalidParams
        );
        let zero_stride = DepthwiseParams { stride_w: 0, ..p };
        assert_eq!(
            refused(&zero_stride, &x, &w, None, None, 32),
            KernelErrorKind::InvalidParams
        );
        let too_big = DepthwiseParams {
            pad_top: 0,
            pad_bottom: 0,
            kernel_h: 5,
            ..p
        };
        let w_big = vec![1.0; 2 * 15];
        assert_eq!(
            refused(&too_big, &x, &w_big, None, None, 32),
            KernelErrorKind::InvalidParams
        );
        f(&p, &x, &w, Some(&b), None, &mut y).unwrap();
    }
}
