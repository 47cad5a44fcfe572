//! `.mote` round trips: a model saved as `.mote` and loaded back (from memory and from a
//! memory-mapped file) computes bit-identical outputs to the ONNX model it was converted from,
//! on the demo model and on the real models' case inputs.

mod common;

use common::real_case::read_case;
use mote::{Model, SessionOptions, Tensor};
use std::path::{Path, PathBuf};

/// A file path in the system temp dir unique to this test process and `tag`.
fn temp_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("mote-test-{}-{tag}.mote", std::process::id()))
}

fn run(model: &Model, inputs: &[(String, Tensor)]) -> Vec<(String, Tensor)> {
    let refs: Vec<(&str, &Tensor)> = inputs.iter().map(|(n, t)| (n.as_str(), t)).collect();
    model
        .session(SessionOptions::default())
        .expect("session")
        .run(&refs)
        .expect("run")
}

/// Asserts same names, dtypes, shapes and bytes.
fn assert_bit_identical(what: &str, a: &[(String, Tensor)], b: &[(String, Tensor)]) {
    assert_eq!(a.len(), b.len(), "{what}: output count");
    for ((na, ta), (nb, tb)) in a.iter().zip(b) {
        assert_eq!(na, nb, "{what}: output names");
        assert_eq!(ta.dtype(), tb.dtype(), "{what}: {na} dtype");
        assert_eq!(ta.shape(), tb.shape(), "{what}: {na} shape");
        assert!(ta.bytes() == tb.bytes(), "{what}: {na} values differ");
    }
}

/// Converts `onnx`, checks the `.mote` model against the ONNX one on `inputs` (from bytes and
/// from a mapped file), and returns the file size.
fn check_round_trip(tag: &str, onnx: &Path, inputs: &[(String, Tensor)]) -> usize {
    let model = Model::load(onnx).expect("load onnx");
    let expected = run(&model, inputs);
    let bytes = model.to_mote_bytes().expect("convert");
    assert!(mote::format::is_mote(&bytes));

    let from_bytes = Model::from_bytes(&bytes).expect("load .mote bytes");
    assert_bit_identical(
        &format!("{tag} (bytes)"),
        &expected,
        &run(&from_bytes, inputs),
    );

    let path = temp_path(tag);
    model.save_mote(&path).expect("save");
    let mapped = Model::load(&path).expect("load .mote file");
    let constants = &mapped.graph().constants;
    assert!(
        constants.values().all(|t| t.is_empty() || t.is_shared()),
        "{tag}: constants of a mapped file are used in place"
    );
    assert_bit_identical(&format!("{tag} (mmap)"), &expected, &run(&mapped, inputs));
    // Converting the loaded model again gives the same file: nothing was lost or reordered.
    assert!(
        mapped.to_mote_bytes().unwrap() == bytes,
        "{tag}: re-encoding differs"
    );
    drop(mapped);
    let _ = std::fs::remove_file(&path);
    bytes.len()
}

#[test]
fn demo_model_round_trips_bit_identical() {
    let dir = common::repo_root().join("assets/models");
    let x = mote::npy::read(dir.join("digits_test_x.npy")).unwrap();
    let model = Model::load(dir.join("digits_mlp.onnx")).unwrap();
    let inputs = vec![(model.inputs()[0].name.clone(), x)];
    let size = check_round_trip("digits", &dir.join("digits_mlp.onnx"), &inputs);
    println!("digits_mlp.mote: {size} bytes");
}

fn check_case(case: &str) {
    let Some(root) = common::generated_data(".cache/real-models", "scripts/fetch_real_models.py")
    else {
        return;
    };
    let dir = root.join(case);
    if !dir.join("case.json").is_file() {
        // The quantized variants come from a second script; their absence is reported the
        // same way as the whole folder's.
        let message = format!("{} is missing", dir.display());
        if std::env::var_os("MOTE_REQUIRE_TEST_DATA").is_some() {
            panic!("{message}");
        }
        eprintln!("SKIPPED: {message}");
        return;
    }
    let c = read_case(&dir);
    let inputs: Vec<(String, Tensor)> = c
        .inputs
        .iter()
        .map(|(name, file)| (name.clone(), mote::npy::read(dir.join(file)).unwrap()))
        .collect();
    let size = check_round_trip(case, &dir.join("model.onnx"), &inputs);
    println!("{case}: .mote {size} bytes");
}

#[test]
fn ppocr_det_round_trips_bit_identical() {
    check_case("ch_PP-OCRv4_det_infer");
}

#[test]
fn ppocr_rec_round_trips_bit_identical() {
    check_case("ch_PP-OCRv4_rec_infer");
}

#[test]
fn ppocr_cls_round_trips_bit_identical() {
    check_case("ch_ppocr_mobile_v2.0_cls_infer");
}

#[test]
fn ppocr_rec_qdq_round_trips_bit_identical() {
    check_case("ch_PP-OCRv4_rec_infer@qdq_u8s8");
}

#[test]
fn ppocr_det_qdq_round_trips_bit_identical() {
    check_case("ch_PP-OCRv4_det_infer@qdq_u8s8");
}

#[test]
fn ppocr_cls_qop_round_trips_bit_identical() {
    check_case("ch_ppocr_mobile_v2.0_cls_infer@qop_u8s8");
}

#[test]
fn ppocr_rec_fp16_round_trips_bit_identical() {
    check_case("ch_PP-OCRv4_rec_infer@fp16");
}

/// Control flow: silero's `If` bodies (and their constants) go through the format too.
#[test]
fn silero_vad_round_trips_bit_identical() {
    check_case("silero_vad");
}
