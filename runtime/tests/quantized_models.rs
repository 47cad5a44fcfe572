//! INT8 and FP16 variants of the real models end to end against onnxruntime 1.31.1, written
//! by `scripts/make_quant_models.py` into `.cache/real-models/<case>@<variant>/` (issue #4):
//! QDQ with int8 and uint8 activations, QOperator (QLinearConv, com.microsoft QLinear*),
//! dynamic (DynamicQuantizeLinear + MatMulInteger), FP16 (all arithmetic in half) and
//! FP16 weights (half initializers Cast to float), of PP-OCRv4 det/rec, the PP-OCR mobile
//! direction classifier and the demo digits MLP. Each case's inputs are its FP32 case's.
//!
//! Tolerances, chosen by the case's `"tolerance"` field:
//! - `quantized`: per float output, cosine >= 0.999 and max |diff| <= 5e-2 x max |reference|
//!   (issue #4), widened to onnxruntime's own spread on the same file where that is larger:
//!   the generator also runs the file with ORT's graph optimizations off (the QDQ nodes as
//!   the ONNX spec writes them, rather than fused into ORT's integer kernels, which round
//!   differently) and records how far the two ORT outputs are apart (`unfused_vs_fused`).
//!   Quantized networks amplify a one-step rounding difference at an early layer, so on the
//!   deeper models no implementation that is not ORT's own fused one meets the issue's
//!   numbers: PP-OCRv4 rec's two ORT outputs are at cosine 0.984 and max |diff| 0.76 (of a
//!   max of 1), det's at 0.9993 and 0.79. Mote must then be at least as close to ORT's default
//!   output as ORT's unfused output is. Integer outputs: at least 99.9% of the elements
//!   within one quantization step.
//! - `fp16`: per float output, cosine >= 0.9999 and max |diff| <= 1e-2 x max |reference|.
//!   Half precision has an 11-bit significand (unit roundoff 2^-11 ~ 4.9e-4); each op of a
//!   half model rounds its result to half, and ORT and Mote may accumulate in different
//!   orders and precisions (f32 or f16), so every op may differ by about one half ulp and
//!   these differences compound over the ~100 ops of the OCR models. 1e-2 of the output
//!   range is ~20 half ulps of the largest value; measured on this machine the worst
//!   case uses well under that (see the printed metrics with --nocapture).
//!
//! A variant with an op Mote cannot load yet fails (it is not skipped); such tests carry
//! `#[ignore = "..."]` giving the measured gap, so `-- --ignored` runs them.
//! When the data is missing the tests are skipped, or fail under MOTE_REQUIRE_TEST_DATA.

mod common;

use common::real_case::{float_metrics, fraction_within, read_case, run_against_reference};
use mote::Tensor;
use std::path::Path;

const SCRIPT: &str = "scripts/make_quant_models.py";

/// Limits for one tolerance class.
#[derive(Clone, Copy)]
struct Tolerance {
    min_cosine: f64,
    max_abs_diff_ratio: f64,
    /// Integer outputs: fraction of elements within one quantization step.
    min_int_within_one_step: f64,
}

const QUANTIZED: Tolerance = Tolerance {
    min_cosine: 0.999,
    max_abs_diff_ratio: 5e-2,
    min_int_within_one_step: 0.999,
};

const FP16: Tolerance = Tolerance {
    min_cosine: 0.9999,
    max_abs_diff_ratio: 1e-2,
    // FP16 models have float outputs only (keep_io_types); integer outputs pass through
    // unchanged from the FP32 graph and must match as closely as quantized ones.
    min_int_within_one_step: 0.999,
};

fn tolerance_of(json: &serde_json::Value) -> Result<&'static Tolerance, String> {
    match json["tolerance"].as_str() {
        Some("quantized") => Ok(&QUANTIZED),
        Some("fp16") => Ok(&FP16),
        other => Err(format!("case.json: unknown tolerance {other:?}")),
    }
}

/// Compares one output; returns a description of the metrics.
fn compare(
    name: &str,
    actual: &Tensor,
    expected: &Tensor,
    tol: &Tolerance,
) -> Result<String, String> {
    let a = actual.view().to_f64_vec().map_err(|e| e.to_string())?;
    let e = expected.view().to_f64_vec().map_err(|e| e.to_string())?;
    if !expected.dtype().is_float() {
        // Quantized integer tensors: one step is a difference of 1 in the stored value.
        let within = fraction_within(&a, &e, 1.0);
        let text = format!("{name}: {:.4}% within one step", within * 100.0);
        return if within >= tol.min_int_within_one_step {
            Ok(text)
        } else {
            Err(text)
        };
    }
    let m = float_metrics(&a, &e);
    let limit = tol.max_abs_diff_ratio * m.max_abs_ref;
    let text = format!(
        "{name}: cosine {:.7} (min {}), max |diff| {:.3e} = {:.2e} x max|ref| (limit {:.3e})",
        m.cosine,
        tol.min_cosine,
        m.max_abs_diff,
        m.max_abs_diff / m.max_abs_ref.max(f64::MIN_POSITIVE),
        limit
    );
    if m.cosine >= tol.min_cosine && m.max_abs_diff <= limit && m.all_finite {
        Ok(text)
    } else {
        Err(text)
    }
}

fn run_case(dir: &Path) -> Result<Vec<String>, String> {
    let case = read_case(dir);
    let tol = tolerance_of(&case.json)?;
    run_against_reference(dir, &case)?
        .iter()
        .map(|(name, actual, expected)| {
            let tol = widened(tol, &case.json["unfused_vs_fused"][name.as_str()]);
            compare(name, actual, expected, &tol)
        })
        .collect()
}

/// `tol`, loosened to the distance between ORT's unfused and fused outputs for this output
/// when that is larger (see the module docs); unchanged when the case records none.
fn widened(tol: &Tolerance, spread: &serde_json::Value) -> Tolerance {
    let (Some(cosine), Some(diff), Some(max_ref)) = (
        spread["cosine"].as_f64(),
        spread["max_abs_diff"].as_f64(),
        spread["max_abs_ref"].as_f64(),
    ) else {
        return Tolerance { ..*tol };
    };
    Tolerance {
        min_cosine: tol.min_cosine.min(cosine),
        max_abs_diff_ratio: tol
            .max_abs_diff_ratio
            .max(diff / max_ref.max(f64::MIN_POSITIVE)),
        min_int_within_one_step: tol.min_int_within_one_step,
    }
}

fn check(case: &str) {
    let relative = format!(".cache/real-models/{case}");
    let Some(dir) = common::generated_data(&relative, SCRIPT) else {
        return;
    };
    assert!(
        dir.join("case.json").is_file(),
        "{} is missing; rerun {SCRIPT}",
        dir.display()
    );
    let start = std::time::Instant::now();
    match run_case(&dir) {
        Ok(report) => println!(
            "{case}: {} [{:.1} s]",
            report.join("; "),
            start.elapsed().as_secs_f64()
        ),
        Err(e) => panic!("{case}: {e}"),
    }
}

macro_rules! cases {
    ($($(#[$attr:meta])* $test:ident => $case:literal,)*) => {
        $(
            #[test]
            $(#[$attr])*
            fn $test() {
                check($case);
            }
        )*
    };
}

cases! {
    det_qdq_s8s8 => "ch_PP-OCRv4_det_infer@qdq_s8s8",
    det_qdq_u8s8 => "ch_PP-OCRv4_det_infer@qdq_u8s8",
    det_qop_u8s8 => "ch_PP-OCRv4_det_infer@qop_u8s8",
    det_fp16 => "ch_PP-OCRv4_det_infer@fp16",
    det_fp16_weights => "ch_PP-OCRv4_det_infer@fp16_weights",

    rec_qdq_s8s8 => "ch_PP-OCRv4_rec_infer@qdq_s8s8",
    rec_qdq_u8s8 => "ch_PP-OCRv4_rec_infer@qdq_u8s8",
    rec_qop_u8s8 => "ch_PP-OCRv4_rec_infer@qop_u8s8",
    rec_dynamic => "ch_PP-OCRv4_rec_infer@dynamic",
    rec_fp16 => "ch_PP-OCRv4_rec_infer@fp16",
    rec_fp16_weights => "ch_PP-OCRv4_rec_infer@fp16_weights",

    cls_qdq_s8s8 => "ch_ppocr_mobile_v2.0_cls_infer@qdq_s8s8",
    cls_qdq_u8s8 => "ch_ppocr_mobile_v2.0_cls_infer@qdq_u8s8",
    cls_qop_u8s8 => "ch_ppocr_mobile_v2.0_cls_infer@qop_u8s8",
    cls_dynamic => "ch_ppocr_mobile_v2.0_cls_infer@dynamic",
    cls_fp16 => "ch_ppocr_mobile_v2.0_cls_infer@fp16",
    cls_fp16_weights => "ch_ppocr_mobile_v2.0_cls_infer@fp16_weights",

    demo_qdq_s8s8 => "digits_mlp@qdq_s8s8",
    demo_qdq_u8s8 => "digits_mlp@qdq_u8s8",
    demo_qop_u8s8 => "digits_mlp@qop_u8s8",
    demo_fp16 => "digits_mlp@fp16",
    demo_fp16_weights => "digits_mlp@fp16_weights",
}
