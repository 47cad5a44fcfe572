//! A real-model test case as the generator scripts write it (`scripts/fetch_real_models.py`,
//! `scripts/make_quant_models.py`): `model.onnx`, `inputs/*.npy`, `outputs/*.npy` and a
//! `case.json` naming them in graph order; and the metrics the end-to-end tests judge by.

use mote::{Model, SessionOptions, Tensor};
use std::path::Path;

/// The parts of `case.json` the tests use.
pub(crate) struct Case {
    /// (tensor name, file relative to the case folder), graph input order.
    pub(crate) inputs: Vec<(String, String)>,
    /// (tensor name, file relative to the case folder), graph output order.
    pub(crate) outputs: Vec<(String, String)>,
    /// The whole `case.json`, for generator-specific fields.
    pub(crate) json: serde_json::Value,
}

pub(crate) fn read_case(dir: &Path) -> Case {
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
        json,
    }
}

/// Runs the case's model on its inputs with one thread, then twice with two threads, and
/// returns the one-thread outputs with the reference outputs, in `case.outputs` order.
/// Two threads split every op differently, yet each output element is computed by the same
/// code, so the outputs must be bit-identical: a difference is an error.
pub(crate) fn run_against_reference(
    dir: &Path,
    case: &Case,
) -> Result<Vec<(String, Tensor, Tensor)>, String> {
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
        .map_err(|e| format!("session: {e}"))?;
    let outputs = session.run(&refs).map_err(|e| format!("run: {e}"))?;
    let mut two_threads = model
        .session(SessionOptions {
            threads: 2,
            ..SessionOptions::default()
        })
        .map_err(|e| format!("session (2 threads): {e}"))?;
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
    let mut pairs = Vec::new();
    for (name, file) in &case.outputs {
        let expected = mote::npy::read(dir.join(file)).map_err(|e| e.to_string())?;
        let actual = outputs
            .iter()
            .find(|(n, _)| n == name)
            .ok_or(format!("no output {name}"))?
            .1
            .clone();
        if actual.dtype() != expected.dtype() || actual.shape() != expected.shape() {
            return Err(format!(
                "{name}: {} {:?} vs reference {} {:?}",
                actual.dtype(),
                actual.shape(),
                expected.dtype(),
                expected.shape()
            ));
        }
        pairs.push((name.clone(), actual, expected));
    }
    Ok(pairs)
}

/// How close a float output is to its reference.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FloatMetrics {
    pub(crate) cosine: f64,
    pub(crate) max_abs_diff: f64,
    pub(crate) max_abs_ref: f64,
    pub(crate) all_finite: bool,
}

pub(crate) fn float_metrics(actual: &[f64], expected: &[f64]) -> FloatMetrics {
    let dot: f64 = actual.iter().zip(expected).map(|(x, y)| x * y).sum();
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let (na, ne) = (norm(actual), norm(expected));
    // Two all-zero tensors are identical; one all-zero against a non-zero one is not.
    let cosine = if na == 0.0 && ne == 0.0 {
        1.0
    } else if na == 0.0 || ne == 0.0 {
        0.0
    } else {
        dot / (na * ne)
    };
    FloatMetrics {
        cosine,
        max_abs_diff: actual
            .iter()
            .zip(expected)
            .fold(0.0f64, |m, (x, y)| m.max((x - y).abs())),
        max_abs_ref: expected.iter().fold(0.0f64, |m, x| m.max(x.abs())),
        all_finite: actual.iter().all(|x| x.is_finite()),
    }
}

/// The fraction of elements whose values differ by at most `steps`.
pub(crate) fn fraction_within(actual: &[f64], expected: &[f64], steps: f64) -> f64 {
    let close = actual
        .iter()
        .zip(expected)
        .filter(|(x, y)| (*x - *y).abs() <= steps)
        .count();
    close as f64 / expected.len().max(1) as f64
}
