//! Every compiled pool variant against the reference (the oracle).
//!
//! Tolerances: maxima are exact (a comparison, NaN skipped the same way). Averages: the
//! reference sums `n` taps in `f64`, a variant in `f32` (any order), so they may differ by
//! `(n + 2)·ε·Σ|x| / divisor` (the sum, the division and the reference's final rounding).
//! Global means likewise with `n = plane` (a loose bound: the variants' blocked sums do better).
//! NaN must match NaN, infinities exactly.

use proptest::prelude::*;

use super::{GlobalPoolFn, GlobalPoolOp, Pool2dFn, PoolOp, PoolParams};
use crate::cpu::{variants, PoolKernels, Variant};
use crate::KernelErrorKind;

/// Values in [-1, 1) (xorshift), every `special_every`-th one an edge value.
fn fill(seed: u64, len: usize, special_every: usize) -> Vec<f32> {
    const SPECIALS: [f32; 6] = [
        0.0,
        -0.0,
        1000.0,
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

fn optimised() -> impl Iterator<Item = (&'static Variant, PoolKernels)> {
    variants()
        .iter()
        .filter(|v| v.info.family == "pool" && !v.info.reference)
        .filter_map(|v| {
            if !v.is_supported() {
                eprintln!("skipped {}: this CPU lacks {}", v.info.name, v.info.isa);
                return None;
            }
            Some((v, v.pool()?))
        })
}

fn reference() -> PoolKernels {
    variants()
        .iter()
        .find(|v| v.info.family == "pool" && v.info.reference)
        .and_then(Variant::pool)
        .expect("the pool reference is registered")
}

/// `|got - want| <= tol`, NaN with NaN, infinities exactly.
fn close(got: f32, want: f32, tol: f64) -> bool {
    if got.is_nan() || want.is_nan() {
        got.is_nan() && want.is_nan()
    } else if got.is_infinite() || want.is_infinite() {
        got == want
    } else {
        (f64::from(got) - f64::from(want)).abs() <= tol
    }
}

#[derive(Clone, Debug)]
struct Case {
    p: PoolParams,
    op: PoolOp,
    special_every: usize,
    seed: u64,
}

/// Per output element: `(Σ|x| over in-image taps, divisor)` for the average tolerance.
fn sums(p: &PoolParams, op: PoolOp, x: &[f32]) -> Vec<(f64, f64)> {
    let (rows, cols) = (p.rows(), p.cols());
    let mut out = Vec::new();
    for c in 0..p.channels {
        for oy in 0..p.out_h {
            for ox in 0..p.out_w {
                let mut s = 0.0;
                for ky in 0..p.kernel_h {
                    for kx in 0..p.kernel_w {
                        let iy = rows
                            .shifted(oy, ky)
                            .checked_sub(p.pad_top)
                            .filter(|&v| v < p.in_h);
                        let ix = cols
                            .shifted(ox, kx)
                            .checked_sub(p.pad_left)
                            .filter(|&v| v < p.in_w);
                        if let (Some(iy), Some(ix)) = (iy, ix) {
                            s += f64::from(x[(c * p.in_h + iy) * p.in_w + ix]).abs();
                        }
                    }
                }
                let ((ri, rp), (ci, cp)) = (rows.counts(oy), cols.counts(ox));
                let divisor = match op {
                    PoolOp::Average {
                        count_include_pad: true,
                    } => rp * cp,
                    _ => ri * ci,
                };
                out.push((s, divisor.max(1) as f64));
            }
        }
    }
    out
}

fn check(c: &Case) -> Result<(), TestCaseError> {
    let p = &c.p;
    let x = fill(c.seed, p.channels * p.in_h * p.in_w, c.special_every);
    let mut want = vec![f32::NAN; p.channels * p.out_h * p.out_w];
    (reference().pool2d)(p, c.op, &x, &mut want).unwrap();
    let n = (p.kernel_h * p.kernel_w + 2) as f64;
    let eps = f64::from(f32::EPSILON);
    let sums = sums(p, c.op, &x);
    for (v, k) in optimised() {
        let mut got = vec![f32::NAN; want.len()];
        (k.pool2d)(p, c.op, &x, &mut got).unwrap();
        for (i, (&g, &r)) in got.iter().zip(&want).enumerate() {
            let tol = match c.op {
                PoolOp::Max => 0.0,
                PoolOp::Average { .. } => n * eps * sums[i].0 / sums[i].1,
            };
            prop_assert!(
                close(g, r, tol),
                "{}: y[{i}] = {g}, reference {r} in {c:?}",
                v.info.name
            );
        }
    }
    Ok(())
}

fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(1usize),
        Just(7),
        Just(17),
        Just(15),
        Just(16),
        Just(31),
        Just(33),
        1..=40usize
    ]
}

fn op() -> impl Strategy<Value = PoolOp> {
    prop_oneof![
        Just(PoolOp::Max),
        Just(PoolOp::Average {
            count_include_pad: false
        }),
        Just(PoolOp::Average {
            count_include_pad: true
        }),
    ]
}

/// Random geometries; the output size is the floor one, sometimes one more (`ceil_mode`'s
/// extra window), so windows past the end padding occur.
fn case() -> impl Strategy<Value = Case> {
    (
        (1..=17usize, size(), size()),
        (
            1..=4usize,
            1..=4usize,
            1..=3usize,
            1..=3usize,
            1..=2usize,
            1..=2usize,
        ),
        (0..=2usize, 0..=2usize, 0..=2usize, 0..=2usize),
        (0..=1usize, 0..=1usize),
        (op(), prop_oneof![Just(0usize), Just(11)], any::<u64>()),
    )
        .prop_filter_map(
            "window larger than the padded input",
            |(dims, k, pads, extra, rest)| {
                let (channels, in_h, in_w) = dims;
                let (kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w) = k;
                let (pad_top, pad_left, pad_bottom, pad_right) = pads;
                let out = |len: usize, k: usize, s: usize, d: usize, p: usize, extra: usize| {
                    let extent = (k - 1) * d + 1;
                    (len + p >= extent).then(|| (len + p - extent) / s + 1 + extra)
                };
                let (op, special_every, seed) = rest;
                Some(Case {
                    p: PoolParams {
                        channels,
                        in_h,
                        in_w,
                        out_h: out(
                            in_h,
                            kernel_h,
                            stride_h,
                            dilation_h,
                            pad_top + pad_bottom,
                            extra.0,
                        )?,
                        out_w: out(
                            in_w,
                            kernel_w,
                            stride_w,
                            dilation_w,
                            pad_left + pad_right,
                            extra.1,
                        )?,
                        kernel_h,
                        kernel_w,
                        stride_h,
                        stride_w,
                        dilation_h,
                        dilation_w,
                        pad_top,
                        pad_left,
                        pad_bottom,
                        pad_right,
                    },
                    op,
                    special_every,
                    seed,
                })
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn pool2d_variants_match_the_reference(c in case()) {
        check(&c)?;
    }

    #[test]
    fn global_variants_match_the_reference(
        planes in 1..=5usize,
        plane in prop_oneof![Just(1usize), Just(7), Just(15), Just(16), Just(17), Just(31), Just(33), Just(255), 1..=300usize],
        max in any::<bool>(),
        special_every in prop_oneof![Just(0usize), Just(11)],
        seed in any::<u64>(),
    ) {
        check_global(planes, plane, max, special_every, seed)?;
    }
}

fn check_global(
    planes: usize,
    plane: usize,
    max: bool,
    special_every: usize,
    seed: u64,
) -> Result<(), TestCaseError> {
    let op = if max {
        GlobalPoolOp::Max
    } else {
        GlobalPoolOp::Average
    };
    let x = fill(seed, planes * plane, special_every);
    let mut want = vec![f32::NAN; planes];
    (reference().global_pool)(op, plane, &x, &mut want).unwrap();
    let eps = f64::from(f32::EPSILON);
    for (v, k) in optimised() {
        let mut got = vec![f32::NAN; planes];
        (k.global_pool)(op, plane, &x, &mut got).unwrap();
        for (i, (&g, &r)) in got.iter().zip(&want).enumerate() {
            let src = &x[i * plane..(i + 1) * plane];
            let tol = match op {
                GlobalPoolOp::Max => 0.0,
                _ => {
                    (plane + 2) as f64 * eps * src.iter().map(|&v| f64::from(v).abs()).sum::<f64>()
                        / plane as f64
                }
            };
            prop_assert!(
                close(g, r, tol),
                "{} {op:?}: plane {i} = {g}, reference {r}",
                v.info.name
            );
        }
    }
    Ok(())
}

/// "Same"-padded PP-OCR-like pools on every width from 1 to 40 (vector tails of every length)
/// and the ceil-mode window past the end padding.
#[test]
fn common_pools_on_every_width() {
    for (k, s, pad) in [(3, 2, 1), (2, 2, 0), (3, 1, 1), (5, 1, 2)] {
        for in_w in 1..=40usize {
            for op in [
                PoolOp::Max,
                PoolOp::Average {
                    count_include_pad: false,
                },
                PoolOp::Average {
                    count_include_pad: true,
                },
            ] {
                let out = |len: usize| (len + 2 * pad).checked_sub(k).map(|v| v / s + 1);
                let (Some(out_h), Some(out_w)) = (out(6), out(in_w)) else {
                    continue;
                };
                let c = Case {
                    p: PoolParams {
                        channels: 2,
                        in_h: 6,
                        in_w,
                        out_h: out_h + 1,
                        out_w,
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
                    op,
                    special_every: 0,
                    seed: in_w as u64,
                };
                check(&c).unwrap();
            }
        }
    }
}

#[test]
fn bad_arguments_are_refused_without_writing() {
    let p = PoolParams {
        channels: 2,
        in_h: 4,
        in_w: 4,
        out_h: 2,
        out_w: 2,
        kernel_h: 2,
        kernel_w: 2,
        stride_h: 2,
        stride_w: 2,
        dilation_h: 1,
        dilation_w: 1,
        pad_top: 0,
        pad_left: 0,
        pad_bottom: 0,
        pad_right: 0,
    };
    let x = vec![1.0; 32];
    let kernels = variants()
        .iter()
        .filter(|v| v.is_supported())
        .filter_map(Variant::pool);
    for k in kernels {
        let pool2d: Pool2dFn = k.pool2d;
        let global: GlobalPoolFn = k.global_pool;
        let mut y = vec![7.0; 8];
        let err = |r: Result<(), crate::KernelError>| r.unwrap_err().kind();
        assert_eq!(
            err(pool2d(&p, PoolOp::Max, &x[1..], &mut y)),
            KernelErrorKind::OutOfBounds
        );
        assert_eq!(
            err(pool2d(&p, PoolOp::Max, &x, &mut y[1..])),
            KernelErrorKind::OutOfBounds
        );
        let zero = PoolParams { stride_h: 0, ..p };
        assert_eq!(
            err(pool2d(&zero, PoolOp::Max, &x, &mut y)),
            KernelErrorKind::InvalidParams
        );
        let huge = PoolParams {
            out_w: usize::MAX / 2,
            ..p
        };
        assert_eq!(
            err(pool2d(&huge, PoolOp::Max, &x, &mut y)),
            KernelErrorKind::InvalidParams
        );
        assert_eq!(
            err(global(GlobalPoolOp::Max, 0, &x, &mut y)),
            KernelErrorKind::InvalidParams
        );
        assert_eq!(
            err(global(GlobalPoolOp::Max, 5, &x, &mut y)),
            KernelErrorKind::OutOfBounds
        );
        assert!(y.iter().all(|&v| v == 7.0), "wrote before refusing");
        pool2d(&p, PoolOp::Max, &x, &mut y).unwrap();
        assert_eq!(y, vec![1.0; 8]);
    }
}
