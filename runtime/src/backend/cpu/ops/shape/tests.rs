//! Inference and evaluation must agree: for each op, with its parameter inputs known as
//! constants (as after folding), the inferred output shapes and dtypes are exactly what the
//! CPU produces. A few value checks pin the trickier index math.

use crate::backend::cpu::eval_node;
use crate::ir::ops::shape::*;
use crate::ir::{Fact, Op};
use crate::{DType, Tensor};
use std::sync::Arc;

fn f32s(shape: &[usize]) -> Tensor {
    let n = shape.iter().product::<usize>();
    Tensor::from_vec(shape, (0..n).map(|v| v as f32).collect::<Vec<_>>()).unwrap()
}

fn i64s(values: &[i64]) -> Tensor {
    Tensor::from_slice(&[values.len()], values).unwrap()
}

/// Evaluates `op`, checks inference (inputs listed in `known` given as values) against it,
/// and returns the outputs.
fn run(op: ShapeOp, inputs: &[Option<Tensor>], known: &[usize], n_out: usize) -> Vec<Tensor> {
    let facts: Vec<Option<Fact>> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| {
            t.as_ref().map(|t| {
                if known.contains(&i) {
                    Fact::constant(Arc::new(t.clone()))
                } else {
                    Fact::typed(t.dtype(), t.shape().to_vec())
                }
            })
        })
        .collect();
    let refs: Vec<Option<&Fact>> = facts.iter().map(|f| f.as_ref()).collect();
    let op = Op::Shape(op);
    let inferred = op.infer(&refs, n_out).unwrap();
    let tensors: Vec<Option<&Tensor>> = inputs.iter().map(|t| t.as_ref()).collect();
    let outs: Vec<Tensor> = eval_node(&op, &tensors, n_out, 1)
        .unwrap()
        .into_iter()
        .map(|t| t.unwrap())
        .collect();
    for (k, (fact, t)) in inferred.iter().zip(&outs).enumerate() {
        assert_eq!(
            fact.shape.as_deref(),
            Some(t.shape()),
            "{} output {k} shape",
            op.name()
        );
        assert_eq!(
            fact.dtype,
            Some(t.dtype()),
            "{} output {k} dtype",
            op.name()
        );
    }
    outs
}

#[test]
fn inference_matches_evaluation() {
    let x = || Some(f32s(&[2, 3, 4]));
    run(
        ShapeOp::Reshape {
            allowzero: false,
            shape: None,
        },
        &[x(), Some(i64s(&[0, -1]))],
        &[1],
        1,
    );
    run(ShapeOp::Flatten { axis: -1 }, &[x()], &[], 1);
    run(
        ShapeOp::Squeeze { axes: None },
        &[Some(f32s(&[2, 1, 3])), Some(i64s(&[1]))],
        &[1],
        1,
    );
    run(
        ShapeOp::Unsqueeze { axes: None },
        &[x(), Some(i64s(&[0, -1]))],
        &[1],
        1,
    );
    run(
        ShapeOp::Transpose {
            perm: Some(vec![2, 0, 1]),
        },
        &[x()],
        &[],
        1,
    );
    run(
        ShapeOp::Concat { axis: -2 },
        &[x(), Some(f32s(&[2, 5, 4]))],
        &[],
        1,
    );
    let split = SplitAttrs {
        axis: 1,
        split: None,
        num_outputs: None,
        outputs: 2,
    };
    run(ShapeOp::Split(split), &[x(), Some(i64s(&[1, 2]))], &[1], 2);
    let slice = [
        Some(f32s(&[5, 6])),
        Some(i64s(&[4, -1])),
        Some(i64s(&[0, -10])),
        Some(i64s(&[0, 1])),
        Some(i64s(&[-2, -2])),
    ];
    run(ShapeOp::Slice { attrs: None }, &slice, &[1, 2, 3, 4], 1);
    run(
        ShapeOp::Expand,
        &[Some(f32s(&[3, 1])), Some(i64s(&[2, 1, 4]))],
        &[1],
        1,
    );
    run(
        ShapeOp::Tile,
        &[Some(f32s(&[2, 3])), Some(i64s(&[2, 2]))],
        &[1],
        1,
    );
    let pad = PadAttrs {
        mode: PadMode::Reflect,
        pads: None,
        value: 0.0,
    };
    run(
        ShapeOp::Pad(pad),
        &[Some(f32s(&[2, 3])), Some(i64s(&[1, 0, -1, 2]))],
        &[1],
        1,
    );
    run(
        ShapeOp::Gather { axis: 1 },
        &[x(), Some(i64s(&[2, -1, 0, 0]))],
        &[],
        1,
    );
    run(
        ShapeOp::GatherNd { batch_dims: 1 },
        &[
            x(),
            Some(Tensor::from_vec(&[2, 1, 1], vec![2i64, 0]).unwrap()),
        ],
        &[],
        1,
    );
    run(
        ShapeOp::DepthToSpace {
            blocksize: 2,
            mode: BlockMode::Crd,
        },
        &[Some(f32s(&[1, 8, 2, 3]))],
        &[],
        1,
    );
    run(
        ShapeOp::SpaceToDepth {
            blocksize: 2,
            mode: BlockMode::Dcr,
        },
        &[Some(f32s(&[1, 2, 4, 6]))],
        &[],
        1,
    );
    run(
        ShapeOp::Shape {
            start: 1,
            end: None,
        },
        &[x()],
        &[],
        1,
    );
    run(ShapeOp::Size, &[x()], &[], 1);
    run(
        ShapeOp::ConstantOfShape {
            value: Tensor::scalar(7i32),
        },
        &[Some(i64s(&[2, 3]))],
        &[0],
        1,
    );
    run(
        ShapeOp::TopK(TopKAttrs {
            axis: 1,
            largest: false,
            k: None,
        }),
        &[x(), Some(i64s(&[2]))],
        &[1],
        2,
    );
    let values = Some(Tensor::from_vec(&[2], vec![0.5f32, 2.0]).unwrap());
    run(
        ShapeOp::OneHot { axis: 1 },
        &[Some(i64s(&[1, -1, 9])), Some(Tensor::scalar(4i64)), values],
        &[1, 2],
        1,
    );
    run(
        ShapeOp::CenterCropPad { axes: None },
        &[Some(f32s(&[5, 4])), Some(i64s(&[3, 7]))],
        &[1],
        1,
    );
    let condition = Tensor::from_bools(&[2], &[false, true]).unwrap();
    run(
        ShapeOp::Compress { axis: Some(2) },
        &[x(), Some(condition)],
        &[1],
        1,
    );
    run(
        ShapeOp::EyeLike {
            dtype: Some(DType::I32),
            k: 1,
        },
        &[Some(f32s(&[3, 4]))],
        &[],
        1,
    );
}

#[test]
fn resize_inference_matches_evaluation() {
    let attrs = |mode, axes, policy| ResizeAttrs {
        mode,
        coordinate_mode: CoordinateMode::HalfPixel,
        nearest_mode: NearestMode::RoundPreferFloor,
        cubic_coeff_a: -0.75,
        exclude_outside: false,
        extrapolation_value: 0.0,
        antialias: false,
        axes,
        keep_aspect_ratio: policy,
        roi_input: Some(1),
        scales_input: Some(2),
        sizes_input: Some(3),
        scales_attr: None,
    };
    let scales = Tensor::from_vec(&[4], vec![1.0f32, 1.0, 0.6, 1.7]).unwrap();
    let op = ShapeOp::Resize(Box::new(attrs(
        ResizeMode::Cubic,
        None,
        KeepAspectRatio::Stretch,
    )));
    run(
        op,
        &[Some(f32s(&[1, 1, 4, 4])), None, Some(scales), None],
        &[2],
        1,
    );
    let op = ShapeOp::Resize(Box::new(attrs(
        ResizeMode::Linear,
        Some(vec![3, 2]),
        KeepAspectRatio::NotSmaller,
    )));
    run(
        op,
        &[Some(f32s(&[1, 1, 4, 4])), None, None, Some(i64s(&[5, 3]))],
        &[3],
        1,
    );
}

#[test]
fn negative_step_slice_and_reflect_pad_values() {
    let slice = [
        Some(f32s(&[6])),
        Some(i64s(&[-1])),
        Some(i64s(&[i64::MIN])),
        None,
        Some(i64s(&[-2])),
    ];
    let y = run(ShapeOp::Slice { attrs: None }, &slice, &[1, 2, 4], 1);
    assert_eq!(y[0].as_slice::<f32>().unwrap(), &[5.0, 3.0, 1.0]);
    let pad = PadAttrs {
        mode: PadMode::Reflect,
        pads: Some(vec![2, 1]),
        value: 0.0,
    };
    let y = run(ShapeOp::Pad(pad), &[Some(f32s(&[3]))], &[], 1);
    assert_eq!(
        y[0].as_slice::<f32>().unwrap(),
        &[2.0, 1.0, 0.0, 1.0, 2.0, 1.0]
    );
}

#[test]
fn top_k_breaks_ties_by_lower_index() {
    let x = Tensor::from_vec(&[5], vec![1.0f32, 3.0, 3.0, f32::NAN, 0.0]).unwrap();
    let y = run(
        ShapeOp::TopK(TopKAttrs {
            axis: 0,
            largest: true,
            k: Some(3),
        }),
        &[Some(x)],
        &[],
        2,
    );
    assert!(y[0].as_slice::<f32>().unwrap()[0].is_nan());
    assert_eq!(y[1].as_slice::<i64>().unwrap(), &[3, 1, 2]);
}

#[test]
fn bad_indices_are_errors_not_panics() {
    let op = Op::Shape(ShapeOp::Gather { axis: 0 });
    let (x, idx) = (f32s(&[3]), i64s(&[3]));
    assert!(eval_node(&op, &[Some(&x), Some(&idx)], 1, 1).is_err());
    let op = Op::Shape(ShapeOp::GatherElements { axis: 0 });
    let idx = i64s(&[-4]);
    assert!(eval_node(&op, &[Some(&x), Some(&idx)], 1, 1).is_err());
    let op = Op::Shape(ShapeOp::Reshape {
        allowzero: false,
        shape: None,
    });
    assert!(eval_node(&op, &[Some(&x), Some(&i64s(&[2, -1]))], 1, 1).is_err());
    let op = Op::Shape(ShapeOp::ScatterNd {
        reduction: ScatterReduction::Add,
    });
    let idx = Tensor::from_vec(&[1, 1], vec![5i64]).unwrap();
    let upd = f32s(&[1]);
    assert!(eval_node(&op, &[Some(&x), Some(&idx), Some(&upd)], 1, 1).is_err());
}

#[test]
fn tensor_scatter_writes_each_batch_from_its_index() {
    // Cache [2 batch, 1 head, 4 positions, 2]; update of 2 positions per batch entry.
    let past = f32s(&[2, 1, 4, 2]);
    let update = Tensor::from_vec(
        &[2, 1, 2, 2],
        vec![-1.0f32, -2.0, -3.0, -4.0, -5.0, -6.0, -7.0, -8.0],
    )
    .unwrap();
    let scatter = |circular, starts: &[i64]| {
        let op = ShapeOp::TensorScatter { axis: -2, circular };
        run(
            op,
            &[Some(past.clone()), Some(update.clone()), Some(i64s(starts))],
            &[],
            1,
        )
        .remove(0)
        .as_slice::<f32>()
        .unwrap()
        .to_vec()
    };
    assert_eq!(
        scatter(false, &[1, 2]),
        [
            0.0, 1.0, -1.0, -2.0, -3.0, -4.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, -5.0, -6.0, -7.0,
            -8.0
        ]
    );
    // Circular: batch 1 starts at the last position and wraps to the first.
    assert_eq!(
        scatter(true, &[0, 3]),
        [
            -1.0, -2.0, -3.0, -4.0, 4.0, 5.0, 6.0, 7.0, -7.0, -8.0, 10.0, 11.0, 12.0, 13.0, -5.0,
            -6.0
        ]
    );
    // Without write indices the update lands at position 0.
    let op = Op::Shape(ShapeOp::TensorScatter {
        axis: 2,
        circular: false,
    });
    let y = eval_node(&op, &[Some(&past), Some(&update), None], 1, 1).unwrap();
    let y = y[0].as_ref().unwrap().as_slice::<f32>().unwrap().to_vec();
    assert_eq!(&y[..4], &[-1.0, -2.0, -3.0, -4.0]);
    // Linear writes past the end, negative indices and a wrong index count are errors.
    for starts in [&[3i64, 0][..], &[-1, 0], &[0]] {
        let idx = i64s(starts);
        assert!(eval_node(&op, &[Some(&past), Some(&update), Some(&idx)], 1, 1).is_err());
    }
}

/// The blocked 2-D transpose (4-byte dtypes whose permutation is a batch of 2-D transposes)
/// gives exactly the generic strided copy's bytes, NaN payloads included; other dtypes and
/// permutations keep the strided copy.
#[test]
fn blocked_transposes_match_the_strided_copy() {
    use super::copy::{copy_strided, signed_strides, Strided};
    use super::transpose_2d::Transpose2d;
    // (input shape, perm, whether the pattern is a batch of 2-D transposes)
    let cases: [(&[usize], &[usize], bool); 11] = [
        (&[5, 7], &[1, 0], true),
        (&[3, 17, 33], &[0, 2, 1], true),
        (&[1, 40, 97], &[0, 2, 1], true),
        (&[2, 3, 4, 5], &[0, 2, 3, 1], true), // [2, 3, 20] -> [2, 20, 3]
        (&[2, 3, 19, 18], &[0, 1, 3, 2], true), // a batch of 6
        (&[2, 3, 4, 5], &[1, 0, 3, 2], true), // two batch axes: one call per outer index
        (&[1, 40, 1, 97], &[0, 3, 2, 1], true), // size-1 axes dropped
        (&[3, 4, 5], &[2, 0, 1], true),       // [12, 5] -> [5, 12]
        (&[3, 70, 1], &[2, 1, 0], true),      // [3, 70] -> [70, 3]
        (&[4, 6, 8], &[2, 1, 0], false),
        (&[4, 6, 8], &[1, 0, 2], false),
    ];
    for (shape, perm, blocked) in cases {
        let strides = signed_strides(shape);
        let pattern = Strided {
            shape: perm.iter().map(|&p| shape[p]).collect(),
            strides: perm.iter().map(|&p| strides[p]).collect(),
            offset: 0,
        };
        assert_eq!(
            Transpose2d::of(&pattern.simplified()).is_some(),
            blocked,
            "{shape:?} {perm:?}"
        );
        for dtype in [DType::F32, DType::I32, DType::U32, DType::I64, DType::U8] {
            let len = shape.iter().product::<usize>() * dtype.size();
            // Every byte differs and 4-byte words include NaNs with payloads.
            let bytes: Vec<u8> = (0..len)
                .map(|i| (i.wrapping_mul(0x9e37_79b9) >> 7) as u8 ^ 0x7f)
                .collect();
            let x = Tensor::from_bytes(dtype, shape, &bytes).unwrap();
            let perm_attr = perm.iter().map(|&p| p as i64).collect();
            let y = &run(
                ShapeOp::Transpose {
                    perm: Some(perm_attr),
                },
                &[Some(x)],
                &[],
                1,
            )[0];
            let mut want = vec![0u8; len];
            copy_strided(dtype.size(), &bytes, &mut want, &pattern).unwrap();
            assert_eq!(y.shape(), &pattern.shape[..], "{shape:?} {perm:?}");
            assert_eq!(y.bytes(), &want[..], "{dtype} {shape:?} {perm:?}");
        }
    }
}
