//! Chains of element-wise ops alone, fused into one node.

use crate::onnx::*;
use mote::ir::ops::nn::{EpilogueStep, FusedActivation};
use mote::ir::Op;
use mote::{Model, Tensor};
use prost::Message;
use tract_onnx::pb;

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
