//! onnxruntime's `com.microsoft` quantized ops against onnxruntime 1.31.1's own outputs.
//!
//! Data: `.cache/contrib-node/<test>/` from `scripts/gen_contrib_tests.py` (one small model
//! per op and variant, ONNX node-test layout).
//!
//! Mote expands these ops into DequantizeLinear -> float op -> QuantizeLinear, their
//! definition; onnxruntime computes them with lookup tables (Sigmoid, LeakyRelu) or float
//! rescaling of integer sums (Add, Mul, pooling), so where a result falls next to a rounding
//! tie the two may pick neighbouring values. Quantized outputs must therefore be within one
//! quantization step everywhere, and, over all the tests of one op, exactly equal for at least
//! [`MIN_EXACT`] of the elements (measured with onnxruntime 1.31.1: every op 100% except
//! QLinearAdd 99.62% and QLinearAveragePool 99.56%, whose few differences are one step at
//! windows that overlap the padding). Float outputs (QGemm without an output scale, DynamicQuantizeLSTM) must be within
//! [`FLOAT_RTOL`] of the largest reference magnitude: onnxruntime's DynamicQuantizeLSTM
//! quantizes X and h to u8 at every step, which Mote's float LSTM on the dequantized weights
//! does not, so they agree to that quantization noise only.

mod common;

use mote::{DType, Model, SessionOptions, Tensor};
use std::collections::BTreeMap;
use std::path::Path;

/// Smallest fraction of quantized elements equal to onnxruntime's.
const MIN_EXACT: f64 = 0.99;
/// Largest `max|actual - expected| / max|expected|` of float outputs.
const FLOAT_RTOL: f64 = 0.02;

/// What one output's comparison measured.
struct Measure {
    exact: usize,
    total: usize,
    max_diff: f64,
    max_ref: f64,
    quantized: bool,
}

fn compare(actual: &Tensor, expected: &Tensor) -> Result<Measure, String> {
    if actual.dtype() != expected.dtype() || actual.shape() != expected.shape() {
        return Err(format!(
            "{} {:?} where onnxruntime gives {} {:?}",
            actual.dtype(),
            actual.shape(),
            expected.dtype(),
            expected.shape()
        ));
    }
    let a = common::as_f64(actual).ok_or("output is not numeric")?;
    let e = common::as_f64(expected).ok_or("reference is not numeric")?;
    let mut m = Measure {
        exact: 0,
        total: e.len(),
        max_diff: 0.0,
        max_ref: 0.0,
        quantized: matches!(expected.dtype(), DType::U8 | DType::I8),
    };
    for (x, y) in a.iter().zip(&e) {
        let d = (x - y).abs();
        if d.is_nan() {
            return Err(format!("NaN where onnxruntime gives {y}"));
        }
        m.exact += usize::from(d == 0.0);
        m.max_diff = m.max_diff.max(d);
        m.max_ref = m.max_ref.max(y.abs());
    }
    Ok(m)
}

/// Exactly equal and total quantized elements of one op's tests.
type Tally = BTreeMap<String, (usize, usize)>;

/// Runs one test, adding its quantized elements to `tally`; returns one line of measurements,
/// or why it fails.
fn run_test(dir: &Path, op: &str, tally: &mut Tally) -> Result<String, String> {
    let model = Model::load(dir.join("model.onnx")).map_err(|e| format!("load: {e}"))?;
    let data = dir.join("test_data_set_0");
    let inputs: Vec<Tensor> = (0..model.inputs().len())
        .map(|i| mote::onnx::read_tensor_file(&data.join(format!("input_{i}.pb"))))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("input: {e}"))?;
    let mut session = model
        .session(SessionOptions::default())
        .map_err(|e| e.to_string())?;
    let refs: Vec<&Tensor> = inputs.iter().collect();
    let outputs = session
        .run_ordered(&refs)
        .map_err(|e| format!("run: {e}"))?;
    let mut line = Vec::new();
    for (i, actual) in outputs.iter().enumerate() {
        let expected = mote::onnx::read_tensor_file(&data.join(format!("output_{i}.pb")))
            .map_err(|e| format!("expected output {i}: {e}"))?;
        let m = compare(actual, &expected).map_err(|e| format!("output {i}: {e}"))?;
        if m.quantized {
            let exact = m.exact as f64 / m.total.max(1) as f64;
            line.push(format!(
                "out{i}: {}/{} exact ({:.2}%), max diff {}",
                m.exact,
                m.total,
                100.0 * exact,
                m.max_diff
            ));
            let t = tally.entry(op.to_string()).or_default();
            t.0 += m.exact;
            t.1 += m.total;
            if m.max_diff > 1.0 {
                return Err(line.join("; "));
            }
        } else {
            let rel = m.max_diff / m.max_ref.max(f64::MIN_POSITIVE);
            line.push(format!("out{i}: max|diff|/max|ref| {rel:.2e}"));
            if rel > FLOAT_RTOL {
                return Err(line.join("; "));
            }
        }
    }
    Ok(line.join("; "))
}

#[test]
fn contrib_ops_match_onnxruntime() {
    let Some(root) = common::generated_data(".cache/contrib-node", "scripts/gen_contrib_tests.py")
    else {
        return;
    };
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .expect("contrib test folder is readable")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(!names.is_empty(), "{} holds no tests", root.display());
    let mut failures = Vec::new();
    let mut tally = Tally::new();
    for name in &names {
        // Test names are `<op>_<variant>`.
        let op = name.split('_').next().unwrap_or(name);
        match run_test(&root.join(name), op, &mut tally) {
            Ok(line) => println!("contrib {name}: {line}"),
            Err(why) => {
                println!("contrib {name}: FAIL {why}");
                failures.push(format!("{name}: {why}"));
            }
        }
    }
    let passed = names.len() - failures.len();
    for (op, &(exact, total)) in &tally {
        let fraction = exact as f64 / total.max(1) as f64;
        println!(
            "contrib {op}: {exact}/{total} quantized elements equal to onnxruntime's ({:.2}%)",
            100.0 * fraction
        );
        if fraction < MIN_EXACT {
            failures.push(format!(
                "{op}: only {:.2}% of the elements equal onnxruntime's",
                100.0 * fraction
            ));
        }
    }
    println!("contrib ops: {} of {} tests pass", passed, names.len());
    assert!(
        failures.is_empty(),
        "{} contrib-op tests fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
