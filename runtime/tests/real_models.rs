//! Real models end to end against onnxruntime 1.31.1 reference outputs, written by
//! `scripts/fetch_real_models.py` into `.cache/real-models/<case>/`.
//!
//! Tolerances: per float output, cosine similarity >= 0.9999 and max |diff| <= 1e-3 x max
//! |reference|; integer outputs >= 99% identical elements.

mod common;

use common::real_case::{float_metrics, fraction_within, read_case, run_against_reference};
use mote::Tensor;
use std::path::Path;

const MIN_COSINE: f64 = 0.9999;
const MAX_ABS_DIFF_RATIO: f64 = 1e-3;
const MIN_INT_AGREEMENT: f64 = 0.99;

/// Compares one output; returns a description of the metrics.
fn compare(name: &str, actual: &Tensor, expected: &Tensor) -> Result<String, String> {
    let a = actual.view().to_f64_vec().map_err(|e| e.to_string())?;
    let e = expected.view().to_f64_vec().map_err(|e| e.to_string())?;
    if !expected.dtype().is_float() {
        let agreement = fraction_within(&a, &e, 0.0);
        let text = format!("{name}: {:.4}% identical", agreement * 100.0);
        return if agreement >= MIN_INT_AGREEMENT {
            Ok(text)
        } else {
            Err(text)
        };
    }
    let m = float_metrics(&a, &e);
    let text = format!(
        "{name}: cosine {:.7}, max |diff| {:.3e} (limit {:.3e})",
        m.cosine,
        m.max_abs_diff,
        MAX_ABS_DIFF_RATIO * m.max_abs_ref
    );
    if m.cosine >= MIN_COSINE
        && m.max_abs_diff <= MAX_ABS_DIFF_RATIO * m.max_abs_ref
        && m.all_finite
    {
        Ok(text)
    } else {
        Err(text)
    }
}

fn run_case(dir: &Path) -> Result<Vec<String>, String> {
    let case = read_case(dir);
    run_against_reference(dir, &case)?
        .iter()
        .map(|(name, actual, expected)| compare(name, actual, expected))
        .collect()
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
