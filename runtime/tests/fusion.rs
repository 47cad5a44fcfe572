//! Fusion passes, end to end: a conv followed by an element-wise chain runs as one node, and
//! gives bit-for-bit what the unfused ops give (the fused steps round exactly as the ops did).

use mote::ir::ops::nn::{EpilogueStep, FusedActivation};
use mote::ir::ops::transformer::TransformerOp;
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

/// One link of an element-wise chain: `(op, constant operand (shape, value), constant on the
/// left?)`; no constant for a unary op.
type Link<'a> = (&'a str, Option<(Vec<usize>, f32)>, bool);

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

/// `x -> first (writing "t0") -> chain... -> y`, where `first` yields `first_shape`.
fn chain_model(
    first: pb::NodeProto,
    mut inits: Vec<pb::TensorProto>,
    x_shape: &[usize],
    first_shape: Vec<usize>,
    chain: &[Link<'_>],
) -> Vec<u8> {
    let mut nodes = vec![first];
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
    let mut y_shape = first_shape;
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
            input: vec![f32_type("x", x_shape)],
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

/// The epilogue steps of the model's single `FusedConv` or `FusedMatMul`, or `None` if it
/// has other nodes.
fn fused_steps(bytes: &[u8]) -> Option<Vec<EpilogueStep>> {
    let model = Model::from_bytes(bytes).expect("model loads");
    match model.graph().nodes.as_slice() {
        [only] => match &only.op {
            Op::Nn(NnOp::FusedConv(f)) => Some(f.steps.clone()),
            Op::Transformer(TransformerOp::FusedMatMul(f)) => Some(f.steps.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// Whether `got` and `want` hold the same bits.
fn assert_bit_identical(got: &Tensor, want: &[f32], what: &str) {
    let got = got.as_slice::<f32>().expect("f32");
    assert_eq!(got.len(), want.len(), "{what}");
    let differ = got
        .iter()
        .zip(want)
        .filter(|(g, w)| g.to_bits() != w.to_bits())
        .count();
    assert_eq!(differ, 0, "{what}: {differ} values differ");
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

/// `x [2, 3, 50] -> chain... -> y`, the first link reading `x`.
fn elementwise_model(chain: &[Link<'_>]) -> Vec<u8> {
    let (first, rest) = chain.split_first().expect("a link");
    let mut inits = Vec::new();
    let first_node = match &first.1 {
        None => node(first.0, &["x"], "t0"),
        Some((shape, value)) => {
            inits.push(initializer(
                "k",
                shape,
                vec![*value; shape.iter().product()],
            ));
            node(first.0, &["x", "k"], "t0")
        }
    };
    chain_model(first_node, inits, &[2, 3, 50], vec![2, 3, 50], rest)
}

fn single_op(bytes: &[u8]) -> Op {
    let model = Model::from_bytes(bytes).expect("model loads");
    match model.graph().nodes.as_slice() {
        [only] => only.op.clone(),
        nodes => panic!("{} nodes", nodes.len()),
    }
}

#[test]
fn elementwise_chains_fuse_into_one_node_and_change_no_bit() {
    use mote::ir::ops::elementwise::ElementwiseOp;
    let chain: Vec<Link<'_>> = vec![
        ("Sigmoid", None, false),
        ("Mul", Some((vec![], 2.5)), false),
        ("Add", Some((vec![1, 1], -1.0)), true),
        ("Tanh", None, false),
        ("Sub", Some((vec![1], 0.125)), false),
    ];
    let fused = elementwise_model(&chain);
    match single_op(&fused) {
        Op::Elementwise(ElementwiseOp::Chain(steps)) => assert_eq!(
            steps,
            vec![
                EpilogueStep::Activation(FusedActivation::Sigmoid),
                EpilogueStep::Affine {
                    scale: 2.5,
                    shift: -1.0
                },
                EpilogueStep::Activation(FusedActivation::Tanh),
                EpilogueStep::Affine {
                    scale: 1.0,
                    shift: -0.125
                },
            ]
        ),
        other => panic!("not a chain: {other:?}"),
    }
    // The unfused reference: each activation alone (a one-op model is never fused), the
    // affine maps as the ops compute them.
    let x = Tensor::from_vec(
        &[2, 3, 50],
        values(11, 300).iter().map(|v| v * 6.0).collect(),
    )
    .expect("x");
    let sigmoid = run(&elementwise_model(&[("Sigmoid", None, false)]), &x, 1);
    let mid: Vec<f32> = sigmoid
        .as_slice::<f32>()
        .expect("f32")
        .iter()
        .map(|&v| -1.0 + v * 2.5)
        .collect();
    let mid = Tensor::from_vec(&[2, 3, 50], mid).expect("mid");
    let tanh = run(&elementwise_model(&[("Tanh", None, false)]), &mid, 1);
    let want: Vec<f32> = tanh
        .as_slice::<f32>()
        .expect("f32")
        .iter()
        .map(|&v| v - 0.125)
        .collect();
    for threads in [1, 2] {
        assert_bit_identical(&run(&fused, &x, threads), &want, "chain");
    }
}

#[test]
fn single_ops_and_branching_values_are_not_chained() {
    use mote::ir::ops::elementwise::ElementwiseOp;
    let single = elementwise_model(&[("Relu", None, false)]);
    assert!(matches!(
        single_op(&single),
        Op::Elementwise(ElementwiseOp::Unary(_))
    ));
    // t0 = Relu(x) is read by Sigmoid and by the final Add: no chain may swallow it.
    let mut proto = pb::ModelProto::decode(
        &elementwise_model(&[("Relu", None, false), ("Sigmoid", None, false)])[..],
    )
    .expect("decode");
    let graph = proto.graph.as_mut().expect("graph");
    graph.node[1].output = vec!["t1".into()];
    graph.node.push(node("Add", &["t0", "t1"], "y"));
    let model = Model::from_bytes(&proto.encode_to_vec()).expect("loads");
    assert_eq!(model.graph().nodes.len(), 3);
    // An f16 graph computes in f32 (passes/half.rs): a Cast in, the two ops as one f32 chain,
    // a Cast back to the declared f16 output.
    let mut proto = pb::ModelProto::decode(
        &elementwise_model(&[("Relu", None, false), ("Sigmoid", None, false)])[..],
    )
    .expect("decode");
    let graph = proto.graph.as_mut().expect("graph");
    for v in graph.input.iter_mut().chain(graph.output.iter_mut()) {
        if let Some(pb::type_proto::Value::TensorType(t)) =
            v.r#type.as_mut().and_then(|t| t.value.as_mut())
        {
            t.elem_type = 10; // FLOAT16
        }
    }
    let f16_model = proto.encode_to_vec();
    let names: Vec<&str> = Model::from_bytes(&f16_model)
        .expect("loads")
        .graph()
        .nodes
        .iter()
        .map(|n| n.op.name())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert_eq!((names[0], names[2]), ("Cast", "Cast"), "{names:?}");
    let x = Tensor::from_vec(&[2, 3, 50], vec![half::f16::from_f32(0.5); 300]).expect("x");
    let y = run(&f16_model, &x, 1);
    assert_eq!(y.dtype(), mote::DType::F16);
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
