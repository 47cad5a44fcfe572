//! Bad parameters are rejected by every variant, before anything is written; degenerate but valid
//! ones (`m`, `n` or `k` zero) are handled.

use super::super::{GemmParams, PostOp};
use super::sgemm_variants;
use crate::KernelErrorKind;

/// A 3×4·5 problem with exactly-sized, row-major operands.
fn base() -> (GemmParams, Vec<f32>, Vec<f32>, Vec<f32>) {
    let p = GemmParams::row_major(3, 5, 4);
    (p, vec![1.0; 12], vec![1.0; 20], vec![7.0; 15])
}

/// Every variant returns `Err(kind)` and leaves `C` untouched.
fn rejected(
    p: &GemmParams,
    a: &[f32],
    b: &[f32],
    c: &[f32],
    post: &[PostOp<'_>],
    kind: KernelErrorKind,
) {
    for (v, k) in sgemm_variants() {
        let mut out = c.to_vec();
        let err = (k.sgemm_fused)(p, a, b, &mut out, post).expect_err(v.info.name);
        assert_eq!(err.kind(), kind, "{}: {err}", v.info.name);
        assert!(!err.to_string().is_empty());
        assert_eq!(out, c, "{} wrote C before failing", v.info.name);
        if post.is_empty() {
            let mut out = c.to_vec();
            assert!((k.sgemm)(p, a, b, &mut out).is_err(), "{}", v.info.name);
        }
    }
}

#[test]
fn short_slices_are_out_of_bounds() {
    let (p, a, b, c) = base();
    let oob = KernelErrorKind::OutOfBounds;
    rejected(&p, &a[..11], &b, &c, &[], oob);
    rejected(&p, &a, &b[..19], &c, &[], oob);
    rejected(&p, &a, &b, &c[..14], &[], oob);
    rejected(&p, &a, &b, &c, &[PostOp::BiasPerRow(&[0.0; 2])], oob);
    rejected(&p, &a, &b, &c, &[PostOp::BiasPerCol(&[0.0; 6])], oob);
}

#[test]
fn strides_past_the_end_are_out_of_bounds() {
    let (p, a, b, c) = base();
    let oob = KernelErrorKind::OutOfBounds;
    rejected(
        &GemmParams {
            a_row_stride: 5,
            ..p
        },
        &a,
        &b,
        &c,
        &[],
        oob,
    );
    rejected(
        &GemmParams {
            b_col_stride: 2,
            ..p
        },
        &a,
        &b,
        &c,
        &[],
        oob,
    );
    rejected(
        &GemmParams {
            c_row_stride: 6,
            ..p
        },
        &a,
        &b,
        &c,
        &[],
        oob,
    );
    // Transposed A with the strides of a 4×3 matrix still needs 12 elements.
    rejected(
        &GemmParams {
            a_row_stride: 1,
            a_col_stride: 3,
            ..p
        },
        &a[..11],
        &b,
        &c,
        &[],
        oob,
    );
    // Negative strides would read before the slice.
    rejected(
        &GemmParams {
            a_col_stride: -1,
            ..p
        },
        &a,
        &b,
        &c,
        &[],
        oob,
    );
    rejected(
        &GemmParams {
            c_row_stride: -5,
            ..p
        },
        &a,
        &b,
        &c,
        &[],
        oob,
    );
}

#[test]
fn overflowing_or_inconsistent_params_are_invalid() {
    let (p, a, b, c) = base();
    let bad = KernelErrorKind::InvalidParams;
    rejected(
        &GemmParams {
            a_row_stride: isize::MAX,
            ..p
        },
        &a,
        &b,
        &c,
        &[],
        bad,
    );
    rejected(&GemmParams { m: usize::MAX, ..p }, &a, &b, &c, &[], bad);
    // Overlapping rows of C.
    rejected(
        &GemmParams {
            c_row_stride: 4,
            ..p
        },
        &a,
        &b,
        &c,
        &[],
        bad,
    );
    rejected(
        &GemmParams {
            c_row_stride: 0,
            ..p
        },
        &a,
        &b,
        &c,
        &[],
        bad,
    );
    rejected(&p, &a, &b, &c, &[PostOp::Clip { min: 1.0, max: 0.0 }], bad);
    rejected(
        &p,
        &a,
        &b,
        &c,
        &[PostOp::Clip {
            min: f32::NAN,
            max: 0.0,
        }],
        bad,
    );
}

#[test]
fn huge_shapes_with_empty_slices_are_rejected() {
    let p = GemmParams::row_major(1 << 40, 1 << 40, 1 << 40);
    for (v, k) in sgemm_variants() {
        assert!((k.sgemm)(&p, &[], &[], &mut []).is_err(), "{}", v.info.name);
    }
}

#[test]
fn empty_output_touches_nothing() {
    for (m, n) in [(0, 5), (3, 0), (0, 0)] {
        let p = GemmParams {
            m,
            n,
            ..GemmParams::row_major(m, n, 4)
        };
        for (v, k) in sgemm_variants() {
            (k.sgemm)(&p, &[], &[], &mut []).unwrap_or_else(|e| panic!("{}: {e}", v.info.name));
        }
    }
}

#[test]
fn zero_depth_scales_c_and_applies_post_ops() {
    let bias = [1.0, -10.0];
    for (beta, want) in [(0.0, [1.0, 1.0, 0.0, 0.0]), (2.0, [5.0, 1.0, 0.0, 0.0])] {
        let p = GemmParams {
            beta,
            ..GemmParams::row_major(2, 2, 0)
        };
        for (v, k) in sgemm_variants() {
            let mut c = vec![if beta == 0.0 { f32::NAN } else { 2.0 }, 0.0, 3.0, 4.0];
            let post = [PostOp::BiasPerRow(&bias), PostOp::Relu];
            (k.sgemm_fused)(&p, &[], &[], &mut c, &post).unwrap();
            assert_eq!(c, want, "{} beta {beta}", v.info.name);
        }
    }
}

#[test]
fn zero_strides_broadcast() {
    // A is one row repeated (row stride 0), B one column repeated (column stride 0).
    let p = GemmParams {
        a_row_stride: 0,
        b_col_stride: 0,
        b_row_stride: 1,
        ..GemmParams::row_major(3, 2, 2)
    };
    for (v, k) in sgemm_variants() {
        let mut c = vec![0.0; 6];
        (k.sgemm)(&p, &[1.0, 2.0], &[3.0, 4.0], &mut c).unwrap();
        assert_eq!(c, [11.0; 6], "{}", v.info.name);
    }
}

#[test]
fn relu_and_clip_keep_nan() {
    let p = GemmParams::row_major(1, 2, 1);
    for (v, k) in sgemm_variants() {
        for post in [
            PostOp::Relu,
            PostOp::Clip {
                min: -1.0,
                max: 1.0,
            },
        ] {
            let mut c = vec![0.0; 2];
            (k.sgemm_fused)(&p, &[f32::NAN], &[1.0, 1.0], &mut c, &[post]).unwrap();
            assert!(c.iter().all(|x| x.is_nan()), "{} {post:?}", v.info.name);
        }
    }
}
