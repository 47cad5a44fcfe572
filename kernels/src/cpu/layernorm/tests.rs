//! Every compiled `layer_norm` variant against the `f64` reference, within the bounds stated in
//! the module docs, on rows with offset means (where an `f32` mean loses the most).

use proptest::prelude::*;

use super::{reference, LayerNormFn, LayerNormParams, RowStats};
use crate::cpu::{supported_variants, variants, Variant};
use crate::KernelErrorKind;

fn supported() -> Vec<(&'static str, LayerNormFn)> {
    supported_variants(Variant::layer_norm)
}

#[derive(Clone, Debug)]
struct Case {
    p: LayerNormParams,
    x: Vec<f32>,
    scale: Vec<f32>,
    bias: Option<Vec<f32>>,
}

fn case() -> impl Strategy<Value = Case> {
    let row_len = prop_oneof![
        prop::sample::select(vec![1usize, 7, 15, 16, 17, 31, 33, 255]),
        1..300usize,
    ];
    (
        row_len,
        1..4usize,
        prop::sample::select(vec![0.0f32, 1.0, 100.0]),
        any::<bool>(),
    )
        .prop_flat_map(|(n, rows, offset, with_bias)| {
            let values = prop::collection::vec(-1.0f32..1.0, n * rows)
                .prop_map(move |v| v.into_iter().map(|x| x + offset).collect::<Vec<_>>());
            let bias = if with_bias {
                prop::collection::vec(-2.0f32..2.0, n)
                    .prop_map(Some)
                    .boxed()
            } else {
                Just(None).boxed()
            };
            (
                prop::sample::select(vec![1e-5f32, 1e-12, 0.1]),
                values,
                prop::collection::vec(-2.0f32..2.0, n),
                bias,
            )
                .prop_map(move |(epsilon, x, scale, bias)| Case {
                    p: LayerNormParams {
                        row_len: n,
                        epsilon,
                    },
                    x,
                    scale,
                    bias,
                })
        })
}

fn check(name: &str, f: LayerNormFn, c: &Case) -> Result<(), TestCaseError> {
    let rows = c.x.len() / c.p.row_len;
    let run = |f: LayerNormFn| {
        let (mut y, mut mean, mut inv) =
            (vec![f32::NAN; c.x.len()], vec![0.0; rows], vec![0.0; rows]);
        let stats = RowStats {
            mean: &mut mean,
            inv_std_dev: &mut inv,
        };
        f(&c.p, &c.x, &c.scale, c.bias.as_deref(), &mut y, Some(stats)).unwrap();
        (y, mean, inv)
    };
    let (y, mean, inv) = run(f);
    let (y_ref, mean_ref, inv_ref) = run(reference::layer_norm);
    let (n, eps) = (c.p.row_len as f32, f32::EPSILON);
    for r in 0..rows {
        let row = &c.x[r * c.p.row_len..(r + 1) * c.p.row_len];
        let a = row.iter().map(|v| v.abs()).sum::<f32>() / n;
        let k = (n + 8.0) * eps;
        prop_assert!(
            (mean[r] - mean_ref[r]).abs() <= k * a,
            "{name} mean[{r}]: {} vs {}",
            mean[r],
            mean_ref[r]
        );
        prop_assert!(
            (inv[r] - inv_ref[r]).abs() <= k * inv_ref[r],
            "{name} inv[{r}]: {} vs {}",
            inv[r],
            inv_ref[r]
        );
        for (i, &v) in row.iter().enumerate() {
            let j = r * c.p.row_len + i;
            let b = c.bias.as_ref().map_or(0.0, |b| b[i]);
            let allowed = c.scale[i].abs() * inv_ref[r] * k * (2.0 * a + (v - mean_ref[r]).abs())
                + eps * b.abs()
                + 1e-30;
            prop_assert!(
                (y[j] - y_ref[j]).abs() <= allowed,
                "{name} {:?} y[{j}]: got {}, want {}, allowed {allowed:e}",
                c.p,
                y[j],
                y_ref[j]
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn every_variant_matches_the_reference(c in case()) {
        for (name, f) in supported() {
            check(name, f, &c)?;
        }
    }
}

/// A constant row: variance 0, so the output is `bias` (and `inv = 1/√ε`).
#[test]
fn constant_row_gives_the_bias() {
    let c = Case {
        p: LayerNormParams {
            row_len: 19,
            epsilon: 1e-5,
        },
        x: vec![3.25; 19],
        scale: vec![2.0; 19],
        bias: Some((0..19).map(|i| i as f32).collect()),
    };
    for (name, f) in supported() {
        check(name, f, &c).unwrap();
    }
}

#[test]
fn bad_shapes_are_rejected_before_writing() {
    let x = [1.0f32; 6];
    let p = LayerNormParams {
        row_len: 3,
        epsilon: 1e-5,
    };
    for v in variants() {
        let Some(f) = v.layer_norm() else { continue };
        if !v.is_supported() {
            continue;
        }
        let mut y = [7.0f32; 6];
        let kind = |r: Result<(), crate::KernelError>| r.unwrap_err().kind();
        assert_eq!(
            kind(f(&p, &x, &[1.0; 2], None, &mut y, None)),
            KernelErrorKind::OutOfBounds
        );
        assert_eq!(
            kind(f(&p, &x, &[1.0; 3], Some(&[0.0; 4]), &mut y, None)),
            KernelErrorKind::OutOfBounds
        );
        assert_eq!(
            kind(f(&p, &x, &[1.0; 3], None, &mut y[..5], None)),
            KernelErrorKind::OutOfBounds
        );
        let (mut m, mut s) = ([0.0f32; 1], [0.0f32; 2]);
        let stats = RowStats {
            mean: &mut m,
            inv_std_dev: &mut s,
        };
        assert_eq!(
            kind(f(&p, &x, &[1.0; 3], None, &mut y, Some(stats))),
            KernelErrorKind::OutOfBounds
        );
        let p4 = LayerNormParams {
            row_len: 4,
            epsilon: 1e-5,
        };
        assert_eq!(
            kind(f(&p4, &x, &[1.0; 4], None, &mut y, None)),
            KernelErrorKind::InvalidParams
        );
        assert_eq!(y, [7.0; 6], "{}", v.info.name);
    }
}
