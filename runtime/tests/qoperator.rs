//! QOperator models: `QLinearConv` and `QLinearMatMul` whose weights and quantization
//! parameters are constants run as the 8-bit `QConv` / `QMatMul` (packed weights, SIMD
//! kernels). Each case builds the same node twice, once with its parameters as initializers
//! (rewritten) and once with them as graph inputs (left to the reference implementation), and
//! compares the two: the rewrite may only differ where a requantization product falls on a
//! tie, by one step.

mod common;

use common::onnx_proto::{initializer, value_info};
use mote::ir::ops::quant::QuantOp;
use mote::ir::Op;
use mote::{DType, Model, SessionOptions, Tensor};
use prost::Message;
use tract_onnx::pb;

/// One node reading `operands` (name, value; `None` = omitted) and writing `y` of `y_like`'s
/// type. The first operand is always a graph input; the others are initializers when
/// `constant`, graph inputs otherwise.
fn model(
    op: &str,
    attributes: Vec<pb::AttributeProto>,
    operands: &[(&str, Option<&Tensor>)],
    y_like: &Tensor,
    constant: bool,
) -> Vec<u8> {
    let mut inputs = Vec::new();
    let mut initializers = Vec::new();
    for (i, (name, t)) in operands.iter().enumerate() {
        let Some(t) = t else { continue };
        if i == 0 || !constant {
            inputs.push(value_info(name, t.dtype(), t.shape()));
        } else {
            initializers.push(initializer(name, t));
        }
    }
    let node = pb::NodeProto {
        input: operands
            .iter()
            .map(|(name, t)| {
                if t.is_some() {
                    name.to_string()
                } else {
                    String::new()
                }
            })
            .collect(),
        output: vec!["y".into()],
        name: op.into(),
        op_type: op.into(),
        attribute: attributes,
        ..Default::default()
    };
    let graph = pb::GraphProto {
        node: vec![node],
        name: "qoperator".into(),
        input: inputs,
        initializer: initializers,
        output: vec![value_info("y", y_like.dtype(), y_like.shape())],
        ..Default::default()
    };
    pb::ModelProto {
        ir_version: 8,
        opset_import: vec![pb::OperatorSetIdProto {
            domain: String::new(),
            version: 13,
        }],
        graph: Some(graph),
        ..Default::default()
    }
    .encode_to_vec()
}

fn ints(name: &str, v: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::Ints as i32,
        ints: v.to_vec(),
        ..Default::default()
    }
}

fn int(name: &str, v: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::Int as i32,
        i: v,
        ..Default::default()
    }
}

/// A deterministic pseudo-random stream.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }

    /// 8-bit values of `dtype`, spread over the whole range.
    fn bytes(&mut self, dtype: DType, shape: &[usize]) -> Tensor {
        let n = shape.iter().product();
        let raw: Vec<u8> = (0..n).map(|_| self.next() as u8).collect();
        Tensor::from_bytes(dtype, shape, &raw).unwrap()
    }

    fn scales(&mut self, n: usize, base: f32) -> Tensor {
        let v = (0..n)
            .map(|_| base * (0.5 + (self.next() % 1000) as f32 / 1000.0))
            .collect();
        Tensor::from_vec(&[n], v).unwrap()
    }
}

fn scalar(v: f32) -> Tensor {
    Tensor::from_vec(&[], vec![v]).unwrap()
}

fn zero_point(dtype: DType, v: i32) -> Tensor {
    Tensor::from_bytes(dtype, &[], &[v as u8]).unwrap()
}

/// Runs `bytes` on `inputs` (in graph input order).
fn run(bytes: &[u8], inputs: &[&Tensor], threads: usize) -> (Tensor, Vec<Op>) {
    let model = Model::from_bytes(bytes).expect("model loads");
    let ops = model.graph().nodes.iter().map(|n| n.op.clone()).collect();
    let mut session = model
        .session(SessionOptions {
            threads,
            ..Default::default()
        })
        .expect("session");
    (session.run_ordered(inputs).expect("runs").remove(0), ops)
}

/// The rewritten node against the reference: same type and shape, every element within one
/// step, all but a few ties equal.
fn assert_close(got: &Tensor, want: &Tensor, what: &str) {
    assert_eq!(got.dtype(), want.dtype(), "{what}");
    assert_eq!(got.shape(), want.shape(), "{what}");
    let signed = got.dtype() == DType::I8;
    let value = |b: u8| if signed { b as i8 as i32 } else { b as i32 };
    let mut equal = 0;
    for (i, (&g, &w)) in got.bytes().iter().zip(want.bytes()).enumerate() {
        let (g, w) = (value(g), value(w));
        assert!((g - w).abs() <= 1, "{what}: element {i} is {g}, want {w}");
        equal += usize::from(g == w);
    }
    let n = got.bytes().len();
    assert!(
        equal * 1000 >= n * 999,
        "{what}: only {equal} of {n} elements equal"
    );
}

struct ConvCase {
    x_dtype: DType,
    w_dtype: DType,
    x: [usize; 4],
    out_channels: usize,
    kernel: [usize; 2],
    strides: [usize; 2],
    pads: [usize; 4],
    group: usize,
    per_channel: bool,
    bias: bool,
}

fn check_conv(case: &ConvCase, seed: u64) {
    let mut rng = Lcg(seed);
    let c_in = case.x[1];
    let x = rng.bytes(case.x_dtype, &case.x);
    let w_shape = [
        case.out_channels,
        c_in / case.group,
        case.kernel[0],
        case.kernel[1],
    ];
    let w = rng.bytes(case.w_dtype, &w_shape);
    let depth = (c_in / case.group) * case.kernel[0] * case.kernel[1];
    let x_scale = scalar(0.02);
    let x_zp = zero_point(
        case.x_dtype,
        if case.x_dtype == DType::U8 { 131 } else { -3 },
    );
    let w_scale = if case.per_channel {
        rng.scales(case.out_channels, 0.01)
    } else {
        scalar(0.01)
    };
    let w_zp = if case.per_channel {
        let zps = vec![if case.w_dtype == DType::U8 { 128u8 } else { 0 }; case.out_channels];
        Tensor::from_bytes(case.w_dtype, &[case.out_channels], &zps).unwrap()
    } else {
        zero_point(
            case.w_dtype,
            if case.w_dtype == DType::U8 { 120 } else { 2 },
        )
    };
    // An output scale that uses the range: the accumulator's spread is about
    // sqrt(depth) · 128 · 128 steps of x_scale · w_scale.
    let y_scale = scalar(0.02 * 0.01 * 128.0 * 128.0 * (depth as f32).sqrt() / 128.0);
    let y_zp = zero_point(
        case.x_dtype,
        if case.x_dtype == DType::U8 { 125 } else { 4 },
    );
    let bias = case.bias.then(|| {
        let v = (0..case.out_channels)
            .map(|_| (rng.next() % 20001) as i32 - 10000)
            .collect();
        Tensor::from_vec(&[case.out_channels], v).unwrap()
    });
    let operands = [
        ("x", Some(&x)),
        ("x_scale", Some(&x_scale)),
        ("x_zero_point", Some(&x_zp)),
        ("w", Some(&w)),
        ("w_scale", Some(&w_scale)),
        ("w_zero_point", Some(&w_zp)),
        ("y_scale", Some(&y_scale)),
        ("y_zero_point", Some(&y_zp)),
        ("bias", bias.as_ref()),
    ];
    let attributes = vec![
        ints("kernel_shape", &case.kernel.map(|k| k as i64)),
        ints("strides", &case.strides.map(|s| s as i64)),
        ints("pads", &case.pads.map(|p| p as i64)),
        int("group", case.group as i64),
    ];
    let all: Vec<&Tensor> = operands.iter().filter_map(|(_, t)| *t).collect();
    let reference = model("QLinearConv", attributes.clone(), &operands, &x, false);
    let (want, ops) = run(&reference, &all, 1);
    assert!(matches!(ops[..], [Op::Quant(QuantOp::QLinearConv(_))]));
    let rewritten = model("QLinearConv", attributes, &operands, &x, true);
    for threads in [1, 2] {
        let (got, ops) = run(&rewritten, &[&x], threads);
        assert!(
            matches!(ops[..], [Op::Quant(QuantOp::QConv(_))]),
            "not rewritten: {ops:?}"
        );
        let what = format!("conv {:?} threads {threads}", case.x);
        assert_close(&got, &want, &what);
    }
}

#[test]
fn qlinear_conv_with_constant_parameters_runs_as_qconv() {
    let base = ConvCase {
        x_dtype: DType::U8,
        w_dtype: DType::I8,
        x: [1, 8, 9, 11],
        out_channels: 17,
        kernel: [3, 3],
        strides: [1, 1],
        pads: [1, 1, 1, 1],
        group: 1,
        per_channel: true,
        bias: true,
    };
    check_conv(&base, 1);
    check_conv(
        &ConvCase {
            x_dtype: DType::I8,
            per_channel: false,
            bias: false,
            strides: [2, 2],
            pads: [0, 1, 1, 0],
            ..base
        },
        2,
    );
    // Depthwise, as MobileNet-style QOperator models have it.
    check_conv(
        &ConvCase {
            x: [1, 16, 13, 7],
            out_channels: 16,
            group: 16,
            ..base
        },
        3,
    );
    // A pointwise conv with u8 weights and a zero point, batch 2.
    check_conv(
        &ConvCase {
            x: [2, 7, 5, 5],
            w_dtype: DType::U8,
            kernel: [1, 1],
            pads: [0, 0, 0, 0],
            per_channel: false,
            ..base
        },
        4,
    );
}

fn check_matmul(a_shape: &[usize], n: usize, a_dtype: DType, per_column: bool, seed: u64) {
    let mut rng = Lcg(seed);
    let k = *a_shape.last().unwrap();
    let a = rng.bytes(a_dtype, a_shape);
    let b = rng.bytes(DType::I8, &[k, n]);
    let a_scale = scalar(0.03);
    let a_zp = zero_point(a_dtype, if a_dtype == DType::U8 { 127 } else { 0 });
    let b_scale = if per_column {
        rng.scales(n, 0.005)
    } else {
        scalar(0.005)
    };
    let b_zp = if per_column {
        Tensor::from_bytes(DType::I8, &[n], &vec![0; n]).unwrap()
    } else {
        zero_point(DType::I8, 0)
    };
    let y_scale = scalar(0.03 * 0.005 * 128.0 * (k as f32).sqrt());
    let y_zp = zero_point(a_dtype, if a_dtype == DType::U8 { 128 } else { -1 });
    let operands = [
        ("a", Some(&a)),
        ("a_scale", Some(&a_scale)),
        ("a_zero_point", Some(&a_zp)),
        ("b", Some(&b)),
        ("b_scale", Some(&b_scale)),
        ("b_zero_point", Some(&b_zp)),
        ("y_scale", Some(&y_scale)),
        ("y_zero_point", Some(&y_zp)),
    ];
    let mut y_shape = a_shape.to_vec();
    *y_shape.last_mut().unwrap() = n;
    let y_like = Tensor::from_bytes(a_dtype, &y_shape, &vec![0; y_shape.iter().product()]).unwrap();
    let all: Vec<&Tensor> = operands.iter().filter_map(|(_, t)| *t).collect();
    let (want, ops) = run(
        &model("QLinearMatMul", vec![], &operands, &y_like, false),
        &all,
        1,
    );
    assert!(matches!(ops[..], [Op::Quant(QuantOp::QLinearMatMul)]));
    let rewritten = model("QLinearMatMul", vec![], &operands, &y_like, true);
    for threads in [1, 2] {
        let (got, ops) = run(&rewritten, &[&a], threads);
        assert!(
            matches!(ops[..], [Op::Quant(QuantOp::QMatMul(_))]),
            "not rewritten: {ops:?}"
        );
        assert_close(&got, &want, &format!("matmul {a_shape:?} x {n}"));
    }
}

#[test]
fn qlinear_matmul_with_constant_weights_runs_as_qmatmul() {
    check_matmul(&[1, 7], 17, DType::U8, true, 5);
    check_matmul(&[3, 40, 96], 33, DType::U8, false, 6);
    check_matmul(&[255, 17], 1, DType::I8, true, 7);
}
