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
