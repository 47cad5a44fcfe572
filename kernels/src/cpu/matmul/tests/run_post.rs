//! `apply_post_ops_to_run`: a run of `C` outside a GEMM gets the post-ops' definition, element
//! by element (checked against a plain evaluation, bit for bit), and ill-fitting post-ops are
//! refused before anything is written.

use proptest::prelude::*;

use super::super::{apply_post_ops_to_run, PostOp};
use crate::cpu::activation::{activate, Activation};
use crate::KernelErrorKind;

/// The post-ops' definition evaluated one op and one element at a time.
fn plain(y: &[f32], row: usize, start: usize, post: &[PostOp<'_>]) -> Vec<f32> {
    let mut y = y.to_vec();
    for op in post {
        for (k, v) in y.iter_mut().enumerate() {
            *v = match *op {
                PostOp::BiasPerRow(b) => *v + b[row],
                PostOp::ScalePerRow(s) => *v * s[row],
                PostOp::Affine { scale, shift } => *v * scale + shift,
                PostOp::Relu => {
                    if *v < 0.0 {
                        0.0
                    } else {
                        *v
                    }
                }
                PostOp::Clip { min, max } => {
                    if *v < min {
                        min
                    } else if *v > max {
                        max
                    } else {
                        *v
                    }
                }
                PostOp::Residual(r) => *v + r[start + k],
                // Element-wise by definition: the activation kernel on one element.
                PostOp::Activation(a) => {
                    let mut one = [*v];
                    activate(a, &mut one);
                    one[0]
                }
                _ => unreachable!("not generated"),
            };
        }
    }
    y
}

fn value() -> impl Strategy<Value = f32> {
    prop_oneof![-8.0f32..8.0, Just(0.0), Just(-0.0), Just(f32::NAN)]
}

/// Run lengths: random, and the edge sizes around SIMD widths.
fn length() -> impl Strategy<Value = usize> {
    prop_oneof![
        1usize..300,
        prop::sample::select(vec![1usize, 7, 8, 15, 16, 17, 255, 256])
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn a_run_gets_each_post_op_by_definition(
        len in length(),
        start in 0usize..40,
        row in 0usize..3,
        seed in prop::collection::vec(value(), 64),
        scale in -3.0f32..3.0,
        shift in -3.0f32..3.0,
        order in prop::sample::subsequence(vec![0usize, 1, 2, 3, 4, 5, 6], 0..=7).prop_shuffle(),
    ) {
        let at = |i: usize| seed[i % seed.len()];
        let y: Vec<f32> = (0..len).map(|i| at(i * 7 + 1)).collect();
        let residual: Vec<f32> = (0..start + len).map(|i| at(i * 3 + 5)).collect();
        let per_row = [at(2), at(3), at(4)];
        let post: Vec<PostOp<'_>> = order
            .iter()
            .map(|&o| match o {
                0 => PostOp::Affine { scale, shift },
                1 => PostOp::Relu,
                2 => PostOp::Clip { min: -1.5, max: 2.0 },
                3 => PostOp::Residual(&residual),
                4 => PostOp::BiasPerRow(&per_row),
                5 => PostOp::ScalePerRow(&per_row),
                _ => PostOp::Activation(Activation::HardSwish),
            })
            .collect();
        let want = plain(&y, row, start, &post);
        let mut got = y.clone();
        apply_post_ops_to_run(&mut got, row, start, &post).unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        // NaN payloads may differ between the scalar and SIMD paths: compare NaN-ness.
        let canon = |v: &[f32]| -> Vec<u32> {
            v.iter().map(|x| if x.is_nan() { u32::MAX } else { x.to_bits() }).collect()
        };
        prop_assert_eq!(canon(&got), canon(&want), "{:?} vs {:?}", bits(&got), bits(&want));
    }
}

#[test]
fn ill_fitting_post_ops_are_refused_before_writing() {
    let residual = [1.0f32; 10];
    let per_row = [1.0f32; 2];
    let cases: [(&[PostOp<'_>], usize, usize, KernelErrorKind); 5] = [
        (
            &[PostOp::Residual(&residual)],
            0,
            3,
            KernelErrorKind::OutOfBounds,
        ),
        (
            &[PostOp::BiasPerRow(&per_row)],
            2,
            0,
            KernelErrorKind::OutOfBounds,
        ),
        (
            &[PostOp::ScalePerRow(&per_row)],
            5,
            0,
            KernelErrorKind::OutOfBounds,
        ),
        (
            &[PostOp::BiasPerCol(&residual)],
            0,
            0,
            KernelErrorKind::InvalidParams,
        ),
        (
            &[PostOp::Relu, PostOp::Clip { min: 1.0, max: 0.0 }],
            0,
            0,
            KernelErrorKind::InvalidParams,
        ),
    ];
    for (post, row, start, kind) in cases {
        let mut y = [5.0f32; 8];
        let e = apply_post_ops_to_run(&mut y, row, start, post).unwrap_err();
        assert_eq!(e.kind(), kind, "{post:?}: {e}");
        assert_eq!(y, [5.0; 8], "{post:?} wrote before refusing");
    }
    // A start past the end of memory is refused, not wrapped.
    let mut y = [0.0f32; 2];
    let e = apply_post_ops_to_run(&mut y, 0, usize::MAX, &[PostOp::Residual(&residual)]);
    assert_eq!(e.unwrap_err().kind(), KernelErrorKind::OutOfBounds);
}
