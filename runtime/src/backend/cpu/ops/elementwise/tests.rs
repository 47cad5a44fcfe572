//! Op-level checks of the cases the ONNX node tests do not pin down: legacy axis
//! broadcasting, dtype-agnostic `Where`, bounds handling in `Clip`, `Dropout` masks.

use crate::backend::cpu::eval_node;
use crate::ir::ops::elementwise::{Binary, Clip, Dropout, ElementwiseOp, Unary, Variadic};
use crate::ir::Op;
use crate::{DType, ErrorKind, Result, Tensor};

fn run(op: ElementwiseOp, inputs: &[Option<&Tensor>], n_outputs: usize) -> Result<Vec<Tensor>> {
    let results = eval_node(&Op::Elementwise(op), inputs, n_outputs, 1)?;
    Ok(results.into_iter().flatten().collect())
}

fn t<T: crate::tensor::Element>(shape: &[usize], values: &[T]) -> Tensor {
    Tensor::from_slice(shape, values).unwrap()
}

#[test]
fn legacy_axis_broadcast_aligns_the_second_input_at_the_axis() {
    let a = t(&[2, 3, 2], &[0f32; 12]);
    let b = t(&[3], &[1f32, 2.0, 3.0]);
    let op = ElementwiseOp::BinaryAtAxis {
        op: Binary::Add,
        axis: 1,
    };
    let y = run(op, &[Some(&a), Some(&b)], 1).unwrap().remove(0);
    assert_eq!(y.shape(), [2, 3, 2]);
    assert_eq!(
        y.as_slice::<f32>().unwrap(),
        [1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0]
    );
    let misfit = ElementwiseOp::BinaryAtAxis {
        op: Binary::Add,
        axis: 2,
    };
    assert!(run(misfit, &[Some(&a), Some(&b)], 1).is_err());
}

#[test]
fn where_moves_any_dtype_by_width() {
    let cond = Tensor::from_bools(&[2, 1], &[true, false]).unwrap();
    let x = t(
        &[3],
        &[
            half::f16::from_f32(1.0),
            half::f16::from_f32(2.0),
            half::f16::from_f32(3.0),
        ],
    );
    let y = t(&[], &[half::f16::from_f32(-1.0)]);
    let z = run(ElementwiseOp::Where, &[Some(&cond), Some(&x), Some(&y)], 1)
        .unwrap()
        .remove(0);
    assert_eq!(z.shape(), [2, 3]);
    let values: Vec<f32> = z
        .as_slice::<half::f16>()
        .unwrap()
        .iter()
        .map(|v| v.to_f32())
        .collect();
    assert_eq!(values, [1.0, 2.0, 3.0, -1.0, -1.0, -1.0]);

    let bx = Tensor::from_bools(&[2], &[true, true]).unwrap();
    let by = Tensor::from_bools(&[2], &[false, false]).unwrap();
    let c = Tensor::from_bools(&[2], &[false, true]).unwrap();
    let z = run(ElementwiseOp::Where, &[Some(&c), Some(&bx), Some(&by)], 1)
        .unwrap()
        .remove(0);
    assert_eq!((z.dtype(), z.bytes()), (DType::Bool, &[0u8, 1][..]));
}

#[test]
fn clip_takes_optional_bounds_of_the_input_dtype() {
    let x = t(&[4], &[-5i32, 0, 5, 10]);
    let hi = t(&[], &[6i32]);
    let y = run(
        ElementwiseOp::Clip(Clip::FromInputs),
        &[Some(&x), None, Some(&hi)],
        1,
    )
    .unwrap()
    .remove(0);
    assert_eq!(y.as_slice::<i32>().unwrap(), [-5, 0, 5, 6]);
    let wrong_dtype = t(&[], &[6i64]);
    let err = run(
        ElementwiseOp::Clip(Clip::FromInputs),
        &[Some(&x), Some(&wrong_dtype)],
        1,
    )
    .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::DTypeMismatch);
    let not_scalar = t(&[2], &[1i32, 2]);
    assert!(run(
        ElementwiseOp::Clip(Clip::FromInputs),
        &[Some(&x), Some(&not_scalar)],
        1
    )
    .is_err());
}

#[test]
fn dropout_passes_through_with_a_mask_of_ones() {
    let x = t(&[3], &[1f32, 2.0, 3.0]);
    let bool_mask = ElementwiseOp::Dropout(Dropout {
        mask_like_input: false,
        ratio_and_mode_inputs: true,
    });
    let outs = run(bool_mask.clone(), &[Some(&x)], 2).unwrap();
    assert_eq!(outs[0].as_slice::<f32>().unwrap(), [1.0, 2.0, 3.0]);
    assert_eq!(
        (outs[1].dtype(), outs[1].bytes()),
        (DType::Bool, &[1u8, 1, 1][..])
    );

    let old = ElementwiseOp::Dropout(Dropout {
        mask_like_input: true,
        ratio_and_mode_inputs: false,
    });
    let outs = run(old, &[Some(&x)], 2).unwrap();
    assert_eq!(outs[1].as_slice::<f32>().unwrap(), [1.0, 1.0, 1.0]);

    let training = Tensor::from_bools(&[], &[true]).unwrap();
    let ratio = t(&[], &[0.25f32]);
    let err = run(
        bool_mask.clone(),
        &[Some(&x), Some(&ratio), Some(&training)],
        1,
    )
    .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::UnsupportedOp { .. }));
    let zero = t(&[], &[0.0f32]);
    assert!(run(bool_mask, &[Some(&x), Some(&zero), Some(&training)], 1).is_ok());
}

#[test]
fn pow_keeps_the_base_dtype() {
    let base = t(&[3], &[2i32, 3, 4]);
    let exp = t(&[], &[0.5f32]);
    let y = run(
        ElementwiseOp::Binary(Binary::Pow),
        &[Some(&base), Some(&exp)],
        1,
    )
    .unwrap()
    .remove(0);
    assert_eq!(y.as_slice::<i32>().unwrap(), [1, 1, 2]);
    let square = t(&[], &[2.0f32]);
    let x = t(&[2], &[1.5f32, -3.0]);
    let y = run(
        ElementwiseOp::Binary(Binary::Pow),
        &[Some(&x), Some(&square)],
        1,
    )
    .unwrap()
    .remove(0);
    assert_eq!(y.as_slice::<f32>().unwrap(), [2.25, 9.0]);
}

#[test]
fn variadic_ops_broadcast_and_propagate_nan() {
    let a = t(&[2, 1], &[1f32, f32::NAN]);
    let b = t(&[2], &[0f32, 5.0]);
    let y = run(
        ElementwiseOp::Variadic(Variadic::Max),
        &[Some(&a), Some(&b)],
        1,
    )
    .unwrap()
    .remove(0);
    let v = y.as_slice::<f32>().unwrap();
    assert_eq!(&v[..2], [1.0, 5.0]);
    assert!(v[2].is_nan() && v[3].is_nan());
    let y = run(
        ElementwiseOp::Variadic(Variadic::Mean),
        &[Some(&b), Some(&b), Some(&b)],
        1,
    )
    .unwrap()
    .remove(0);
    assert_eq!(y.as_slice::<f32>().unwrap(), [0.0, 5.0]);
}

#[test]
fn mismatched_dtypes_and_unsupported_dtypes_are_errors() {
    let f = t(&[1], &[1f32]);
    let i = t(&[1], &[1i32]);
    let err = run(ElementwiseOp::Binary(Binary::Add), &[Some(&f), Some(&i)], 1).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::DTypeMismatch);
    let err = run(ElementwiseOp::Unary(Unary::Exp), &[Some(&i)], 1).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::UnsupportedOp { .. }));
    let err = run(
        ElementwiseOp::Binary(Binary::BitwiseAnd),
        &[Some(&f), Some(&f)],
        1,
    )
    .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::UnsupportedOp { .. }));
}

/// Every numeric dtype (the rare ones are computed through a wider type) against the
/// element-level oracle in the storage type itself, over a broadcast of both operands.
#[test]
fn binary_ops_of_every_dtype_match_the_storage_type_oracle() {
    use super::scalar::{Int, Num};
    use half::{bf16, f16};

    // [3, 1, 4] against [2, 1]: both operands repeat along some axis.
    let (a_shape, b_shape, out_shape) = ([3usize, 1, 4], [2usize, 1], [3usize, 2, 4]);
    let a_at = |i: usize| (i / 8) * 4 + i % 4;
    let b_at = |i: usize| (i / 4) % 2;

    fn values<T: Num>(n: usize, seed: i64) -> Vec<T> {
        // Small and extreme values, negative ones (wrapping for unsigned types), and zeros.
        (0..n as i64)
            .map(|i| {
                let v = ((i * 37 + seed * 11) % 23) - 9;
                T::from_f64(if i % 5 == 4 {
                    v as f64 * 1000.0
                } else {
                    v as f64
                })
            })
            .collect()
    }

    fn check<T: Num + std::fmt::Debug>(
        x: &[T],
        y: &[T],
        shapes: (&[usize], &[usize], &[usize]),
        at: (&dyn Fn(usize) -> usize, &dyn Fn(usize) -> usize),
        extra: &[(Binary, fn(T, T) -> T)],
    ) {
        let (ta, tb) = (t(shapes.0, x), t(shapes.1, y));
        let n: usize = shapes.2.iter().product();
        let arithmetic: [(Binary, fn(T, T) -> T); 7] = [
            (Binary::Add, T::add),
            (Binary::Sub, T::sub),
            (Binary::Mul, T::mul),
            (Binary::Div, T::div),
            (Binary::Mod { fmod: false }, T::rem_floor),
            (Binary::Mod { fmod: true }, T::rem_trunc),
            (Binary::Pow, T::pow),
        ];
        for &(op, f) in arithmetic.iter().chain(extra) {
            let got = run(ElementwiseOp::Binary(op), &[Some(&ta), Some(&tb)], 1)
                .unwrap()
                .remove(0);
            assert_eq!((got.dtype(), got.shape()), (T::DTYPE, shapes.2));
            let got = got.as_slice::<T>().unwrap();
            for i in 0..n {
                let want = f(x[at.0(i)], y[at.1(i)]);
                // Bit for bit (NaNs included: the same code makes them).
                let same = bytemuck::bytes_of(&want) == bytemuck::bytes_of(&got[i]);
                assert!(
                    same,
                    "{op:?} {:?} at {i}: {:?} vs {want:?}",
                    T::DTYPE,
                    got[i]
                );
            }
        }
        let comparisons: [(Binary, fn(&T, &T) -> bool); 5] = [
            (Binary::Equal, |a, b| a == b),
            (Binary::Less, |a, b| a < b),
            (Binary::Greater, |a, b| a > b),
            (Binary::LessOrEqual, |a, b| a <= b),
            (Binary::GreaterOrEqual, |a, b| a >= b),
        ];
        for (op, f) in comparisons {
            let got = run(ElementwiseOp::Binary(op), &[Some(&ta), Some(&tb)], 1)
                .unwrap()
                .remove(0);
            assert_eq!(got.dtype(), DType::Bool);
            for (i, &g) in got.bytes().iter().enumerate() {
                let want = f(&x[at.0(i)], &y[at.1(i)]) as u8;
                assert_eq!(g, want, "{op:?} {:?} at {i}", T::DTYPE);
            }
        }
    }

    fn ints<T: Int + std::fmt::Debug>() -> [(Binary, fn(T, T) -> T); 5] {
        [
            (Binary::BitwiseAnd, |a, b| a & b),
            (Binary::BitwiseOr, |a, b| a | b),
            (Binary::BitwiseXor, |a, b| a ^ b),
            (Binary::BitShiftLeft, T::shift_left),
            (Binary::BitShiftRight, T::shift_right),
        ]
    }

    macro_rules! case {
        ($t:ty, $extra:expr) => {{
            let (x, y) = (values::<$t>(12, 1), values::<$t>(2, 2));
            let shapes = (&a_shape[..], &b_shape[..], &out_shape[..]);
            check::<$t>(&x, &y, shapes, (&a_at, &b_at), $extra);
            // Shifts by small counts too (the values above are mostly out of range).
            let small: Vec<$t> = (0..2)
                .map(|i| <$t>::from_f64(i as f64 * 3.0 + 1.0))
                .collect();
            check::<$t>(&x, &small, shapes, (&a_at, &b_at), $extra);
        }};
    }
    case!(f32, &[]);
    case!(f64, &[]);
    case!(f16, &[]);
    case!(bf16, &[]);
    case!(i8, &ints::<i8>());
    case!(u8, &ints::<u8>());
    case!(i16, &ints::<i16>());
    case!(u16, &ints::<u16>());
    case!(i32, &ints::<i32>());
    case!(u32, &ints::<u32>());
    case!(i64, &ints::<i64>());
    case!(u64, &ints::<u64>());
}
