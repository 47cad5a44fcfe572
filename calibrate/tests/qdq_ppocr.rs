//! Issue #6's real-model target: on the PP-OCR direction classifier and recognizer, with the
//! calibration images and per-channel settings onnxruntime's reference QDQ models were made
//! with (scripts/make_quant_models.py), the model calibrate writes is at least as close to
//! FP32 (cosine and SNR, everything scored by onnxruntime) as `quantize_static`'s MinMax one,
//! on held-out images: with uint8 activations and MinMax (onnxruntime's recipe) against its
//! u8s8 model, and with calibrate's defaults (MinMax, int8 activations) against its s8s8
//! model. The model is written by the `calibrate quantize` binary from a
//! directory of calibration samples, as a user would. Mote runs the written model too.

mod common;

use calibrate::onnx;
use common::*;
use mote::Tensor;
use std::path::Path;

/// Writes each image of a [n, 3, h, w] batch as one `.npy` sample file.
fn sample_dir(batch: &Tensor, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let shape = batch.shape();
    let per: usize = shape[1..].iter().product();
    for (i, img) in batch.as_slice::<f32>().unwrap().chunks(per).enumerate() {
        let mut s = shape.to_vec();
        s[0] = 1;
        mote::npy::write(
            dir.join(format!("{i:03}.npy")),
            &Tensor::from_slice(&s, img).unwrap(),
        )
        .unwrap();
    }
}

/// `calibrate quantize` with `extra` options; returns the written model's path.
fn quantize(src: &Path, data: &Path, out: &Path, extra: &[&str]) {
    let mut args = vec![
        "quantize",
        src.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_calibrate"))
        .args(&args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn case(name: &str, width: &str, rotate: &str, variant: &str, activations: &str) {
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

    let data = dir.join("data");
    sample_dir(&calib, &data);
    let qpath = dir.join("q.onnx");
    // u8 activations: onnxruntime's recipe exactly; s8: calibrate's defaults.
    let options: &[&str] = if activations == "u8" {
        &["--activations", "u8", "--method", "minmax"]
    } else {
        &[]
    };
    quantize(&src, &data, &qpath, options);
    let q = onnx::load(&qpath).unwrap();

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
         SNR {s_mote:.2} dB; opsets {}",
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
        "u8",
    );
}

#[test]
fn ppocr_cls_s8s8_at_least_as_close_as_ort() {
    case(
        "ch_ppocr_mobile_v2.0_cls_infer",
        "192",
        "1",
        "qdq_s8s8",
        "s8",
    );
}

#[test]
fn ppocr_rec_u8s8_at_least_as_close_as_ort() {
    case("ch_PP-OCRv4_rec_infer", "320", "0", "qdq_u8s8", "u8");
}

#[test]
fn ppocr_rec_s8s8_at_least_as_close_as_ort() {
    case("ch_PP-OCRv4_rec_infer", "320", "0", "qdq_s8s8", "s8");
}

/// The other range methods on the recognizer (slow; `-- --ignored --nocapture` prints them).
#[test]
#[ignore = "measurement only: prints cosine/SNR per method"]
fn ppocr_rec_methods() {
    let Some(py) = python() else { return };
    let root = repo_root();
    let src = root.join(".cache/real-models/ch_PP-OCRv4_rec_infer/model.onnx");
    let dir = scratch("rec-methods");
    let (calib, held) = (dir.join("calib.npy"), dir.join("held.npy"));
    run_script(
        &py,
        "ppocr_lines.py",
        &["320", "0", "0", calib.to_str().unwrap()],
    );
    run_script(
        &py,
        "ppocr_lines.py",
        &["320", "0", "1", held.to_str().unwrap()],
    );
    let data = dir.join("data");
    sample_dir(&mote::npy::read(&calib).unwrap(), &data);
    let held = mote::npy::read(&held).unwrap();
    let fp = ort_run(&py, &src, &[("x", &held)], &dir.join("fp"));
    let reference = fp.outputs[0].as_slice::<f32>().unwrap().to_vec();
    for extra in [
        &["--method", "minmax"][..],
        &["--method", "percentile"],
        &["--method", "entropy"],
        &["--method", "mse"],
        &["--activations", "u8"],
        &["--per-tensor"],
        &["--equalize"],
        &["--bias-correction"],
        &["--per-tensor", "--equalize"],
        &["--per-tensor", "--bias-correction"],
        &["--per-tensor", "--equalize", "--bias-correction"],
    ] {
        let q = dir.join("q.onnx");
        quantize(&src, &data, &q, extra);
        let r = ort_run(&py, &q, &[("x", &held)], &dir.join("q"));
        let (c, snr) = cosine_snr(r.outputs[0].as_slice::<f32>().unwrap(), &reference);
        eprintln!("rec {extra:?}: cos {c:.6} SNR {snr:.2} dB (ORT)");
    }
}

/// The detector (16 calibration pages as in the reference; 4 held-out pages).
#[test]
fn ppocr_det_s8s8_at_least_as_close_as_ort() {
    case("ch_PP-OCRv4_det_infer", "det", "16", "qdq_s8s8", "s8");
}

/// `--dynamic` on the recognizer (its MatMuls and Gemms): at least as close to FP32 as
/// onnxruntime's `quantize_dynamic` model (`@dynamic`, MatMul only, per-tensor weights).
#[test]
fn ppocr_rec_dynamic_at_least_as_close_as_ort() {
    let Some(py) = python() else { return };
    let root = repo_root();
    let name = "ch_PP-OCRv4_rec_infer";
    let src = root.join(format!(".cache/real-models/{name}/model.onnx"));
    let reference = root.join(format!(".cache/real-models/{name}@dynamic/model.onnx"));
    if !reference.exists() {
        missing(&reference.display().to_string());
        return;
    }
    let dir = scratch("rec-dynamic");
    let held = dir.join("held.npy");
    run_script(
        &py,
        "ppocr_lines.py",
        &["320", "0", "1", held.to_str().unwrap()],
    );
    let held = mote::npy::read(&held).unwrap();
    let q = dir.join("d.onnx");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_calibrate"))
        .args([
            "quantize",
            src.to_str().unwrap(),
            "--dynamic",
            "-o",
            q.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let fp = ort_run(&py, &src, &[("x", &held)], &dir.join("fp"));
    let ours = ort_run(&py, &q, &[("x", &held)], &dir.join("ours"));
    let theirs = ort_run(&py, &reference, &[("x", &held)], &dir.join("ref"));
    assert_eq!(fp.io["inputs"], ours.io["inputs"]);
    assert_eq!(fp.io["outputs"], ours.io["outputs"]);
    let r = fp.outputs[0].as_slice::<f32>().unwrap();
    let (c1, s1) = cosine_snr(ours.outputs[0].as_slice::<f32>().unwrap(), r);
    let (c2, s2) = cosine_snr(theirs.outputs[0].as_slice::<f32>().unwrap(), r);
    let mote_out = mote_run(&onnx::encode(&onnx::load(&q).unwrap()), &[("x", &held)]);
    let (c3, s3) = cosine_snr(mote_out[0].1.as_slice::<f32>().unwrap(), r);
    eprintln!(
        "{name} dynamic: calibrate (ORT) cos {c1:.6} SNR {s1:.2} dB; ORT quantize_dynamic cos \
         {c2:.6} SNR {s2:.2} dB; calibrate (Mote) cos {c3:.6} SNR {s3:.2} dB"
    );
    assert!(c1 >= c2 - 1e-9 && s1 >= s2 - 1e-6);
    assert!(c3 >= c2 - 1e-9 && s3 >= s2 - 1e-6);
}

/// `src` with the input of a final Softmax exposed as the first graph output: the
/// classifier's probabilities saturate (and are quantized to steps of 1/256), so its logits
/// are what tells two quantized models apart.
fn with_logits(src: &Path, dir: &Path) -> std::path::PathBuf {
    let mut m = onnx::load(src).unwrap();
    let g = onnx::graph_mut(&mut m).unwrap();
    let mut out = g.output[0].name.clone();
    // Through a trailing Identity (paddle2onnx writes one).
    if let Some(id) = g
        .node
        .iter()
        .find(|n| n.op_type == "Identity" && n.output[0] == out)
    {
        out = id.input[0].clone();
    }
    let Some(softmax) = g
        .node
        .iter()
        .find(|n| n.op_type == "Softmax" && n.output[0] == out)
    else {
        return src.to_path_buf();
    };
    let logits = softmax.input[0].clone();
    g.output.insert(
        0,
        onnx::pb::ValueInfoProto {
            name: logits,
            ..Default::default()
        },
    );
    let path = dir.join("logits.onnx");
    onnx::save(&m, &path).unwrap();
    path
}

/// Calibrates `name` on the first `count` calibration lines with each option set and returns
/// (cosine, SNR) against FP32 on held-out lines, everything run by onnxruntime.
fn scores(
    name: &str,
    width: &str,
    rotate: &str,
    count: usize,
    variants: &[&[&str]],
) -> Option<Vec<(f64, f64)>> {
    let py = python()?;
    let src = repo_root().join(format!(".cache/real-models/{name}/model.onnx"));
    if !src.exists() {
        missing(&src.display().to_string())?;
    }
    let dir = scratch(&format!("{name}-options"));
    let src = with_logits(&src, &dir);
    let (calib, held) = (dir.join("calib.npy"), dir.join("held.npy"));
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
    let shape = calib.shape().to_vec();
    let per: usize = shape[1..].iter().product();
    let mut first = shape.clone();
    first[0] = count.min(shape[0]);
    let few =
        Tensor::from_slice(&first, &calib.as_slice::<f32>().unwrap()[..first[0] * per]).unwrap();
    let data = dir.join("data");
    sample_dir(&few, &data);
    let held = mote::npy::read(&held).unwrap();
    let fp = ort_run(&py, &src, &[("x", &held)], &dir.join("fp"));
    let reference = fp.outputs[0].as_slice::<f32>().unwrap().to_vec();
    let mut out = Vec::new();
    for extra in variants {
        let q = dir.join("q.onnx");
        quantize(&src, &data, &q, extra);
        let r = ort_run(&py, &q, &[("x", &held)], &dir.join("q"));
        let (c, snr) = cosine_snr(r.outputs[0].as_slice::<f32>().unwrap(), &reference);
        eprintln!("{name} {extra:?}: cos {c:.6} SNR {snr:.2} dB (ORT, {count} calibration lines)");
        out.push((c, snr));
    }
    Some(out)
}

/// The options that repair per-tensor weights: cross-layer equalization with bias
/// correction on the direction classifier (MobileNetV3: pairs joined by Relu), bias
/// correction on the recognizer; and entropy calibration on the recognizer, which its |x|-folded search
/// used to clip to cosine 0.46. Eight calibration lines keep it quick.
#[test]
fn ppocr_equalize_bias_correction_and_entropy() {
    let Some(cls) = scores(
        "ch_ppocr_mobile_v2.0_cls_infer",
        "192",
        "1",
        8,
        &[
            &["--per-tensor"],
            &["--per-tensor", "--equalize", "--bias-correction"],
        ],
    ) else {
        return;
    };
    assert!(
        cls[1].1 > cls[0].1 + 1.0,
        "equalization and bias correction should lift per-tensor cls logits' SNR: {cls:?}"
    );
    let Some(rec) = scores(
        "ch_PP-OCRv4_rec_infer",
        "320",
        "0",
        8,
        &[
            &["--per-tensor"],
            &["--per-tensor", "--bias-correction"],
            &["--method", "entropy"],
        ],
    ) else {
        return;
    };
    assert!(
        rec[1].1 > rec[0].1 + 3.0,
        "bias correction should repair per-tensor rec: {rec:?}"
    );
    assert!(rec[2].0 > 0.9, "entropy on rec: {rec:?}");
}
