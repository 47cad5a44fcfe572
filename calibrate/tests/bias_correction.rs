//! Bias correction: the correction of each layer's bias is exactly the mean output error of
//! its quantized weights over the data (checked against Mote running the layer with the
//! dequantized weights, for Convs with strides, dilations, groups, asymmetric and SAME
//! padding, a Gemm and a MatMul + Add), and the quantized model's mean per-channel output
//! error shrinks with it.

mod common;

use calibrate::onnx::{self, graph, pb, tensor};
use calibrate::qdq::{fake_quantize, quantize_static, BiasCorrection, QType, QdqOptions};
use common::*;
use mote::Tensor;

fn vi(name: &str) -> pb::ValueInfoProto {
    pb::ValueInfoProto {
        name: name.into(),
        ..Default::default()
    }
}

fn model_of(nodes: Vec<pb::NodeProto>, inits: Vec<pb::TensorProto>) -> pb::ModelProto {
    pb::ModelProto {
        ir_version: 8,
        opset_import: vec![pb::OperatorSetIdProto {
            domain: String::new(),
            version: 13,
        }],
        graph: Some(pb::GraphProto {
            name: "g".into(),
            node: nodes,
            initializer: inits,
            input: vec![vi("x")],
            output: vec![vi("y")],
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Weights whose first output channel is 100× larger than the others, and whose small
/// channels lean positive: per-tensor quantization then rounds them with a bias that does not
/// average out.
fn lopsided(o: usize, per: usize, seed: u64) -> Vec<f32> {
    let mut w = noise(o * per, seed);
    for (c, chunk) in w.chunks_mut(per).enumerate() {
        let s = if c == 0 { 1.0 } else { 0.01 };
        chunk.iter_mut().for_each(|v| *v = (*v + 0.6) * s);
    }
    w
}

/// Non-negative inputs (post-ReLU-like), mean about 0.5.
fn samples(shape: &[usize], count: usize) -> Vec<Tensor> {
    let n: usize = shape.iter().product();
    (0..count)
        .map(|i| {
            let v = noise(n, 1000 + i as u64).iter().map(|v| v.abs()).collect();
            Tensor::from_vec(shape, v).unwrap()
        })
        .collect()
}

/// The initializer a node reads at input `slot` (zeros when absent).
fn input_values(m: &pb::ModelProto, node: usize, slot: usize, len: usize) -> Vec<f32> {
    let g = onnx::graph_of(m).unwrap();
    match g.node[node].input.get(slot).filter(|s| !s.is_empty()) {
        Some(name) => tensor::to_f32(graph::initializer(g, name).unwrap()).unwrap(),
        None => vec![0.0; len],
    }
}

/// `m` with the weight of node 0 replaced by its dequantized values and every bias zeroed:
/// its output is then `conv(x, Wq)`; with `quantized = false`, `conv(x, W)`.
fn weights_only(m: &pb::ModelProto, per_channel: bool, axis: i64, quantized: bool) -> Vec<u8> {
    let mut m = m.clone();
    let g = onnx::graph_mut(&mut m).unwrap();
    let wname = g.node[0].input[1].clone();
    let t = graph::initializer(g, &wname).unwrap().clone();
    let w = tensor::to_f32(&t).unwrap();
    let w = if quantized {
        fake_quantize(&w, &t.dims, per_channel.then_some(axis), QType::S8, true)
    } else {
        w
    };
    g.initializer.retain(|i| i.name != wname);
    g.initializer.push(tensor::from_f32(&wname, &t.dims, &w));
    for init in g.initializer.iter_mut().filter(|i| i.name.starts_with('b')) {
        let len = tensor::to_f32(init).unwrap().len();
        let dims = init.dims.clone();
        *init = tensor::from_f32(&init.name.clone(), &dims, &vec![0.0; len]);
    }
    onnx::encode(&m)
}

/// Mean over samples and positions of each output channel (`channel_axis` of the output).
fn channel_means(model: &[u8], xs: &[Tensor], channel_axis: usize) -> Vec<f64> {
    let mut sums: Vec<f64> = Vec::new();
    let mut count = 0usize;
    for x in xs {
        let out = &mote_run(model, &[("x", x)])[0].1;
        let shape = out.shape().to_vec();
        let c = shape[channel_axis];
        let inner: usize = shape[channel_axis + 1..].iter().product();
        if sums.is_empty() {
            sums = vec![0.0; c];
        }
        for (k, v) in out.as_slice::<f32>().unwrap().iter().enumerate() {
            sums[(k / inner) % c] += *v as f64;
        }
        count += out.len() / c;
    }
    sums.iter().map(|s| s / count as f64).collect()
}

/// Checks that the corrected bias is `b - E[layer(x; Wq) - layer(x; W)]`.
fn check(
    m: &pb::ModelProto,
    xs: &[Tensor],
    per_channel: bool,
    weight_axis: i64,
    channel_axis: usize,
    bias_node: usize,
    bias_slot: usize,
) {
    let opts = QdqOptions {
        per_channel,
        ..QdqOptions::default()
    };
    let mut bc = BiasCorrection::plan(m, &opts).unwrap();
    assert_eq!(bc.len(), 1);
    for x in xs {
        bc.observe("x", x).unwrap();
    }
    let (corrected, report) = bc.apply(m, &opts).unwrap();
    assert_eq!(report.corrected, 1);
    let eq = channel_means(
        &weights_only(m, per_channel, weight_axis, true),
        xs,
        channel_axis,
    );
    let ef = channel_means(
        &weights_only(m, per_channel, weight_axis, false),
        xs,
        channel_axis,
    );
    let before = input_values(m, bias_node, bias_slot, eq.len());
    let after = input_values(&corrected, bias_node, bias_slot, eq.len());
    let mut largest = 0f64;
    for c in 0..eq.len() {
        let want = before[c] as f64 - (eq[c] - ef[c]);
        largest = largest.max((eq[c] - ef[c]).abs());
        assert!(
            (after[c] as f64 - want).abs() <= 1e-4 * (1.0 + want.abs()),
            "channel {c}: bias {} -> {}, expected {want}",
            before[c],
            after[c]
        );
    }
    assert!(
        largest > 1e-3,
        "the test must have a visible error: {largest}"
    );
    // The same data again gives the same result (determinism).
    let mut again = BiasCorrection::plan(m, &opts).unwrap();
    for x in xs {
        again.observe("x", x).unwrap();
    }
    assert_eq!(again.apply(m, &opts).unwrap().0, corrected);
}

fn conv_model(
    attrs: Vec<pb::AttributeProto>,
    o: usize,
    i_per_group: usize,
    k: usize,
    bias: bool,
) -> pb::ModelProto {
    let w = lopsided(o, i_per_group * k * k, 3);
    let mut inits = vec![tensor::from_f32(
        "w",
        &[o as i64, i_per_group as i64, k as i64, k as i64],
        &w,
    )];
    let mut inputs = vec!["x", "w"];
    if bias {
        inits.push(tensor::from_f32("b", &[o as i64], &noise(o, 9)));
        inputs.push("b");
    }
    model_of(
        vec![graph::node("Conv", "conv", &inputs, &["y"], attrs)],
        inits,
    )
}

#[test]
fn conv_correction_is_the_mean_weight_error() {
    let xs = samples(&[2, 4, 9, 11], 3);
    let cases = vec![
        (vec![graph::ints_attr("pads", &[1, 0, 2, 1])], 6, 4, 3, true),
        (
            vec![
                graph::ints_attr("strides", &[2, 3]),
                graph::ints_attr("dilations", &[2, 1]),
                graph::ints_attr("pads", &[2, 1, 0, 2]),
                graph::int_attr("group", 2),
            ],
            6,
            2,
            3,
            true,
        ),
        (
            vec![
                graph::int_attr("group", 4),
                graph::ints_attr("strides", &[2, 2]),
                pb::AttributeProto {
                    name: "auto_pad".into(),
                    r#type: pb::attribute_proto::AttributeType::String as i32,
                    s: b"SAME_UPPER".to_vec(),
                    ..Default::default()
                },
            ],
            8,
            1,
            3,
            false,
        ),
    ];
    for (attrs, o, ipg, k, bias) in cases {
        let m = conv_model(attrs, o, ipg, k, bias);
        check(&m, &xs, false, 0, 1, 0, 2);
        check(&m, &xs, true, 0, 1, 0, 2);
    }
}

#[test]
fn gemm_and_matmul_corrections_are_the_mean_weight_error() {
    let xs = samples(&[5, 6], 3);
    // Gemm with transB: B is [N=4, K=6].
    let gemm = model_of(
        vec![graph::node(
            "Gemm",
            "gemm",
            &["x", "w", "b"],
            &["y"],
            vec![graph::int_attr("transB", 1)],
        )],
        vec![
            tensor::from_f32("w", &[4, 6], &lopsided(4, 6, 4)),
            tensor::from_f32("b", &[4], &noise(4, 5)),
        ],
    );
    check(&gemm, &xs, false, 0, 1, 0, 2);
    check(&gemm, &xs, true, 0, 1, 0, 2);
    // MatMul by [K=6, N=4] then Add of a [4] bias; lopsided along N.
    let wt = lopsided(4, 6, 6);
    let w: Vec<f32> = (0..24).map(|i| wt[(i % 4) * 6 + i / 4]).collect();
    let matmul = model_of(
        vec![
            graph::node("MatMul", "mm", &["x", "w"], &["mm"], vec![]),
            graph::node("Add", "add", &["b", "mm"], &["y"], vec![]),
        ],
        vec![
            tensor::from_f32("w", &[6, 4], &w),
            tensor::from_f32("b", &[4], &noise(4, 7)),
        ],
    );
    check(&matmul, &xs, false, 1, 1, 1, 0);
    check(&matmul, &xs, true, 1, 1, 1, 0);
}

#[test]
fn corrected_qdq_model_has_smaller_mean_channel_error() {
    let m = conv_model(vec![graph::ints_attr("pads", &[1, 1, 1, 1])], 8, 4, 3, true);
    let calib = samples(&[1, 4, 9, 11], 8);
    let held: Vec<Tensor> = (0..4)
        .map(|i| {
            let v = noise(4 * 99, 5000 + i).iter().map(|v| v.abs()).collect();
            Tensor::from_vec(&[1, 4, 9, 11], v).unwrap()
        })
        .collect();
    let opts = QdqOptions {
        per_channel: false,
        ..QdqOptions::default()
    };
    let feeds: Vec<Vec<(String, Tensor)>> = calib
        .iter()
        .map(|x| vec![("x".to_string(), x.clone())])
        .collect();
    let table = minmax_table(&m, &feeds);
    let mut bc = BiasCorrection::plan(&m, &opts).unwrap();
    for x in &calib {
        bc.observe("x", x).unwrap();
    }
    let (corrected, _) = bc.apply(&m, &opts).unwrap();
    let float = channel_means(&onnx::encode(&m), &held, 1);
    let error = |model: &pb::ModelProto| -> f64 {
        let (q, _) = quantize_static(model, &table, &opts).unwrap();
        let means = channel_means(&onnx::encode(&q), &held, 1);
        means
            .iter()
            .zip(&float)
            .map(|(a, b)| (a - b).abs())
            .sum::<f64>()
            / means.len() as f64
    };
    let (plain, fixed) = (error(&m), error(&corrected));
    eprintln!("mean |per-channel output error|: {plain:.5} without, {fixed:.5} with correction");
    assert!(fixed < 0.5 * plain, "{fixed} vs {plain}");
}
