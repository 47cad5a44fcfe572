//! Issue #6's real-model target: on the PP-OCR direction classifier and recognizer, with the
//! calibration images and per-channel settings onnxruntime's reference QDQ models were made
//! with (scripts/make_quant_models.py), the model calibrate writes is at least as close to
//! FP32 (cosine and SNR, everything scored by onnxruntime) as `quantize_static`'s MinMax one,
//! on held-out images. Mote runs the written model too.

mod common;

use calibrate::onnx;
use calibrate::qdq::{quantize_static, QType, QdqOptions};
use common::*;
use mote::Tensor;

fn case(name: &str, width: &str, rotate: &str, variant: &str, qtype: QType) {
    let Some(py) = python() else { return };
    let root = repo_root();
    let src = root.join(format!(".cache/real-models/{name}/model.onnx"));
    let reference = root.join(format!(".cache/real-models/{name}@{variant}/model.onnx"));
    if !src.exists() || !reference.exists() {
        missing(&format!(
            "{} (scripts/make_quant_models.py)",
            reference.display()
        ));
        return;
    }
    let dir = scratch(&format!("{name}-{variant}"));
    let calib = dir.join("calib.npy");
    let held = dir.join("held.npy");
    run_script(
        &py,
        "ppocr_lines.py",
        &[width, rotate, "0", calib.to_str().unwrap()],
    );
    run_script(
        &py,
        "ppocr_lines.py",
        &[width, rotate, "1", held.to_str().unwrap()],
    );
    let calib = mote::npy::read(&calib).unwrap();
    let held = mote::npy::read(&held).unwrap();

    let model = onnx::load(&src).unwrap();
    let table = minmax_table(&model, &[vec![("x".into(), calib)]]);
    let opts = QdqOptions {
        activations: qtype,
        ..QdqOptions::default()
    };
    let (q, report) = quantize_static(&model, &table, &opts).unwrap();
    let qpath = dir.join("q.onnx");
    onnx::save(&q, &qpath).unwrap();

    let fp = ort_run(&py, &src, &[("x", &held)], &dir.join("fp"));
    let ours = ort_run(&py, &qpath, &[("x", &held)], &dir.join("ours"));
    let theirs = ort_run(&py, &reference, &[("x", &held)], &dir.join("ref"));
    assert_eq!(fp.io["inputs"], ours.io["inputs"], "graph inputs changed");
    assert_eq!(
        fp.io["outputs"], ours.io["outputs"],
        "graph outputs changed"
    );
    assert_eq!(fp.io["ir_version"], ours.io["ir_version"]);
    let f32s = |t: &Tensor| t.as_slice::<f32>().unwrap().to_vec();
    let reference_out = f32s(&fp.outputs[0]);
    let (c_ours, s_ours) = cosine_snr(&f32s(&ours.outputs[0]), &reference_out);
    let (c_ort, s_ort) = cosine_snr(&f32s(&theirs.outputs[0]), &reference_out);
    let mote_out = mote_run(&onnx::encode(&q), &[("x", &held)]);
    let (c_mote, s_mote) = cosine_snr(&f32s(&mote_out[0].1), &reference_out);
    eprintln!(
        "{name} {variant}: vs FP32, calibrate (ORT) cos {c_ours:.6} SNR {s_ours:.2} dB; \
         ORT quantize_static cos {c_ort:.6} SNR {s_ort:.2} dB; calibrate (Mote) cos {c_mote:.6} \
         SNR {s_mote:.2} dB; opsets {} ; {report:?}",
        ours.io["opsets"]
    );
    assert!(c_ours >= c_ort - 1e-9, "cosine {c_ours} < ORT's {c_ort}");
    assert!(s_ours >= s_ort - 1e-6, "SNR {s_ours} < ORT's {s_ort}");
    assert!(
        c_mote > 0.9,
        "Mote's run of the written model is far off: {c_mote}"
    );
}

#[test]
fn ppocr_cls_u8s8_at_least_as_close_as_ort() {
    case(
        "ch_ppocr_mobile_v2.0_cls_infer",
        "192",
        "1",
        "qdq_u8s8",
        QType::U8,
    );
}

#[test]
fn ppocr_cls_s8s8_at_least_as_close_as_ort() {
    case(
        "ch_ppocr_mobile_v2.0_cls_infer",
        "192",
        "1",
        "qdq_s8s8",
        QType::S8,
    );
}

#[test]
fn ppocr_rec_u8s8_at_least_as_close_as_ort() {
    case("ch_PP-OCRv4_rec_infer", "320", "0", "qdq_u8s8", QType::U8);
}

#[test]
fn ppocr_rec_s8s8_at_least_as_close_as_ort() {
    case("ch_PP-OCRv4_rec_infer", "320", "0", "qdq_s8s8", QType::S8);
}
