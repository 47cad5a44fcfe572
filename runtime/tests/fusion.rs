//! Fusion passes, end to end: a conv followed by an element-wise chain runs as one node, and
//! gives bit-for-bit what the unfused ops give (the fused steps round exactly as the ops did).

use mote::ir::ops::nn::{EpilogueStep, FusedActivation};
use mote::ir::ops::NnOp;
use mote::ir::Op;
use mote::{Model, SessionOptions, Tensor};
use prost::Message;
use tract_onnx::pb;

/// A value's type: f32 of `shape`.
fn f32_type(name: &str, shape: &[usize]) -> pb::ValueInfoProto {
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: 1,
                shape: Some(pb::TensorShapeProto {
                    dim: shape
                        .iter()
                        .map(|&d| pb::tensor_shape_proto::Dimension {
                            value: Some(pb::tensor_shape_proto::dimension::Value::DimValue(
                                d as i64,
                            )),
                            ..Default::default()
                        })
                        .collect(),
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn initializer(name: &str, shape: &[usize], values: Vec<f32>) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: shape.iter().map(|&d| d as i64).collect(),
        data_type: 1,
        float_data: values,
        ..Default::default()
    }
}

fn int_attribute(name: &str, ints: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::Ints as i32,
        ints: ints.to_vec(),
        ..Default::default()
    }
}

fn node(op: &str, inputs: &[&str], output: &str) -> pb::NodeProto {
    pb::NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        name: format!("{op}_{output}"),
        op_type: op.into(),
        ..Default::default()
    }
}

/// Deterministic values in about [-1, 1].
fn values(seed: u32, n: usize) -> Vec<f32> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state % 2001) as f32 / 1000.0 - 1.0
        })
        .collect()
}

/// A conv layer to put in front of the chain.
#[derive(Clone, Copy, Debug)]
struct ConvCase {
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

/// `x -> Conv -> chain... -> y`, where each chain link is `(op, constant operand, constant
/// on the left?)` (`None`: a unary op).
fn model(conv: ConvCase, chain: &[(&str, Option<(Vec<usize>, f32)>, bool)]) -> Vec<u8> {
    let w_shape = [
        conv.out_channels,
        conv.channels / conv.group,
        conv.kernel,
        conv.kernel,
    ];
    let mut inits = vec![
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
    let mut nodes = vec![conv_node];
    for (i, (op, constant, left)) in chain.iter().enumerate() {
        let (input, output) = (format!("t{i}"), format!("t{}", i + 1));
        let n = match constant {
            None => node(op, &[&input], &output),
            Some((shape, value)) => {
                let c = format!("c{i}");
                inits.push(initializer(&c, shape, vec![*value; shape.iter().product()]));
                if *left {
                    node(op, &[&c, &input], &output)
                } else {
                    node(op, &[&input, &c], &output)
                }
            }
        };
        nodes.push(n);
    }
    let mut y_shape = conv.output_shape();
    for (_, constant, _) in chain {
        if let Some((shape, _)) = constant {
            while y_shape.len() < shape.len() {
                y_shape.insert(0, 1);
            }
        }
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
            input: vec![f32_type("x", &[1, conv.channels, conv.size, conv.size])],
            output: vec![f32_type("y", &y_shape)],
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

fn run(bytes: &[u8], input: &Tensor, threads: usize) -> Tensor {
    let model = Model::from_bytes(bytes).expect("model loads");
    let mut session = model
        .session(SessionOptions {
            threads,
            ..Default::default()
        })
        .expect("session");
    session.run_ordered(&[input]).expect("runs").remove(0)
}

/// The epilogue steps of the model's single `FusedConv`, or `None` if it has other nodes.
fn fused_steps(bytes: &[u8]) -> Option<Vec<EpilogueStep>> {
    let model = Model::from_bytes(bytes).expect("model loads");
    match model.graph().nodes.as_slice() {
        [only] => match &only.op {
            Op::Nn(NnOp::FusedConv(f)) => Some(f.steps.clone()),
            _ => None,
        },
        _ => None,
    }
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
