//! Chains after a conv (direct, depthwise and im2col paths) and affine ops after a transposed
//! conv.

use crate::onnx::*;
use mote::ir::ops::nn::{EpilogueStep, FusedActivation};
use mote::{Model, Tensor};
use prost::Message;
use tract_onnx::pb;

/// A conv layer to put in front of the chain.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConvCase {
    channels: usize,
    out_channels: usize,
    group: usize,
    kernel: usize,
    dilation: usize,
    size: usize,
}

impl ConvCase {
    fn output_shape(&self) -> Vec<usize> {
        let reach = self.dilation * (self.kernel - 1);
        let side = self.size + 2 * (self.kernel / 2) - reach;
        vec![1, self.out_channels, side, side]
    }
}

/// `x -> Conv -> chain... -> y`.
fn model(conv: ConvCase, chain: &[Link<'_>]) -> Vec<u8> {
    let w_shape = [
        conv.out_channels,
        conv.channels / conv.group,
        conv.kernel,
        conv.kernel,
    ];
    let inits = vec![
        initializer("w", &w_shape, values(1, w_shape.iter().product())),
        initializer("b", &[conv.out_channels], values(2, conv.out_channels)),
    ];
    let mut conv_node = node("Conv", &["x", "w", "b"], "t0");
    let pad = (conv.kernel / 2) as i64;
    conv_node.attribute = vec![
        int_attribute("pads", &[pad; 4]),
        int_attribute("dilations", &[conv.dilation as i64; 2]),
        {
            let mut g = int_attribute("group", &[]);
            g.r#type = pb::attribute_proto::AttributeType::Int as i32;
            g.i = conv.group as i64;
            g
        },
    ];
    let x_shape = [1, conv.channels, conv.size, conv.size];
    chain_model(conv_node, inits, &x_shape, conv.output_shape(), chain)
}

/// The conv shapes of the three CPU paths: the direct kernel (where the CPU has one), the
/// depthwise kernels, and the im2col GEMM (dilated).
const CONVS: [ConvCase; 3] = [
    ConvCase {
        channels: 5,
        out_channels: 17,
        group: 1,
        kernel: 3,
        dilation: 1,
        size: 19,
    },
    ConvCase {
        channels: 8,
        out_channels: 8,
        group: 8,
        kernel: 3,
        dilation: 1,
        size: 17,
    },
    ConvCase {
        channels: 3,
        out_channels: 9,
        group: 1,
        kernel: 3,
        dilation: 2,
        size: 15,
    },
];

#[test]
fn scalar_affine_after_an_activation_fuses_and_rounds_as_the_ops_did() {
    let (s, b, c) = (-1.375f32, 0.3125f32, 0.71f32);
    let chain = [
        ("Relu", None, false),
        ("Mul", Some((vec![], s)), false),
        ("Add", Some((vec![1, 1, 1, 1], b)), true),
        ("Sub", Some((vec![1], c)), false),
        ("Sub", Some((vec![], c)), true),
    ];
    for conv in CONVS {
        let fused = model(conv, &chain);
        let steps = fused_steps(&fused).unwrap_or_else(|| panic!("{conv:?}: not one FusedConv"));
        assert_eq!(
            steps,
            vec![
                EpilogueStep::Activation(FusedActivation::Relu),
                EpilogueStep::Affine { scale: s, shift: b },
                EpilogueStep::Affine {
                    scale: 1.0,
                    shift: -c
                },
                EpilogueStep::Affine {
                    scale: -1.0,
                    shift: c
                },
            ],
            "{conv:?}"
        );
        let plain = model(conv, &[]);
        let x = Tensor::from_vec(
            &[1, conv.channels, conv.size, conv.size],
            values(3, conv.channels * conv.size * conv.size),
        )
        .expect("input");
        for threads in [1, 2] {
            let conv_out = run(&plain, &x, threads);
            let want: Vec<f32> = conv_out
                .as_slice::<f32>()
                .expect("f32")
                .iter()
                .map(|&v| {
                    let v = if v < 0.0 { 0.0 } else { v };
                    let v = v * s;
                    let v = b + v;
                    let v = v - c;
                    c - v
                })
                .collect();
            let got = run(&fused, &x, threads);
            let got = got.as_slice::<f32>().expect("f32");
            let differ = got
                .iter()
                .zip(&want)
                .filter(|(g, w)| g.to_bits() != w.to_bits())
                .count();
            assert_eq!(
                differ, 0,
                "{conv:?}, {threads} threads: {differ} values differ"
            );
        }
    }
}

#[test]
fn constants_that_are_not_scalars_or_raise_the_rank_stay_separate() {
    let conv = CONVS[0];
    // Per-channel after an activation: not a scalar step.
    let per_channel = model(
        conv,
        &[
            ("Relu", None, false),
            ("Mul", Some((vec![1, conv.out_channels, 1, 1], 2.0)), false),
        ],
    );
    assert_eq!(fused_steps(&per_channel), None);
    // A scalar that raises the rank: not an affine step (an `Add` of it may still join as a
    // broadcasting residual, which the backend adds after the conv).
    let rank_five = model(
        conv,
        &[
            ("Relu", None, false),
            ("Add", Some((vec![1, 1, 1, 1, 1], 2.0)), false),
        ],
    );
    let steps = fused_steps(&rank_five).unwrap_or_default();
    assert!(
        !steps
            .iter()
            .any(|s| matches!(s, EpilogueStep::Affine { .. })),
        "{steps:?}"
    );
    let x = Tensor::from_vec(
        &[1, conv.channels, conv.size, conv.size],
        values(4, conv.channels * conv.size * conv.size),
    )
    .expect("input");
    let y = run(&rank_five, &x, 1);
    let mut want_shape = vec![1];
    want_shape.extend(conv.output_shape());
    assert_eq!(y.shape(), &want_shape[..]);
    let conv_out = run(&model(conv, &[]), &x, 1);
    let want: Vec<f32> = conv_out
        .as_slice::<f32>()
        .expect("f32")
        .iter()
        .map(|&v| if v < 0.0 { 2.0 } else { v + 2.0 })
        .collect();
    assert_eq!(y.as_slice::<f32>().expect("f32"), &want[..]);
    // A Div by a scalar is not exact as a product, so it is not fused either.
    let div = model(
        conv,
        &[("Relu", None, false), ("Div", Some((vec![], 3.0)), false)],
    );
    assert_eq!(fused_steps(&div), None);
}

#[test]
fn affine_ops_after_a_transposed_conv_fold_into_its_weights() {
    // (in channels, out channels per group, group, kernel, stride, pad): PP-OCR det's head
    // (kernel 2, stride 2), overlapping windows with padding, and groups.
    for (c_in, per_group, group, kernel, stride, pad) in
        [(6, 5, 1, 2, 2, 0), (4, 3, 2, 3, 2, 1), (6, 2, 3, 3, 1, 1)]
    {
        let c_out = per_group * group;
        let size = 7;
        let w_shape = [c_in, per_group, kernel, kernel];
        let ones = |name: &str, v: Vec<f32>| initializer(name, &[c_out], v);
        let with_tail = |tail: bool| {
            let mut inits = vec![
                initializer("w", &w_shape, values(12, w_shape.iter().product())),
                initializer("b", &[c_out], values(13, c_out)),
            ];
            let mut ct = node("ConvTranspose", &["x", "w", "b"], "t0");
            ct.attribute = vec![
                int_attribute("strides", &[stride; 2]),
                int_attribute("pads", &[pad; 4]),
                {
                    let mut g = int_attribute("group", &[]);
                    g.r#type = pb::attribute_proto::AttributeType::Int as i32;
                    g.i = group as i64;
                    g
                },
            ];
            let side = (size - 1) * stride as usize + kernel - 2 * pad as usize;
            let mut nodes = vec![ct];
            if tail {
                inits.push(initializer("add", &[1, c_out, 1, 1], values(14, c_out)));
                inits.push(ones("gamma", values(15, c_out)));
                inits.push(ones("beta", values(16, c_out)));
                inits.push(ones("mean", values(17, c_out)));
                let var = values(18, c_out).iter().map(|v| v.abs() + 0.5).collect();
                inits.push(ones("var", var));
                nodes.push(node("Add", &["t0", "add"], "t1"));
                nodes.push(node(
                    "BatchNormalization",
                    &["t1", "gamma", "beta", "mean", "var"],
                    "t2",
                ));
            }
            nodes.last_mut().expect("a node").output = vec!["y".into()];
            pb::ModelProto {
                ir_version: 8,
                opset_import: vec![pb::OperatorSetIdProto {
                    domain: String::new(),
                    version: 17,
                }],
                graph: Some(pb::GraphProto {
                    node: nodes,
                    initializer: inits,
                    input: vec![f32_type("x", &[1, c_in, size, size])],
                    output: vec![f32_type("y", &[1, c_out, side, side])],
                    ..Default::default()
                }),
                ..Default::default()
            }
            .encode_to_vec()
        };
        let folded = with_tail(true);
        let model = Model::from_bytes(&folded).expect("loads");
        assert_eq!(model.graph().nodes.len(), 1, "group {group}: not folded");
        let x =
            Tensor::from_vec(&[1, c_in, size, size], values(19, c_in * size * size)).expect("x");
        let plain = run(&with_tail(false), &x, 1);
        let plane = plain.shape()[2] * plain.shape()[3];
        let (add, gamma, beta, mean) = (
            values(14, c_out),
            values(15, c_out),
            values(16, c_out),
            values(17, c_out),
        );
        let var: Vec<f32> = values(18, c_out).iter().map(|v| v.abs() + 0.5).collect();
        let want: Vec<f64> = plain
            .as_slice::<f32>()
            .expect("f32")
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let o = i / plane;
                let t = v as f64 + add[o] as f64;
                (t - mean[o] as f64) / (var[o] as f64 + 1e-5).sqrt() * gamma[o] as f64
                    + beta[o] as f64
            })
            .collect();
        let got = run(&folded, &x, 2);
        for (i, (g, w)) in got
            .as_slice::<f32>()
            .expect("f32")
            .iter()
            .zip(&want)
            .enumerate()
        {
            assert!(
                (*g as f64 - w).abs() <= 1e-5 * (1.0 + w.abs()),
                "group {group}, element {i}: {g} vs {w}"
            );
        }
    }
}
