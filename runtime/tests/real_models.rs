//! Real models end to end against onnxruntime 1.31.1 reference outputs, written by
//! `scripts/fetch_real_models.py` into `.cache/real-models/<case>/`.
//!
//! Tolerances: per float output, cosine similarity >= 0.9999 and max |diff| <= 1e-3 x max
//! |reference|; integer outputs >= 99% identical elements.

mod common;

use mote::{Model, SessionOptions, Tensor};
use std::path::Path;

const MIN_COSINE: f64 = 0.9999;
const MAX_ABS_DIFF_RATIO: f64 = 1e-3;
const MIN_INT_AGREEMENT: f64 = 0.99;

struct Case {
    inputs: Vec<(String, String)>,
    outputs: Vec<(String, String)>,
}

fn read_case(dir: &Path) -> Case {
    let text = std::fs::read_to_string(dir.join("case.json")).expect("case.json");
    let json: serde_json::Value = serde_json::from_str(&text).expect("case.json parses");
    let pairs = |key: &str| -> Vec<(String, String)> {
        json[key]
            .as_array()
            .expect("list")
            .iter()
            .map(|v| {
                (
                    v["name"].as_str().expect("name").to_string(),
                    v["file"].as_str().expect("file").to_string(),
                )
            })
            .collect()
    };
    Case {
        inputs: pairs("inputs"),
        outputs: pairs("outputs"),
    }
}

/// Compares one output; returns a description of the metrics.
fn compare(name: &str, actual: &Tensor, expected: &Tensor) -> Result<String, String> {
    if actual.dtype() != expected.dtype() || actual.shape() != expected.shape() {
        return Err(format!(
            "{name}: {} {:?} vs reference {} {:?}",
            actual.dtype(),
            actual.shape(),
            expected.dtype(),
            expected.shape()
        ));
    }
    let a = actual.view().to_f64_vec().map_err(|e| e.to_string())?;
    let e = expected.view().to_f64_vec().map_err(|e| e.to_string())?;
    if !expected.dtype().is_float() {
        let same = a.iter().zip(&e).filter(|(x, y)| x == y).count();
        let agreement = same as f64 / e.len().max(1) as f64;
        let text = format!("{name}: {:.4}% identical", agreement * 100.0);
        return if agreement >= MIN_INT_AGREEMENT {
            Ok(text)
        } else {
            Err(text)
        };
    }
    let dot: f64 = a.iter().zip(&e).map(|(x, y)| x * y).sum();
    let (na, ne) = (
        a.iter().map(|x| x * x).sum::<f64>().sqrt(),
        e.iter().map(|x| x * x).sum::<f64>().sqrt(),
    );
    let cosine = if na == 0.0 && ne == 0.0 {
        1.0
    } else {
        dot / (na * ne)
    };
    let max_ref = e.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let max_diff = a
        .iter()
        .zip(&e)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
    let text = format!(
        "{name}: cosine {cosine:.7}, max |diff| {max_diff:.3e} (limit {:.3e})",
        MAX_ABS_DIFF_RATIO * max_ref
    );
    if cosine >= MIN_COSINE
        && max_diff <= MAX_ABS_DIFF_RATIO * max_ref
        && a.iter().all(|x| x.is_finite())
    {
        Ok(text)
    } else {
        Err(text)
    }
}

fn run_case(dir: &Path) -> Result<Vec<String>, String> {
    let case = read_case(dir);
    let model = Model::load(dir.join("model.onnx")).map_err(|e| format!("load: {e}"))?;
    let inputs: Vec<(String, Tensor)> = case
        .inputs
        .iter()
        .map(|(name, file)| mote::npy::read(dir.join(file)).map(|t| (name.clone(), t)))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let refs: Vec<(&str, &Tensor)> = inputs.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let mut session = model
        .session(SessionOptions::default())
        .map_err(|e| e.to_string())?;
    let outputs = session.run(&refs).map_err(|e| format!("run: {e}"))?;
    // Two threads split every op differently, yet each output element is computed by the
    // same code: the outputs must be bit-identical.
    let mut two_threads = model
        .session(SessionOptions {
            threads: 2,
            ..SessionOptions::default()
        })
        .map_err(|e| e.to_string())?;
    for _ in 0..2 {
        let split = two_threads
            .run(&refs)
            .map_err(|e| format!("run (2 threads): {e}"))?;
        for ((name, one), (_, two)) in outputs.iter().zip(&split) {
            if (one.dtype(), one.shape(), one.bytes()) != (two.dtype(), two.shape(), two.bytes()) {
                return Err(format!("{name}: 2 threads give different outputs than 1"));
            }
        }
    }
    let mut report = Vec::new();
    for (name, file) in &case.outputs {
        let expected = mote::npy::read(dir.join(file)).map_err(|e| e.to_string())?;
        let actual = &outputs
            .iter()
            .find(|(n, _)| n == name)
            .ok_or(format!("no output {name}"))?
            .1;
        report.push(compare(name, actual, &expected)?);
    }
    Ok(report)
}

fn check(case: &str) {
    let Some(root) = common::generated_data(".cache/real-models", "scripts/fetch_real_models.py")
    else {
        return;
    };
    let dir = root.join(case);
    assert!(
        dir.join("case.json").is_file(),
        "{} is missing; rerun scripts/fetch_real_models.py",
        dir.display()
    );
    match run_case(&dir) {
        Ok(report) => println!("{case}: {}", report.join("; ")),
        Err(e) => panic!("{case}: {e}"),
    }
}

#[test]
fn ppocr_v4_detector() {
    check("ch_PP-OCRv4_det_infer");
}

#[test]
fn ppocr_v4_recognizer() {
    check("ch_PP-OCRv4_rec_infer");
}

#[test]
fn ppocr_mobile_direction_classifier() {
    check("ch_ppocr_mobile_v2.0_cls_infer");
}

#[test]
fn silero_vad_16k() {
    check("silero_vad");
}

#[test]
fn silero_vad_8k() {
    check("silero_vad_sr8k");
}

#[test]
fn silero_vad_first_chunk() {
    check("silero_vad_first_chunk");
}
