//! Every compiled direct conv variant against the reference (the oracle).
//!
//! Tolerance: both sides add the same `n = in_channels·kernel_h·kernel_w + 1` terms (bias
//! included), in the same order, the variants with FMA; two orderings of the same terms are
//! within `2n·ε·scale` of each other, `scale = |bias| + Σ|w·x|` (ε = `f32::EPSILON`). The post-ops
//! tested are Lipschitz with constant at most 1.5 (HardSwish) and a residual adds one more
//! rounding, hence `1.5·2n·ε·scale + 4ε·(|y| + |residual|)`.

use proptest::prelude::*;

use super::{DirectConvFn, DirectConvKernel, DirectConvParams, PackedConvWeights};
use crate::cpu::activation::Activation;
use crate::cpu::matmul::{split_columns, PostOp};
use crate::cpu::{variants, Variant};
use crate::KernelErrorKind;

/// Deterministic values in [-1, 1) (xorshift).
fn fill(seed: u64, len: usize) -> Vec<f32> {
    let mut s = seed | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

fn optimised() -> impl Iterator<Item = (&'static Variant, DirectConvKernel)> {
    variants()
        .iter()
        .filter(|v| v.info.family == "direct_conv" && !v.info.reference)
        .filter_map(|v| {
            if !v.is_supported() {
                eprintln!("skipped {}: this CPU lacks {}", v.info.name, v.info.isa);
                return None;
            }
            Some((v, v.direct_conv()?))
        })
}

fn reference() -> DirectConvFn {
    variants()
        .iter()
        .find(|v| v.info.family == "direct_conv" && v.info.reference)
        .and_then(Variant::direct_conv)
        .expect("the direct conv reference is registered")
        .run
}

/// The post-op lists the cases pick from (index `Case::post`).
const POSTS: usize = 6;

#[derive(Clone, Debug)]
struct Case {
    p: DirectConvParams,
    out_channels: usize,
    /// Which post-op list, `0 .. POSTS`.
    post: usize,
    /// Where the second column block starts, as a fraction of the output positions.
    cut: f64,
    seed: u64,
}

impl Case {
    fn post_ops<'a>(&self, bias: &'a [f32], residual: &'a [f32]) -> Vec<PostOp<'a>> {
        match self.post {
            0 => vec![],
            1 => vec![PostOp::BiasPerRow(bias)],
            2 => vec![PostOp::BiasPerRow(bias), PostOp::Relu],
            3 => vec![
                PostOp::BiasPerRow(bias),
                PostOp::Activation(Activation::HardSwish),
            ],
            4 => vec![
                PostOp::BiasPerRow(bias),
                PostOp::Activation(Activation::HardSwish),
                PostOp::Affine {
                    scale: 0.75,
                    shift: -0.5,
                },
            ],
            _ => vec![
                PostOp::BiasPerRow(bias),
                PostOp::Residual(residual),
                PostOp::Relu,
            ],
        }
    }
}

/// Runs `f` over C split in two column blocks at the case's cut.
fn run(
    f: DirectConvFn,
    case: &Case,
    x: &[f32],
    w: &PackedConvWeights,
    post: &[PostOp<'_>],
    n: usize,
) -> Vec<f32> {
    let m = case.out_channels;
    let mut c = vec![f32::NAN; m * n];
    let cut = ((n as f64 * case.cut) as usize).min(n);
    let cuts: Vec<usize> = [cut].into_iter().filter(|&c| c > 0 && c < n).collect();
    for block in split_columns(&mut c, m, n, n as isize, &cuts).unwrap() {
        f(&case.p, x, w, block, post).unwrap();
    }
    c
}

/// `|bias| + Σ|w·x|` per output element, in f64.
fn scales(case: &Case, x: &[f32], w: &[f32], bias: &[f32], out_w: usize, n: usize) -> Vec<f64> {
    let p = &case.p;
    let mut s = vec![0f64; case.out_channels * n];
    for o in 0..case.out_channels {
        for j in 0..n {
            let (oy, ox) = (j / out_w, j % out_w);
            let mut sum = bias[o].abs() as f64;
            for ic in 0..p.in_channels {
                for ky in 0..p.kernel_h {
                    for kx in 0..p.kernel_w {
                        let (iy, ix) = (oy * p.stride_h + ky, ox * p.stride_w + kx);
                        if iy < p.pad_top || ix < p.pad_left {
                            continue;
                        }
                        let (iy, ix) = (iy - p.pad_top, ix - p.pad_left);
                        if iy >= p.in_h || ix >= p.in_w {
                            continue;
                        }
                        let wv = w[((o * p.in_channels + ic) * p.kernel_h + ky) * p.kernel_w + kx];
                        sum += (wv as f64 * x[(ic * p.in_h + iy) * p.in_w + ix] as f64).abs();
                    }
                }
            }
            s[o * n + j] = sum;
        }
    }
    s
}

fn check(case: &Case) -> Result<(), TestCaseError> {
    let p = &case.p;
    let (out_h, out_w) = p.output_size().unwrap();
    let n = out_h * out_w;
    let m = case.out_channels;
    let x = fill(case.seed, p.in_channels * p.in_h * p.in_w);
    let w = fill(
        case.seed ^ 0x9e37,
        m * p.in_channels * p.kernel_h * p.kernel_w,
    );
    let bias = fill(case.seed ^ 0x51ed, m);
    let residual = fill(case.seed ^ 0x7f4a, m * n);
    let post = case.post_ops(&bias, &residual);
    let scale = scales(case, &x, &w, &bias, out_w, n);
    let terms = (p.in_channels * p.kernel_h * p.kernel_w + 1) as f64;
    let eps = f32::EPSILON as f64;
    let pack = |block| {
        PackedConvWeights::pack(block, m, p.in_channels, p.kernel_h, p.kernel_w, &w).unwrap()
    };
    let want = run(reference(), case, &x, &pack(5), &post, n);
    for (v, k) in optimised() {
        let got = run(k.run, case, &x, &pack(k.block), &post, n);
        for (i, (&g, &r)) in got.iter().zip(&want).enumerate() {
            let tol = 1.5 * 2.0 * terms * eps * scale[i]
                + 4.0 * eps * (r.abs() as f64 + residual[i].abs() as f64);
            prop_assert!(
                (g as f64 - r as f64).abs() <= tol,
                "{}: C[{}, {}] = {g}, reference {r} (tolerance {tol:e}) in {case:?}",
                v.info.name,
                i / n,
                i % n
            );
        }
    }
    Ok(())
}

/// Sizes around the vector widths (16, 32) and the edge sizes every family covers.
fn width() -> impl Strategy<Value = usize> {
    prop_oneof![
        1usize..=40,
        prop::sample::select(vec![1usize, 7, 15, 16, 17, 31, 32, 33, 47, 64, 65, 255]),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        (1usize..=12, 1usize..=9, width(), 1usize..=5, 1usize..=5),
        (
            0usize..=3,
            0usize..=3,
            0usize..=3,
            0usize..=3,
            1usize..=3,
            1usize..=3,
        ),
        (
            prop::sample::select(vec![1usize, 5, 11, 12, 13, 24, 25]),
            0..POSTS,
            0.0f64..1.0,
            any::<u64>(),
        ),
    )
        .prop_filter_map(
            "kernel larger than the padded input",
            |((ic, h, w, kh, kw), (pt, pl, pb, pr, sh, sw), (oc, post, cut, seed))| {
                let p = DirectConvParams {
                    in_channels: ic,
                    in_h: h,
                    in_w: w,
                    kernel_h: kh,
                    kernel_w: kw,
                    stride_h: sh,
                    stride_w: sw,
                    pad_top: pt,
                    pad_left: pl,
                    pad_bottom: pb,
                    pad_right: pr,
                };
                p.output_size().ok()?;
                Some(Case {
                    p,
                    out_channels: oc,
                    post,
                    cut,
                    seed,
                })
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn variants_match_the_reference(c in case()) {
        check(&c)?;
    }
}

fn same_3x3(in_channels: usize, h: usize, w: usize) -> DirectConvParams {
    DirectConvParams {
        in_channels,
        in_h: h,
        in_w: w,
        kernel_h: 3,
        kernel_w: 3,
        stride_h: 1,
        stride_w: 1,
        pad_top: 1,
        pad_left: 1,
        pad_bottom: 1,
        pad_right: 1,
    }
}

/// PP-OCR det's shape, shrunk: 3×3 "same", 24 output channels (two full blocks of 12).
#[test]
fn det_like_layer() {
    for post in 0..POSTS {
        let case = Case {
            p: same_3x3(16, 10, 40),
            out_channels: 24,
            post,
            cut: 0.37,
            seed: 7,
        };
        check(&case).unwrap();
    }
}

/// The first layer of PP-OCR's models, shrunk: 3 input channels, 3×3 at stride 2.
#[test]
fn strided_first_layer() {
    for (stride_h, stride_w) in [(2, 2), (2, 1), (1, 2), (3, 2)] {
        let p = DirectConvParams {
            stride_h,
            stride_w,
            ..same_3x3(3, 11, 70)
        };
        let case = Case {
            p,
            out_channels: 16,
            post: 3,
            cut: 0.61,
            seed: 11,
        };
        check(&case).unwrap();
    }
}

#[test]
fn edge_sizes() {
    for (i, &w) in [1usize, 7, 17, 255].iter().enumerate() {
        let case = Case {
            p: same_3x3(3, 2, w),
            out_channels: 13,
            post: 3,
            cut: 0.5,
            seed: i as u64 + 1,
        };
        check(&case).unwrap();
    }
}

fn whole(c: &mut [f32]) -> crate::cpu::matmul::ColumnBlock<'_> {
    split_columns(c, 3, 16, 16, &[]).unwrap().remove(0)
}

#[test]
fn bad_calls_are_errors() {
    let p = same_3x3(2, 4, 4);
    let w = PackedConvWeights::pack(12, 3, 2, 3, 3, &[0.0; 54]).unwrap();
    let x = [0.0f32; 32];
    let all = std::iter::once(reference()).chain(optimised().map(|(_, k)| k.run));
    for f in all {
        let mut c = vec![0.0f32; 3 * 16];
        // Input too short.
        let e = f(&p, &x[..31], &w, whole(&mut c), &[]).unwrap_err();
        assert_eq!(e.kind(), KernelErrorKind::OutOfBounds);
        // Weights for another kernel size.
        let other = same_3x3(2, 4, 4);
        let other = DirectConvParams {
            kernel_w: 1,
            pad_left: 0,
            pad_right: 0,
            ..other
        };
        let e = f(&other, &x, &w, whole(&mut c), &[]).unwrap_err();
        assert_eq!(e.kind(), KernelErrorKind::InvalidParams);
        // C of the wrong number of rows.
        let mut short = vec![0.0f32; 2 * 16];
        let rows2 = split_columns(&mut short, 2, 16, 16, &[]).unwrap().remove(0);
        assert!(f(&p, &x, &w, rows2, &[]).is_err());
        // A bias of the wrong length.
        let e = f(&p, &x, &w, whole(&mut c), &[PostOp::BiasPerRow(&[0.0; 2])]).unwrap_err();
        assert_eq!(e.kind(), KernelErrorKind::OutOfBounds);
        // A kernel larger than the padded input.
        let big = DirectConvParams { kernel_h: 7, ..p };
        assert!(f(&big, &x, &w, whole(&mut c), &[]).is_err());
    }
    assert!(PackedConvWeights::pack(0, 3, 2, 3, 3, &[0.0; 54]).is_err());
    assert!(PackedConvWeights::pack(12, 3, 2, 3, 3, &[0.0; 53]).is_err());
}
