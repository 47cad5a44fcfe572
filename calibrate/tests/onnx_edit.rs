//! The ONNX layer: models survive a decode/encode round trip, and the opset upgrade keeps
//! results exactly (onnxruntime runs the source at opset 11 and the upgraded model at 13).

mod common;

use calibrate::onnx::{self, graph, pb, tensor, upgrade};
use common::*;
use mote::Tensor;

#[test]
fn round_trip_keeps_everything() {
    let path = repo_root().join("assets/models/digits_mlp.onnx");
    let bytes = std::fs::read(&path).unwrap();
    let m = onnx::decode(&bytes).unwrap();
    let again = onnx::decode(&onnx::encode(&m)).unwrap();
    assert_eq!(m, again);
    assert_eq!(m.ir_version, 8);
    assert_eq!(onnx::opset(&m), 17);
    let dir = scratch("roundtrip");
    onnx::save(&m, dir.join("m.onnx")).unwrap();
    assert_eq!(onnx::load(dir.join("m.onnx")).unwrap(), m);
    assert!(onnx::decode(b"not a model").is_err());
    assert!(matches!(
        onnx::load("/nonexistent.onnx"),
        Err(calibrate::Error::Io { .. })
    ));
}

fn value_info(name: &str, dims: &[i64]) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{dimension::Value, Dimension};
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: tensor::FLOAT,
                shape: Some(pb::TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|&d| Dimension {
                            value: Some(if d < 0 {
                                Value::DimParam("batch".into())
                            } else {
                                Value::DimValue(d)
                            }),
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

/// An opset-11 model using every op whose form changed by opset 13, with a Constant node.
fn opset11_model() -> pb::ModelProto {
    let n = |op: &str, i: &[&str], o: &[&str], a: Vec<pb::AttributeProto>| {
        graph::node(op, &format!("{op}_{}", o[0]), i, o, a)
    };
    let mut constant = n("Constant", &[], &["c"], vec![]);
    constant.attribute.push(pb::AttributeProto {
        name: "value".into(),
        r#type: pb::attribute_proto::AttributeType::Tensor as i32,
        t: Some(tensor::from_f32("", &[1], &[0.5])),
        ..Default::default()
    });
    let nodes = vec![
        // Consumers before producers: topo_sort must fix the order.
        n(
            "Softmax",
            &["xc"],
            &["softmax_mid"],
            vec![graph::int_attr("axis", 1)],
        ),
        constant,
        n("Mul", &["x", "c"], &["xc"], vec![]),
        n(
            "Softmax",
            &["x"],
            &["softmax_last"],
            vec![graph::int_attr("axis", 2)],
        ),
        n(
            "Unsqueeze",
            &["x"],
            &["u"],
            vec![graph::ints_attr("axes", &[0])],
        ),
        n(
            "Squeeze",
            &["u"],
            &["squeezed"],
            vec![graph::ints_attr("axes", &[0])],
        ),
        n(
            "Split",
            &["x"],
            &["s1", "s2"],
            vec![
                graph::int_attr("axis", 1),
                graph::ints_attr("split", &[1, 2]),
            ],
        ),
        n(
            "ReduceSum",
            &["x"],
            &["rsum"],
            vec![
                graph::ints_attr("axes", &[2]),
                graph::int_attr("keepdims", 1),
            ],
        ),
    ];
    pb::ModelProto {
        ir_version: 6,
        opset_import: vec![pb::OperatorSetIdProto {
            domain: String::new(),
            version: 11,
        }],
        graph: Some(pb::GraphProto {
            name: "g".into(),
            node: nodes,
            input: vec![value_info("x", &[-1, 3, 4])],
            output: [
                "softmax_mid",
                "softmax_last",
                "squeezed",
                "s1",
                "s2",
                "rsum",
            ]
            .iter()
            .map(|o| pb::ValueInfoProto {
                name: o.to_string(),
                ..Default::default()
            })
            .collect(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn upgrade_to_13_keeps_results() {
    let Some(py) = python() else { return };
    let dir = scratch("upgrade");
    let mut src = opset11_model();
    graph::topo_sort(onnx::graph_mut(&mut src).unwrap()).unwrap();
    let mut up = src.clone();
    assert!(upgrade::upgrade(&mut up, 13).unwrap());
    assert_eq!(onnx::opset(&up), 13);
    assert_eq!(up.ir_version, 6);
    assert!(!upgrade::upgrade(&mut up, 13).unwrap(), "already at 13");
    onnx::save(&src, dir.join("src.onnx")).unwrap();
    onnx::save(&up, dir.join("up.onnx")).unwrap();
    let values: Vec<f32> = (0..24)
        .map(|i| ((i * 37 % 11) as f32 - 5.0) * 0.3)
        .collect();
    let x = Tensor::from_vec(&[2, 3, 4], values).unwrap();
    let a = ort_run(&py, &dir.join("src.onnx"), &[("x", &x)], &dir.join("a"));
    let b = ort_run(&py, &dir.join("up.onnx"), &[("x", &x)], &dir.join("b"));
    assert_eq!(a.io["inputs"], b.io["inputs"]);
    assert_eq!(a.outputs.len(), b.outputs.len());
    for (i, (p, q)) in a.outputs.iter().zip(&b.outputs).enumerate() {
        assert_eq!(p.shape(), q.shape(), "output {i}");
        let (p, q) = (p.as_slice::<f32>().unwrap(), q.as_slice::<f32>().unwrap());
        for (u, v) in p.iter().zip(q) {
            assert!((u - v).abs() <= 1e-6, "output {i}: {u} vs {v}");
        }
    }
    // Mote reads the upgraded model too.
    let m = mote_run(&onnx::encode(&up), &[("x", &x)]);
    assert_eq!(m.len(), 6);
}

#[test]
fn hoisting_constants_and_sorting() {
    let mut m = opset11_model();
    let g = onnx::graph_mut(&mut m).unwrap();
    assert_eq!(graph::hoist_constants(g), 1);
    assert!(graph::initializer(g, "c").is_some());
    graph::topo_sort(g).unwrap();
    let pos = |o: &str| {
        g.node
            .iter()
            .position(|n| n.output.iter().any(|x| x == o))
            .unwrap()
    };
    assert!(pos("xc") < pos("softmax_mid"));
    // A cycle is an error, not a hang.
    g.node[0].input = vec![g.node[1].output[0].clone()];
    g.node[1].input = vec![g.node[0].output[0].clone()];
    assert!(graph::topo_sort(g).is_err());
    let mut old = opset11_model();
    onnx::set_opset(&mut old, 9);
    assert!(upgrade::upgrade(&mut old, 13).is_err());
}

/// Malformed nodes (no inputs, no outputs) and odd initializers make the writers return an
/// error or leave the node alone, never panic.
#[test]
fn malformed_models_do_not_panic() {
    use calibrate::qdq::{dynamic, quantize_static, QdqOptions};
    use calibrate::table::{CalibrationTable, Method, TensorRange};
    let mut m = opset11_model();
    let g = onnx::graph_mut(&mut m).unwrap();
    for op in [
        "Relu",
        "Conv",
        "Softmax",
        "MatMul",
        "Gemm",
        "BatchNormalization",
        "Squeeze",
        "Mul",
    ] {
        g.node
            .push(graph::node(op, &format!("empty_{op}"), &[], &[], vec![]));
        g.node.push(graph::node(
            op,
            &format!("noout_{op}"),
            &["x", "w"],
            &[],
            vec![],
        ));
    }
    // A weight whose data does not fit its dimensions.
    let mut w = tensor::from_f32("w", &[4, 4], &[1.0; 4]);
    w.dims = vec![4, 4];
    g.initializer.push(w);
    g.node.push(graph::node(
        "MatMul",
        "mm",
        &["x", "w"],
        &["mm_out"],
        vec![],
    ));
    let mut table = CalibrationTable::default();
    for name in ["x", "mm_out", "xc"] {
        table.ranges.insert(
            name.into(),
            TensorRange {
                min: -1.0,
                max: f32::NAN,
                method: Method::Manual,
            },
        );
    }
    let _ = quantize_static(&m, &table, &QdqOptions::default());
    let _ = dynamic::quantize_dynamic(&m, &Default::default());
    let _ = calibrate::fp16::convert(&m, &Default::default());
    let _ = upgrade::upgrade(&mut m.clone(), 13);
    assert!(
        quantize_static(&m, &table, &QdqOptions::default()).is_err(),
        "a NaN range or a short weight is an error"
    );
}
