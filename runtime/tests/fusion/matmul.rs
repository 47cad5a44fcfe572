//! Chains after MatMul and Gemm (bias, activation, affine).

use crate::onnx::*;
use mote::ir::ops::nn::{EpilogueStep, FusedActivation};
use mote::{Model, Tensor};
use prost::Message;
use tract_onnx::pb;

/// `x [.., K] -> MatMul(x, W [K, N]) -> chain... -> y`.
fn matmul_model(x_shape: &[usize], n: usize, chain: &[Link<'_>]) -> Vec<u8> {
    let k = *x_shape.last().expect("rank >= 1");
    let inits = vec![initializer("w", &[k, n], values(5, k * n))];
    let mut y_shape = x_shape.to_vec();
    *y_shape.last_mut().expect("rank >= 1") = n;
    chain_model(
        node("MatMul", &["x", "w"], "t0"),
        inits,
        x_shape,
        y_shape,
        chain,
    )
}

#[test]
fn matmul_bias_activation_and_affine_fuse_and_round_as_the_ops_did() {
    let (s, b) = (0.875f32, -0.25f32);
    // Batched A (a transformer's [batch, tokens, features]), a plain matrix, a 1-D row;
    // widths past the kernels' tiles.
    for (x_shape, n) in [(vec![2, 7, 33], 70), (vec![17, 5], 255), (vec![9], 17)] {
        let rank = x_shape.len();
        let mut row = vec![1; rank];
        row[rank - 1] = n;
        let bias = values(6, n);
        let chain: Vec<Link<'_>> = vec![
            ("Add", Some((row.clone(), 0.0)), true),
            ("Relu", None, false),
            ("Mul", Some((vec![], s)), false),
            ("Add", Some((vec![1], b)), false),
        ];
        let mut fused = matmul_model(&x_shape, n, &chain);
        // Give the bias distinct values per column (chain links carry one value each).
        let mut proto = pb::ModelProto::decode(&fused[..]).expect("decode");
        proto.graph.as_mut().expect("graph").initializer[1].float_data = bias.clone();
        fused = proto.encode_to_vec();
        assert_eq!(
            fused_steps(&fused),
            Some(vec![
                EpilogueStep::Activation(FusedActivation::Relu),
                EpilogueStep::Affine { scale: s, shift: b },
            ]),
            "{x_shape:?}"
        );
        let plain = matmul_model(&x_shape, n, &[]);
        let x = Tensor::from_vec(&x_shape, values(7, x_shape.iter().product())).expect("x");
        for threads in [1, 2] {
            let product = run(&plain, &x, threads);
            let want: Vec<f32> = product
                .as_slice::<f32>()
                .expect("f32")
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    let v = bias[i % n] + v;
                    let v = if v < 0.0 { 0.0 } else { v };
                    v * s + b
                })
                .collect();
            let got = run(&fused, &x, threads);
            assert_eq!(got.shape(), product.shape());
            assert_bit_identical(&got, &want, &format!("{x_shape:?}, {threads} threads"));
        }
    }
}

#[test]
fn gemm_with_a_row_bias_then_an_activation_fuses() {
    let (m, k, n) = (6, 19, 23);
    let gemm_model = |chain: &[Link<'_>]| {
        let inits = vec![
            initializer("w", &[n, k], values(8, n * k)),
            initializer("c", &[n], values(9, n)),
        ];
        let mut gemm = node("Gemm", &["x", "w", "c"], "t0");
        gemm.attribute = vec![{
            let mut t = int_attribute("transB", &[]);
            t.r#type = pb::attribute_proto::AttributeType::Int as i32;
            t.i = 1;
            t
        }];
        chain_model(gemm, inits, &[m, k], vec![m, n], chain)
    };
    let fused = gemm_model(&[("Relu", None, false)]);
    assert_eq!(
        fused_steps(&fused),
        Some(vec![EpilogueStep::Activation(FusedActivation::Relu)])
    );
    let x = Tensor::from_vec(&[m, k], values(10, m * k)).expect("x");
    let want: Vec<f32> = run(&gemm_model(&[]), &x, 1)
        .as_slice::<f32>()
        .expect("f32")
        .iter()
        .map(|&v| if v < 0.0 { 0.0 } else { v })
        .collect();
    assert_bit_identical(&run(&fused, &x, 2), &want, "Gemm + Relu");
}

#[test]
fn matmul_bias_that_is_not_a_row_stays_separate() {
    // A bias per row ([M, 1]) is not a row bias: it stays an `Add`.
    let per_row = matmul_model(&[4, 8], 5, &[("Add", Some((vec![4, 1], 1.0)), false)]);
    assert_eq!(fused_steps(&per_row), None);
    let model = Model::from_bytes(&per_row).expect("loads");
    assert_eq!(model.graph().nodes.len(), 2);
}
