//! The test models, written as ONNX protobuf in memory, and running them.

use mote::ir::ops::nn::EpilogueStep;
use mote::ir::ops::transformer::TransformerOp;
use mote::ir::ops::NnOp;
use mote::ir::Op;
use mote::{Model, SessionOptions, Tensor};
use prost::Message;
use tract_onnx::pb;

/// A value's type: f32 of `shape`.
pub(crate) fn f32_type(name: &str, shape: &[usize]) -> pb::ValueInfoProto {
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

pub(crate) fn initializer(name: &str, shape: &[usize], values: Vec<f32>) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: shape.iter().map(|&d| d as i64).collect(),
        data_type: 1,
        float_data: values,
        ..Default::default()
    }
}

pub(crate) fn int_attribute(name: &str, ints: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::Ints as i32,
        ints: ints.to_vec(),
        ..Default::default()
    }
}

pub(crate) fn node(op: &str, inputs: &[&str], output: &str) -> pb::NodeProto {
    pb::NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        name: format!("{op}_{output}"),
        op_type: op.into(),
        ..Default::default()
    }
}

/// Deterministic values in about [-1, 1].
pub(crate) fn values(seed: u32, n: usize) -> Vec<f32> {
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

/// One link of an element-wise chain: `(op, constant operand (shape, value), constant on the
/// left?)`; no constant for a unary op.
pub(crate) type Link<'a> = (&'a str, Option<(Vec<usize>, f32)>, bool);

/// `x -> first (writing "t0") -> chain... -> y`, where `first` yields `first_shape`.
pub(crate) fn chain_model(
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

pub(crate) fn run(bytes: &[u8], input: &Tensor, threads: usize) -> Tensor {
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
pub(crate) fn fused_steps(bytes: &[u8]) -> Option<Vec<EpilogueStep>> {
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
pub(crate) fn assert_bit_identical(got: &Tensor, want: &[f32], what: &str) {
    let got = got.as_slice::<f32>().expect("f32");
    assert_eq!(got.len(), want.len(), "{what}");
    let differ = got
        .iter()
        .zip(want)
        .filter(|(g, w)| g.to_bits() != w.to_bits())
        .count();
    assert_eq!(differ, 0, "{what}: {differ} values differ");
}
