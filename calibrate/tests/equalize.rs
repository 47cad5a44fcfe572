//! Cross-layer equalization: the equalized float model computes what the original computes
//! (both run by Mote), each equalized pair ends with equal per-channel ranges, and pairs
//! joined by a non-homogeneous op (Relu6, HardSigmoid) or a tensor with a second reader are
//! left alone.

mod common;

use calibrate::onnx::{self, equalize, graph, pb, tensor};
use common::*;
use mote::Tensor;

/// A Conv weight `[o, i, k, k]` whose output channels have ranges spread over 1000×, and a
/// bias.
fn conv_init(name: &str, o: usize, i: usize, k: usize, seed: u64) -> Vec<pb::TensorProto> {
    let per = i * k * k;
    let mut w = noise(o * per, seed);
    for (c, chunk) in w.chunks_mut(per).enumerate() {
        let s = 10f32.powf(((c * 7 + seed as usize) % 7) as f32 / 2.0 - 1.5);
        chunk.iter_mut().for_each(|v| *v *= s);
    }
    let b: Vec<f32> = noise(o, seed + 100).iter().map(|v| v * 0.5).collect();
    vec![
        tensor::from_f32(
            &format!("{name}_w"),
            &[o as i64, i as i64, k as i64, k as i64],
            &w,
        ),
        tensor::from_f32(&format!("{name}_b"), &[o as i64], &b),
    ]
}

fn conv(name: &str, input: &str, k: i64, group: i64) -> pb::NodeProto {
    let p = k / 2;
    graph::node(
        "Conv",
        name,
        &[input, &format!("{name}_w"), &format!("{name}_b")],
        &[name],
        vec![
            graph::ints_attr("kernel_shape", &[k, k]),
            graph::ints_attr("pads", &[p, p, p, p]),
            graph::int_attr("group", group),
        ],
    )
}

fn value_info(name: &str) -> pb::ValueInfoProto {
    pb::ValueInfoProto {
        name: name.into(),
        ..Default::default()
    }
}

/// x → a (3→8) → Relu → b (depthwise 8) → Clip(0) → c (8→6, 2 groups) → MaxPool → d (6→8,
/// 1×1) → Relu6 → e (8→4) → HardSigmoid → f (4→4); and a → second reader (a graph output
/// via Identity) only in the `shared` variant.
fn model(shared: bool) -> pb::ModelProto {
    let mut inits = Vec::new();
    for (name, o, i, k, seed) in [
        ("a", 8, 3, 3, 1),
        ("b", 8, 1, 3, 2),
        ("c", 6, 4, 3, 3),
        ("d", 8, 6, 1, 4),
        ("e", 4, 8, 3, 5),
        ("f", 4, 4, 1, 6),
    ] {
        inits.extend(conv_init(name, o, i, k, seed));
    }
    inits.push(tensor::from_f32("zero", &[], &[0.0]));
    inits.push(tensor::from_f32("six", &[], &[6.0]));
    let mut nodes = vec![
        conv("a", "x", 3, 1),
        graph::node("Relu", "ra", &["a"], &["ra"], vec![]),
        conv("b", "ra", 3, 8),
        graph::node("Clip", "rb", &["b", "zero"], &["rb"], vec![]),
        conv("c", "rb", 3, 2),
        graph::node(
            "MaxPool",
            "pc",
            &["c"],
            &["pc"],
            vec![graph::ints_attr("kernel_shape", &[2, 2])],
        ),
        conv("d", "pc", 1, 1),
        graph::node("Clip", "rd", &["d", "zero", "six"], &["rd"], vec![]),
        conv("e", "rd", 3, 1),
        graph::node("HardSigmoid", "re", &["e"], &["re"], vec![]),
        conv("f", "re", 1, 1),
    ];
    let mut outputs = vec![value_info("f")];
    if shared {
        nodes.push(graph::node("Identity", "ia", &["a"], &["a_copy"], vec![]));
        outputs.push(value_info("a_copy"));
    }
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
            input: vec![value_info("x")],
            output: outputs,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn weight_of(m: &pb::ModelProto, conv: &str) -> (Vec<i64>, Vec<f32>, i64) {
    let g = onnx::graph_of(m).unwrap();
    let n = g.node.iter().find(|n| n.name == conv).unwrap();
    let w = graph::initializer(g, &n.input[1]).unwrap();
    (
        w.dims.clone(),
        tensor::to_f32(w).unwrap(),
        graph::attr_i(n, "group", 1),
    )
}

fn run(m: &pb::ModelProto, x: &Tensor) -> Vec<f32> {
    mote_run(&onnx::encode(m), &[("x", x)])[0]
        .1
        .as_slice::<f32>()
        .unwrap()
        .to_vec()
}

#[test]
fn equalized_model_computes_the_same_and_ranges_match() {
    let src = model(false);
    let mut eq = src.clone();
    let report = equalize::equalize(onnx::graph_mut(&mut eq).unwrap()).unwrap();
    // a-b (Relu), b-c (Clip(0)), c-d (MaxPool); not d-e (Relu6) nor e-f (HardSigmoid).
    assert_eq!(report.pairs, 3, "{report:?}");
    assert!(report.sweeps > 1 && report.sweeps <= 32, "{report:?}");
    let mut again = src.clone();
    equalize::equalize(onnx::graph_mut(&mut again).unwrap()).unwrap();
    assert_eq!(onnx::encode(&again), onnx::encode(&eq), "deterministic");

    let x = Tensor::from_vec(&[1, 3, 12, 12], noise(3 * 144, 77)).unwrap();
    let (want, got) = (run(&src, &x), run(&eq, &x));
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    for (a, b) in want.iter().zip(&got) {
        assert!((a - b).abs() <= 1e-4 * scale, "{a} vs {b} (scale {scale})");
    }

    for (first, second) in [("a", "b"), ("b", "c"), ("c", "d")] {
        let (d1, w1, _) = weight_of(&eq, first);
        let (d2, w2, g2) = weight_of(&eq, second);
        let r1 = equalize::output_ranges(&d1, &w1);
        let r2 = equalize::input_ranges(&d2, &w2, g2 as usize);
        for (i, (a, b)) in r1.iter().zip(&r2).enumerate() {
            assert!(
                (a - b).abs() <= 1e-3 * a.max(*b),
                "{first}->{second} channel {i}: {a} vs {b}"
            );
        }
        // Before, they were far apart for some channel.
        let (d1, w1, _) = weight_of(&src, first);
        let (d2, w2, g2) = weight_of(&src, second);
        let r1 = equalize::output_ranges(&d1, &w1);
        let r2 = equalize::input_ranges(&d2, &w2, g2 as usize);
        assert!(r1.iter().zip(&r2).any(|(a, b)| a / b > 2.0 || b / a > 2.0));
    }
    // Untouched across Relu6 and HardSigmoid: e and f keep their weights (d is the second
    // layer of c-d, so its input side changed, but its output channels must not have).
    for name in ["e", "f"] {
        assert_eq!(weight_of(&eq, name), weight_of(&src, name), "{name}");
    }
    let (_, wd0, _) = weight_of(&src, "d");
    let (_, wd1, _) = weight_of(&eq, "d");
    let (r0, r1) = (
        equalize::output_ranges(&[8, 6, 1, 1], &wd0),
        equalize::output_ranges(&[8, 6, 1, 1], &wd1),
    );
    assert_ne!(r0, r1, "d's inputs were scaled, so its output ranges move");
}

#[test]
fn a_tensor_with_another_reader_is_not_equalized_across() {
    let src = model(true);
    let mut eq = src.clone();
    let report = equalize::equalize(onnx::graph_mut(&mut eq).unwrap()).unwrap();
    // a's output is read twice: only b-c and c-d remain.
    assert_eq!(report.pairs, 2, "{report:?}");
    assert_eq!(weight_of(&eq, "a"), weight_of(&src, "a"));
    let x = Tensor::from_vec(&[1, 3, 12, 12], noise(3 * 144, 5)).unwrap();
    let out = |m: &pb::ModelProto| {
        mote_run(&onnx::encode(m), &[("x", &x)])
            .into_iter()
            .map(|(_, t)| t.as_slice::<f32>().unwrap().to_vec())
            .collect::<Vec<_>>()
    };
    let (want, got) = (out(&src), out(&eq));
    for (w, g) in want.iter().zip(&got) {
        let scale = w.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (a, b) in w.iter().zip(g) {
            assert!((a - b).abs() <= 1e-4 * scale, "{a} vs {b}");
        }
    }
}
