//! Bad input gets a clear error, never a panic: malformed models, unsupported ops, opsets that
//! are too new, wrong input names, shapes and dtypes.

mod common;

use mote::{DType, ErrorKind, Model, SessionOptions, Tensor};
use prost::Message;
use tract_onnx::pb;

fn demo_model_bytes() -> Vec<u8> {
    std::fs::read(common::repo_root().join("assets/models/digits_mlp.onnx")).expect("demo model")
}

/// A one-node model `y = OP(x)` over f32 [2, 3].
fn one_node_model(op_type: &str, opset: i64) -> Vec<u8> {
    let tensor_type = |name: &str| pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: 1,
                shape: Some(pb::TensorShapeProto {
                    dim: [2, 3]
                        .iter()
                        .map(|&d| pb::tensor_shape_proto::Dimension {
                            value: Some(pb::tensor_shape_proto::dimension::Value::DimValue(d)),
                            ..Default::default()
                        })
                        .collect(),
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    };
    let model = pb::ModelProto {
        ir_version: 8,
        opset_import: vec![pb::OperatorSetIdProto {
            domain: String::new(),
            version: opset,
        }],
        graph: Some(pb::GraphProto {
            node: vec![pb::NodeProto {
                input: vec!["x".into()],
                output: vec!["y".into()],
                name: "the_node".into(),
                op_type: op_type.into(),
                ..Default::default()
            }],
            input: vec![tensor_type("x")],
            output: vec![tensor_type("y")],
            ..Default::default()
        }),
        ..Default::default()
    };
    model.encode_to_vec()
}

#[test]
fn garbage_and_truncated_models_are_invalid() {
    let bytes = demo_model_bytes();
    for cut in [0, 1, 7, 100, bytes.len() / 2, bytes.len() - 1] {
        let err = Model::from_bytes(&bytes[..cut]).err();
        // A prefix can happen to be a valid (smaller) protobuf; then it must still load or
        // fail cleanly. What it must never do is panic (this test would abort).
        if let Some(e) = err {
            assert!(!e.to_string().is_empty());
        }
    }
    let err = Model::from_bytes(b"\xff\xfe\xfd garbage").unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::InvalidModel, "{err}");
}

#[test]
fn every_single_byte_corruption_fails_cleanly() {
    // Flip bytes all over the model: loading and running must never panic.
    let bytes = demo_model_bytes();
    let x = Tensor::from_vec(&[1, 64], vec![1.0f32; 64]).unwrap();
    for pos in (0..bytes.len()).step_by(97) {
        let mut corrupt = bytes.clone();
        corrupt[pos] ^= 0x5a;
        if let Ok(model) = Model::from_bytes(&corrupt) {
            if let Ok(mut s) = model.session(SessionOptions::default()) {
                let _ = s.run_ordered(&[&x]);
            }
        }
    }
}

#[test]
fn unknown_op_names_op_node_and_opset() {
    let err = Model::from_bytes(&one_node_model("NoSuchOp", 17)).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err.kind(), ErrorKind::UnsupportedOp { .. }),
        "{text}"
    );
    assert!(
        text.contains("NoSuchOp") && text.contains("the_node") && text.contains("opset 17"),
        "{text}"
    );
}

#[test]
fn too_new_opset_is_refused() {
    let err = Model::from_bytes(&one_node_model("Relu", mote::onnx::MAX_OPSET + 1)).unwrap_err();
    assert!(err.to_string().contains("opset"), "{err}");
}

#[test]
fn wrong_inputs_are_argument_shape_or_dtype_errors() {
    let model = Model::from_bytes(&one_node_model("Relu", 17)).unwrap();
    let mut s = model.session(SessionOptions::default()).unwrap();
    let good = Tensor::from_vec(&[2, 3], vec![1.0f32; 6]).unwrap();
    let wrong_shape = Tensor::from_vec(&[3, 2], vec![1.0f32; 6]).unwrap();
    let wrong_dtype = Tensor::from_vec(&[2, 3], vec![1i64; 6]).unwrap();
    assert_eq!(
        s.run(&[("nope", &good)]).unwrap_err().kind(),
        &ErrorKind::InvalidArgument
    );
    assert_eq!(s.run(&[]).unwrap_err().kind(), &ErrorKind::InvalidArgument);
    assert_eq!(
        s.run(&[("x", &wrong_shape)]).unwrap_err().kind(),
        &ErrorKind::ShapeMismatch
    );
    assert_eq!(
        s.run(&[("x", &wrong_dtype)]).unwrap_err().kind(),
        &ErrorKind::DTypeMismatch
    );
    assert_eq!(
        s.run(&[("x", &good), ("x", &good)]).unwrap_err().kind(),
        &ErrorKind::InvalidArgument
    );
    assert_eq!(s.run(&[("x", &good)]).unwrap()[0].1.dtype(), DType::F32);
}

#[test]
fn zero_threads_is_an_argument_error() {
    let model = Model::from_bytes(&one_node_model("Relu", 17)).unwrap();
    let err = model
        .session(SessionOptions {
            threads: 0,
            ..Default::default()
        })
        .err()
        .unwrap();
    assert_eq!(err.kind(), &ErrorKind::InvalidArgument);
}
