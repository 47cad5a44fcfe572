//! Every compiled `transpose` variant against the reference, bit for bit (a transpose moves
//! bits: NaN payloads and signed zeros must survive), over edge-sized and tile-crossing
//! shapes, padded strides and batches; and every bad call rejected without a write.

use proptest::prelude::*;

use super::{reference, TransposeFn, TransposeParams};
use crate::cpu::{supported_variants, Variant};
use crate::KernelErrorKind;

/// The optimised variants this CPU runs (the others reported as skipped).
fn supported() -> Vec<(&'static str, TransposeFn)> {
    supported_variants(Variant::transpose)
}

/// The reference, then every supported variant.
fn every() -> Vec<(&'static str, TransposeFn)> {
    std::iter::once(("reference", reference::transpose as TransposeFn))
        .chain(supported())
        .collect()
}

/// `len` arbitrary bit patterns (NaNs with payloads, subnormals, ...) from `seed`.
fn bits(len: usize, seed: u64) -> Vec<f32> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            // xorshift64*: cheap, and every 32-bit pattern is reachable.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            f32::from_bits((state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32)
        })
        .collect()
}

/// Elements `p` spans in x and y (at least one, so slices are never empty).
fn lengths(p: &TransposeParams) -> (usize, usize) {
    let span = |lines: usize, stride: usize, len: usize, batch_stride: usize| {
        (p.batch - 1) * batch_stride + (lines - 1) * stride + len
    };
    (
        span(p.rows, p.x_row_stride, p.cols, p.x_batch_stride),
        span(p.cols, p.y_row_stride, p.rows, p.y_batch_stride),
    )
}

/// Runs every variant on `p` against the reference: the whole of `y` (padding included, which
/// must keep its stale contents) must match bit for bit.
fn check(p: &TransposeParams, seed: u64) -> Result<(), TestCaseError> {
    let (x_len, y_len) = lengths(p);
    let x = bits(x_len, seed);
    let stale = bits(y_len, !seed);
    let mut want = stale.clone();
    reference::transpose(p, &x, &mut want).unwrap();
    for (name, f) in supported() {
        let mut got = stale.clone();
        f(p, &x, &mut got).unwrap();
        let wrong = got
            .iter()
            .zip(&want)
            .position(|(g, w)| g.to_bits() != w.to_bits());
        prop_assert!(
            wrong.is_none(),
            "{} {:?}: y[{}] is {:#x}, want {:#x}",
            name,
            p,
            wrong.unwrap_or(0),
            got[wrong.unwrap_or(0)].to_bits(),
            want[wrong.unwrap_or(0)].to_bits()
        );
    }
    Ok(())
}

fn dim() -> impl Strategy<Value = usize> {
    prop_oneof![
        prop::sample::select(vec![1usize, 7, 15, 16, 17, 31, 33, 255]),
        1..150usize,
    ]
}

fn params() -> impl Strategy<Value = TransposeParams> {
    (dim(), dim(), 1..4usize, [0..5usize, 0..5, 0..9, 0..9]).prop_map(
        |(rows, cols, batch, [x_pad, y_pad, x_gap, y_gap])| {
            let (x_row_stride, y_row_stride) = (cols + x_pad, rows + y_pad);
            TransposeParams {
                batch,
                rows,
                cols,
                x_row_stride,
                x_batch_stride: rows * x_row_stride + x_gap,
                y_row_stride,
                y_batch_stride: cols * y_row_stride + y_gap,
            }
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn every_variant_matches_the_reference(p in params(), seed in any::<u64>()) {
        check(&p, seed)?;
    }
}

/// Shapes the runtime produces: contiguous batches, several tiles, one long thin side.
#[test]
fn contiguous_and_multi_tile_shapes() {
    for (batch, rows, cols) in [
        (1, 2, 3),
        (3, 64, 64),
        (2, 130, 200),
        (1, 40, 1000),
        (5, 1, 9),
    ] {
        check(&TransposeParams::contiguous(batch, rows, cols), 7).unwrap();
    }
    // Overlapping source reads are allowed (y[j, i] = x[i + j] with row stride 1).
    let p = TransposeParams {
        x_row_stride: 1,
        ..TransposeParams::contiguous(1, 20, 20)
    };
    check(&p, 11).unwrap();
}

#[test]
fn a_small_transpose_by_hand() {
    let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    for (name, f) in every() {
        let mut y = [0.0f32; 6];
        f(&TransposeParams::contiguous(1, 2, 3), &x, &mut y).unwrap();
        assert_eq!(y, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0], "{name}");
        // Twice is the identity.
        let mut back = [0.0f32; 6];
        f(&TransposeParams::contiguous(1, 3, 2), &y, &mut back).unwrap();
        assert_eq!(back, x, "{name}");
    }
}

#[test]
fn empty_calls_are_fine_and_bad_calls_are_rejected_untouched() {
    let ok = TransposeParams::contiguous(2, 3, 4);
    let bad: [(TransposeParams, usize, usize, KernelErrorKind); 7] = [
        (ok, 23, 24, KernelErrorKind::OutOfBounds),
        (ok, 24, 23, KernelErrorKind::OutOfBounds),
        (
            TransposeParams {
                y_row_stride: 2,
                ..ok
            },
            24,
            24,
            KernelErrorKind::InvalidParams,
        ),
        (
            TransposeParams {
                y_batch_stride: 11,
                ..ok
            },
            24,
            24,
            KernelErrorKind::InvalidParams,
        ),
        (
            TransposeParams {
                x_row_stride: usize::MAX,
                ..ok
            },
            24,
            24,
            KernelErrorKind::InvalidParams,
        ),
        (
            TransposeParams {
                x_batch_stride: usize::MAX / 2 + 1,
                batch: 3,
                y_batch_stride: 12,
                ..ok
            },
            24,
            36,
            KernelErrorKind::InvalidParams,
        ),
        (
            TransposeParams {
                y_batch_stride: usize::MAX,
                ..ok
            },
            24,
            24,
            KernelErrorKind::InvalidParams,
        ),
    ];
    for (name, f) in every() {
        for (p, x_len, y_len, kind) in bad {
            let x = vec![1.0f32; x_len];
            let mut y = vec![0.0f32; y_len];
            let err = f(&p, &x, &mut y).expect_err(&format!("{name} {p:?}"));
            assert_eq!(err.kind(), kind, "{name} {p:?}: {err}");
            assert!(
                y.iter().all(|&v| v == 0.0),
                "{name}: a rejected call wrote y"
            );
        }
        for p in [
            TransposeParams::contiguous(0, 3, 4),
            TransposeParams::contiguous(2, 0, 4),
            TransposeParams::contiguous(2, 3, 0),
        ] {
            assert!(f(&p, &[], &mut []).is_ok(), "{name} {p:?}");
        }
        // One result row: its stride is never used, so any value is fine.
        let column = TransposeParams {
            y_row_stride: 0,
            ..TransposeParams::contiguous(1, 5, 1)
        };
        let mut y = [0.0f32; 5];
        f(&column, &[1.0, 2.0, 3.0, 4.0, 5.0], &mut y).unwrap();
        assert_eq!(y, [1.0, 2.0, 3.0, 4.0, 5.0], "{name}");
    }
}
