//! Half-precision models run in f32 (`passes/half.rs`): a small conv model written four ways
//! (f32, f16 weights with `Cast`s, f16 inside with f32 I/O as `keep_io_types=True` converters
//! write it, f16 I/O) gives the f32 model's results bit for bit (the f16 I/O one rounded once
//! to f16 at the output), and agrees with a direct f64 evaluation within f16's rounding.

use half::f16;
use mote::ir::ops::quant::QuantOp;
use mote::ir::Op;
use mote::{DType, Model, SessionOptions, Tensor};
use prost::Message;
use tract_onnx::pb;

const F32: i32 = 1;
const F16: i32 = 10;

fn typed(name: &str, elem_type: i32, shape: &[usize]) -> pb::ValueInfoProto {
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type,
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

/// An initializer holding `values` as f32, or as f16 bits when `half` is set.
fn initializer(name: &str, shape: &[usize], values: &[f32], half: bool) -> pb::TensorProto {
    let mut t = pb::TensorProto {
        name: name.into(),
        dims: shape.iter().map(|&d| d as i64).collect(),
        ..Default::default()
    };
    if half {
        t.data_type = F16;
        t.raw_data = values
            .iter()
            .flat_map(|&v| f16::from_f32(v).to_le_bytes())
            .collect();
    } else {
        t.data_type = F32;
        t.float_data = values.to_vec();
    }
    t
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

fn cast(input: &str, output: &str, to: i32) -> pb::NodeProto {
    let mut n = node("Cast", &[input], output);
    n.attribute.push(pb::AttributeProto {
        name: "to".into(),
        r#type: pb::attribute_proto::AttributeType::Int as i32,
        i: to as i64,
        ..Default::default()
    });
    n
}

fn ints(name: &str, ints: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::Ints as i32,
        ints: ints.to_vec(),
        ..Default::default()
    }
}

/// How the model stores and computes its floats.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Precision {
    /// Everything f32 (weights hold f16-representable values, so all four agree).
    F32,
    /// f16 initializers, each `Cast` to f32 before use.
    WeightsOnly,
    /// f32 input and output, `Cast` to f16 after the input and back before the output.
    KeepIo,
    /// f16 input and output.
    HalfIo,
}

const X: [usize; 4] = [1, 3, 6, 7];
const W: [usize; 4] = [4, 3, 3, 3];
const Y: [usize; 4] = [1, 4, 6, 7];

/// Deterministic f16-representable values in about [-1, 1].
fn values(seed: u32, n: usize) -> Vec<f32> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            f16::from_f32((state % 2001) as f32 / 1000.0 - 1.0).to_f32()
        })
        .collect()
}

fn weights() -> (Vec<f32>, Vec<f32>, f32) {
    (values(1, W.iter().product()), values(2, W[0]), 0.75)
}

/// `y = relu(conv(x, w, b, pad 1)) * s`, written at `precision`.
fn model(precision: Precision) -> Vec<u8> {
    let (w, b, s) = weights();
    let half_inside = precision != Precision::F32;
    let mut nodes = Vec::new();
    let inits = vec![
        initializer("w", &W, &w, half_inside),
        initializer("b", &[W[0]], &b, half_inside),
        initializer("s", &[], &[s], half_inside),
    ];
    let (mut wn, mut bn, mut sn, mut xn) = ("w", "b", "s", "x");
    match precision {
        Precision::F32 | Precision::HalfIo => {}
        Precision::WeightsOnly => {
            nodes.push(cast("w", "w32", F32));
            nodes.push(cast("b", "b32", F32));
            nodes.push(cast("s", "s32", F32));
            (wn, bn, sn) = ("w32", "b32", "s32");
        }
        Precision::KeepIo => {
            nodes.push(cast("x", "x16", F16));
            xn = "x16";
        }
    }
    let mut conv = node("Conv", &[xn, wn, bn], "c");
    conv.attribute.push(ints("pads", &[1, 1, 1, 1]));
    nodes.push(conv);
    nodes.push(node("Relu", &["c"], "r"));
    let last = if precision == Precision::KeepIo {
        "m"
    } else {
        "y"
    };
    nodes.push(node("Mul", &["r", sn], last));
    if precision == Precision::KeepIo {
        nodes.push(cast("m", "y", F32));
    }
    let io = if precision == Precision::HalfIo {
        F16
    } else {
        F32
    };
    pb::ModelProto {
        ir_version: 8,
        opset_import: vec![pb::OperatorSetIdProto {
            domain: String::new(),
            version: 17,
        }],
        graph: Some(pb::GraphProto {
            node: nodes,
            initializer: inits,
            input: vec![typed("x", io, &X)],
            output: vec![typed("y", io, &Y)],
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

fn input() -> Vec<f32> {
    values(3, X.iter().product())
}

fn run(model: &Model, x: &Tensor) -> Tensor {
    let mut session = model
        .session(SessionOptions {
            threads: 1,
            ..Default::default()
        })
        .expect("session");
    session.run_ordered(&[x]).expect("runs").remove(0)
}

fn bits(t: &Tensor) -> Vec<u32> {
    t.view()
        .to_f32_vec()
        .unwrap()
        .iter()
        .map(|v| v.to_bits())
        .collect()
}

/// The model as f64 arithmetic straight from its definition.
fn reference() -> Vec<f64> {
    let (w, b, s) = weights();
    let x = input();
    let (c, h, wd) = (X[1], X[2], X[3]);
    let mut y = vec![0f64; Y.iter().product()];
    for o in 0..W[0] {
        for i in 0..h {
            for j in 0..wd {
                let mut acc = b[o] as f64;
                for ci in 0..c {
                    for ki in 0..3 {
                        for kj in 0..3 {
                            let (ii, jj) = (i as i64 + ki as i64 - 1, j as i64 + kj as i64 - 1);
                            if ii < 0 || jj < 0 || ii >= h as i64 || jj >= wd as i64 {
                                continue;
                            }
                            let xv = x[(ci * h + ii as usize) * wd + jj as usize] as f64;
                            let wv = w[((o * c + ci) * 3 + ki) * 3 + kj] as f64;
                            acc += xv * wv;
                        }
                    }
                }
                y[(o * h + i) * wd + j] = acc.max(0.0) * s as f64;
            }
        }
    }
    y
}

/// No value left in the graph is f16 except the graph's own inputs and outputs, and the
/// only `Cast`s are the ones at those boundaries.
fn computes_in_f32(model: &Model) -> bool {
    let g = model.graph();
    let boundary = |v: &mote::ir::ValueId| g.inputs.contains(v) || g.outputs.contains(v);
    let no_f16_constant = g.constants.values().all(|t| t.dtype() != DType::F16);
    let casts_at_boundary = g
        .nodes
        .iter()
        .filter(|n| matches!(n.op, Op::Quant(QuantOp::Cast(_))))
        .all(|n| n.inputs.iter().chain(&n.outputs).flatten().any(boundary));
    let f16_inside = g
        .nodes
        .iter()
        .flat_map(|n| n.inputs.iter().chain(&n.outputs).flatten())
        .any(|v| !boundary(v) && g.values[v.0].dtype == Some(DType::F16));
    no_f16_constant && casts_at_boundary && !f16_inside
}

fn f32_result() -> Tensor {
    let model = Model::from_bytes(&model(Precision::F32)).unwrap();
    run(&model, &Tensor::from_vec(&X, input()).unwrap())
}

#[test]
fn weight_only_f16_matches_f32_bit_for_bit() {
    let model = Model::from_bytes(&model(Precision::WeightsOnly)).unwrap();
    assert!(computes_in_f32(&model));
    let y = run(&model, &Tensor::from_vec(&X, input()).unwrap());
    assert_eq!(y.dtype(), DType::F32);
    assert_eq!(bits(&y), bits(&f32_result()));
}

#[test]
fn f16_model_with_f32_io_matches_f32_bit_for_bit() {
    let model = Model::from_bytes(&model(Precision::KeepIo)).unwrap();
    assert!(computes_in_f32(&model));
    let casts = model
        .graph()
        .nodes
        .iter()
        .filter(|n| matches!(n.op, Op::Quant(QuantOp::Cast(_))))
        .count();
    assert_eq!(casts, 0, "the boundary casts become no-ops and go");
    let y = run(&model, &Tensor::from_vec(&X, input()).unwrap());
    assert_eq!(y.dtype(), DType::F32);
    assert_eq!(bits(&y), bits(&f32_result()));
}

#[test]
fn f16_io_model_rounds_once_at_the_output() {
    let model = Model::from_bytes(&model(Precision::HalfIo)).unwrap();
    assert!(computes_in_f32(&model));
    let x: Vec<f16> = input().iter().map(|&v| f16::from_f32(v)).collect();
    let y = run(&model, &Tensor::from_vec(&X, x).unwrap());
    assert_eq!(y.dtype(), DType::F16);
    let got: Vec<f16> = y.as_slice::<f16>().unwrap().to_vec();
    let want: Vec<f16> = f32_result()
        .view()
        .to_f32_vec()
        .unwrap()
        .iter()
        .map(|&v| f16::from_f32(v))
        .collect();
    assert_eq!(got, want);
    // Against f64 arithmetic: within one f16 rounding (2^-11 relative) plus f32's error.
    for (g, r) in got.iter().zip(reference()) {
        let tolerance = r.abs() * 2f64.powi(-11) + 1e-5;
        assert!((g.to_f64() - r).abs() <= tolerance, "{} vs {r}", g.to_f64());
    }
}

#[test]
fn a_cast_to_f16_at_an_output_rounds_to_f16() {
    // y = f16(x) is observable: it must round (and overflow) as f16 does.
    let xs = [1.0001f32, -2.5e-8, 70000.0, 0.333_333_34, 65519.0];
    let bytes = pb::ModelProto {
        ir_version: 8,
        opset_import: vec![pb::OperatorSetIdProto {
            domain: String::new(),
            version: 17,
        }],
        graph: Some(pb::GraphProto {
            node: vec![
                cast("x", "y", F16),
                node("Add", &["y", "y"], "z16"),
                cast("z16", "z", F32),
            ],
            input: vec![typed("x", F32, &[xs.len()])],
            output: vec![typed("y", F16, &[xs.len()]), typed("z", F32, &[xs.len()])],
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec();
    let model = Model::from_bytes(&bytes).unwrap();
    let mut session = model.session(SessionOptions::default()).unwrap();
    let out = session
        .run_ordered(&[&Tensor::from_vec(&[xs.len()], xs.to_vec()).unwrap()])
        .unwrap();
    let want: Vec<f16> = xs.iter().map(|&v| f16::from_f32(v)).collect();
    assert_eq!(out[0].as_slice::<f16>().unwrap(), want.as_slice());
    // z reads the rounded y (the graph says so), doubled in f32: 2·f16(x), and no overflow
    // of 2·65504 to inf, since the sum itself is computed in f32.
    let z = out[1].view().to_f32_vec().unwrap();
    for (z, y) in z.iter().zip(&want) {
        assert_eq!(z.to_bits(), (2.0 * y.to_f32()).to_bits());
    }
}
