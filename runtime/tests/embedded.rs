//! The `.mote` file checked in next to the demo model (`assets/models/digits_mlp.mote`) loads
//! and classifies the demo test split, in every build: with `--no-default-features` (no ONNX
//! import, no tract: the embedded build, run by `.ci/run`) and with the defaults, where it is
//! also compared with the ONNX model. It doubles as the format's compatibility guard: an IR
//! change that alters the `.mote` encoding without bumping `FORMAT_VERSION` breaks this
//! file, and a version bump requires regenerating it:
//!
//!     cargo run --release -p mote-cli -- convert assets/models/digits_mlp.onnx -o assets/models/digits_mlp.mote
//!
//! Deliberately free of `tests/common` and of the `npy` feature, which the embedded build lacks.
//!
//! The embedded build also leaves out the optional op families (features `ops-*`): a model
//! with such an op is refused when a session is created, with an error naming the feature.
//! Likewise for arithmetic in the rare element types (feature `dtypes-extra`).

use mote::ir::ops::elementwise::Binary;
use mote::ir::ops::quant::CastAttrs;
use mote::ir::ops::{ElementwiseOp, QuantOp, ShapeOp, TransformerOp};
use mote::ir::{Dim, Graph, Node, Op, ValueInfo};
use mote::{DType, ErrorKind, Model, SessionOptions, Tensor};
use std::path::PathBuf;

fn asset(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../assets/models")
        .join(name)
}

/// The data of a little-endian, C-order `.npy` file (format 1.0), and its shape.
fn read_npy(name: &str, descr: &str) -> (Vec<usize>, Vec<u8>) {
    let bytes = std::fs::read(asset(name)).unwrap();
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00", "{name}: npy 1.0");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
    assert!(header.contains(&format!("'descr': '{descr}'")), "{header}");
    assert!(header.contains("'fortran_order': False"), "{header}");
    let dims = &header[header.find("'shape': (").unwrap() + 10..];
    let shape = dims[..dims.find(')').unwrap()]
        .split(',')
        .filter(|d| !d.trim().is_empty())
        .map(|d| d.trim().parse().unwrap())
        .collect();
    (shape, bytes[10 + header_len..].to_vec())
}

fn classify(model: &Model) -> (Tensor, f64) {
    let (shape, x) = read_npy("digits_test_x.npy", "<f4");
    let (_, y) = read_npy("digits_test_y.npy", "<i8");
    let x = Tensor::from_bytes(DType::F32, &shape, &x).unwrap();
    let name = model.inputs()[0].name.clone();
    let mut session = model.session(SessionOptions::default()).unwrap();
    let mut out = session.run(&[(name.as_str(), &x)]).unwrap();
    let probabilities = out.remove(0).1;
    let p = probabilities.as_slice::<f32>().unwrap();
    let labels: Vec<i64> = y
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let correct = p
        .chunks_exact(10)
        .zip(&labels)
        .filter(|(row, &label)| {
            let best = (0..10).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
            best as i64 == label
        })
        .count();
    (probabilities, correct as f64 / labels.len() as f64)
}

#[test]
fn checked_in_mote_classifies_the_demo_split() {
    let path = asset("digits_mlp.mote");
    let model = Model::load(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}\nIf FORMAT_VERSION or the IR encoding changed on purpose, regenerate it \
             (see this file's header).",
            path.display()
        )
    });
    assert!(model.graph().constants.values().all(|t| t.is_shared()));
    let (_, accuracy) = classify(&model);
    // The model card's accuracy (438/450): the stored graph is the demo model's.
    assert!(
        (accuracy - 438.0 / 450.0).abs() < 1e-9,
        "accuracy {accuracy}"
    );
}

#[cfg(feature = "onnx")]
#[test]
fn checked_in_mote_matches_the_onnx_model() {
    let (from_mote, _) = classify(&Model::load(asset("digits_mlp.mote")).unwrap());
    let (from_onnx, _) = classify(&Model::load(asset("digits_mlp.onnx")).unwrap());
    let (a, b) = (
        from_mote.as_slice::<f32>().unwrap(),
        from_onnx.as_slice::<f32>().unwrap(),
    );
    // A later change to the passes may change the graph ONNX import produces (and so its
    // rounding) without making the stored file wrong: compare closely, not bit for bit.
    let worst = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(worst <= 1e-5, "probabilities differ by up to {worst}");
}

#[cfg(not(feature = "onnx"))]
#[test]
fn onnx_is_refused_clearly_without_the_feature() {
    let e = Model::load(asset("digits_mlp.onnx")).unwrap_err();
    assert_eq!(*e.kind(), mote::ErrorKind::BackendUnavailable, "{e}");
    assert!(e.to_string().contains("onnx"), "{e}");
}

/// A `.mote` model of one node `name` running `op` on an input `x` of `dtype` and `shape`
/// (read `arity` times), output `y`. Written and read back through the `.mote` format, as an
/// embedded build gets its models.
fn one_node_model(name: &str, op: Op, arity: usize, dtype: DType, shape: &[usize]) -> Model {
    let mut graph = Graph::default();
    let mut x = ValueInfo::named("x");
    x.dtype = Some(dtype);
    x.shape = Some(shape.iter().map(|&d| Dim::Known(d)).collect());
    let x = graph.add_value(x);
    let y = graph.add_value(ValueInfo::named("y"));
    graph.nodes.push(Node {
        name: name.into(),
        op,
        inputs: vec![Some(x); arity],
        outputs: vec![Some(y)],
    });
    graph.inputs.push(x);
    graph.outputs.push(y);
    let bytes = Model::from_graph(graph).unwrap().to_mote_bytes().unwrap();
    Model::from_mote_bytes(&bytes).unwrap()
}

/// Checks that creating a session failed as unsupported for `op`, naming the node and every
/// one of `mentions` (the feature to enable, quoted, and any other detail).
fn assert_refused(session: mote::Result<mote::Session>, op: &str, node: &str, mentions: &[&str]) {
    let e = session
        .err()
        .unwrap_or_else(|| panic!("a session over {op} without its feature"));
    assert!(
        matches!(e.kind(), ErrorKind::UnsupportedOp { op: o, .. } if o == op),
        "{e}"
    );
    let message = e.to_string();
    for mention in mentions {
        assert!(message.contains(mention), "{message}");
    }
    assert!(message.contains(&format!("node '{node}'")), "{message}");
}

/// With its family compiled in, `Det` (`[2, 2]` f32 → scalar: the transformer family outside
/// the core products) runs; without it (the embedded build `.ci/run` tests), the model still
/// loads (the IR and the format are the same in every build) but creating a session fails,
/// naming the op and the feature, before anything runs.
#[test]
fn an_op_outside_the_compiled_families_is_refused_at_session_creation() {
    let model = one_node_model(
        "det",
        Op::Transformer(TransformerOp::Det),
        1,
        DType::F32,
        &[2, 2],
    );
    let session = model.session(SessionOptions::default());
    if cfg!(feature = "ops-transformer") {
        let x = Tensor::from_vec(&[2, 2], vec![1.0f32, 2.0, 3.0, 4.0]).unwrap();
        let out = session.unwrap().run(&[("x", &x)]).unwrap();
        assert_eq!(out[0].1.as_slice::<f32>().unwrap(), [-2.0]);
    } else {
        assert_refused(session, "Det", "det", &["\"ops-transformer\""]);
    }
}

/// Arithmetic in f64 runs with `dtypes-extra` and is refused at session creation without it
/// (the embedded build), naming the node, the type and the feature; a `Cast` from f64 runs in
/// every build, so a model can still take such a type at its boundary.
#[test]
fn rare_element_types_need_their_feature_except_through_cast() {
    let x = Tensor::from_vec(&[3], vec![1.5f64, -2.0, 0.25]).unwrap();
    let cast = Op::Quant(QuantOp::Cast(CastAttrs {
        to: DType::F32,
        saturate: true,
        round_mode: Default::default(),
    }));
    let out = one_node_model("node", cast, 1, DType::F64, &[3])
        .session(SessionOptions::default())
        .unwrap()
        .run(&[("x", &x)])
        .unwrap();
    assert_eq!(out[0].1.as_slice::<f32>().unwrap(), [1.5, -2.0, 0.25]);

    let add = Op::Elementwise(ElementwiseOp::Binary(Binary::Add));
    let session =
        one_node_model("node", add, 2, DType::F64, &[3]).session(SessionOptions::default());
    if cfg!(feature = "dtypes-extra") {
        let out = session.unwrap().run(&[("x", &x)]).unwrap();
        assert_eq!(out[0].1.as_slice::<f64>().unwrap(), [3.0, -4.0, 0.5]);
    } else {
        assert_refused(session, "Add", "node", &["\"dtypes-extra\"", "f64"]);
    }
}

/// The indexing ops (`NonZero` here) are a family of their own, `ops-index`, out of the
/// embedded build's core: refused at session creation there, run with the feature.
#[test]
fn an_indexing_op_needs_ops_index() {
    let model = one_node_model("nonzero", Op::Shape(ShapeOp::NonZero), 1, DType::F32, &[4]);
    let session = model.session(SessionOptions::default());
    if cfg!(feature = "ops-index") {
        let x = Tensor::from_vec(&[4], vec![0.0f32, 2.0, 0.0, -1.0]).unwrap();
        let out = session.unwrap().run(&[("x", &x)]).unwrap();
        assert_eq!(out[0].1.shape(), [1, 2]);
        assert_eq!(out[0].1.as_slice::<i64>().unwrap(), [1, 3]);
    } else {
        assert_refused(session, "NonZero", "nonzero", &["\"ops-index\""]);
    }
}
