//! Shared helpers of calibrate's integration tests: the project's Python (onnxruntime 1.31.1)
//! as the judge of written models, and a MinMax table computed with Mote.

#![allow(dead_code)]

use calibrate::onnx::{self, pb};
use calibrate::table::{CalibrationTable, Method, TensorRange};
use mote::{DType, Tensor};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root.
pub(crate) fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Skips (or fails under MOTE_REQUIRE_TEST_DATA) when something a test needs is missing.
pub(crate) fn missing(what: &str) -> Option<()> {
    let message = format!("{what} is missing (run scripts/test.sh or scripts/setup to create it)");
    if std::env::var_os("MOTE_REQUIRE_TEST_DATA").is_some() {
        panic!("{message}");
    }
    eprintln!("SKIPPED: {message}");
    None
}

/// The project's Python with onnxruntime: `MOTE_PYTHON`, else `.cache/venv/bin/python`.
pub(crate) fn python() -> Option<PathBuf> {
    let p = std::env::var_os("MOTE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".cache/venv/bin/python"));
    if p.exists() {
        Some(p)
    } else {
        missing(&format!("the project's Python ({})", p.display()))?;
        None
    }
}

/// A fresh scratch directory for one test, removed when dropped (kept when
/// `MOTE_KEEP_SCRATCH` is set, for debugging).
pub(crate) struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::env::var_os("MOTE_KEEP_SCRATCH").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

pub(crate) fn scratch(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("mote-calibrate-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

/// Runs a Python script of tests/common with arguments; panics with its stderr on failure.
pub(crate) fn run_script(py: &Path, script: &str, args: &[&str]) {
    let out = Command::new(py)
        .arg(repo_root().join("calibrate/tests/common").join(script))
        .args(args)
        .output()
        .expect("python starts");
    assert!(
        out.status.success(),
        "{script} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What onnxruntime made of a model: its outputs on `inputs` and its I/O description.
pub(crate) struct OrtRun {
    pub(crate) outputs: Vec<Tensor>,
    pub(crate) io: serde_json::Value,
}

/// Runs `model` with onnxruntime on `inputs` (name, tensor).
pub(crate) fn ort_run(py: &Path, model: &Path, inputs: &[(&str, &Tensor)], dir: &Path) -> OrtRun {
    std::fs::create_dir_all(dir).unwrap();
    let mut feeds = serde_json::Map::new();
    for (i, (name, t)) in inputs.iter().enumerate() {
        let p = dir.join(format!("in{i}.npy"));
        mote::npy::write(&p, t).unwrap();
        feeds.insert(name.to_string(), p.to_string_lossy().into());
    }
    let out_dir = dir.join("ort_out");
    let _ = std::fs::remove_dir_all(&out_dir);
    let req = serde_json::json!({
        "model": model, "inputs": feeds, "out_dir": out_dir,
    });
    let req_path = dir.join("request.json");
    std::fs::write(&req_path, req.to_string()).unwrap();
    run_script(py, "ort_run.py", &[req_path.to_str().unwrap()]);
    let io: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("io.json")).unwrap()).unwrap();
    let count = if inputs.is_empty() {
        0
    } else {
        io["outputs"].as_array().unwrap().len()
    };
    let outputs = (0..count)
        .map(|i| mote::npy::read(out_dir.join(format!("{i}.npy"))).unwrap())
        .collect();
    OrtRun { outputs, io }
}

/// Runs `model_bytes` with Mote.
pub(crate) fn mote_run(model_bytes: &[u8], inputs: &[(&str, &Tensor)]) -> Vec<(String, Tensor)> {
    let model = mote::Model::from_bytes(model_bytes).expect("Mote loads the model");
    let mut s = model.session(Default::default()).unwrap();
    s.run(inputs).expect("Mote runs the model")
}

/// A MinMax table of every float tensor the model computes (and its float inputs), from
/// Mote runs on `feeds`: each node output becomes an extra graph output.
pub(crate) fn minmax_table(
    model: &pb::ModelProto,
    feeds: &[Vec<(String, Tensor)>],
) -> CalibrationTable {
    let mut m = model.clone();
    let g = onnx::graph_mut(&mut m).unwrap();
    let existing: std::collections::HashSet<String> =
        g.output.iter().map(|o| o.name.clone()).collect();
    let extra: Vec<String> = g
        .node
        .iter()
        .filter(|n| n.op_type != "Constant")
        .flat_map(|n| n.output.iter().cloned())
        .filter(|o| !o.is_empty() && !existing.contains(o))
        .collect();
    for o in &extra {
        g.output.push(pb::ValueInfoProto {
            name: o.clone(),
            ..Default::default()
        });
    }
    let bytes = onnx::encode(&m);
    let model = mote::Model::from_bytes(&bytes).expect("Mote loads the augmented model");
    let mut s = model.session(Default::default()).unwrap();
    let mut table = CalibrationTable::default();
    for feed in feeds {
        let inputs: Vec<(&str, &Tensor)> = feed.iter().map(|(n, t)| (n.as_str(), t)).collect();
        let mut all: Vec<(String, Tensor)> = s.run(&inputs).unwrap();
        all.extend(feed.iter().cloned());
        for (name, t) in all {
            if t.dtype() != DType::F32 {
                continue;
            }
            let v = t.as_slice::<f32>().unwrap();
            let (lo, hi) = v
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &x| {
                    (l.min(x), h.max(x))
                });
            if lo > hi {
                continue;
            }
            let r = table.ranges.entry(name).or_insert(TensorRange {
                min: lo,
                max: hi,
                method: Method::MinMax,
            });
            r.min = r.min.min(lo);
            r.max = r.max.max(hi);
        }
    }
    table
}

/// Cosine similarity and SNR (dB) of `actual` against `reference`.
pub(crate) fn cosine_snr(actual: &[f32], reference: &[f32]) -> (f64, f64) {
    let (mut dot, mut na, mut nr, mut noise) = (0f64, 0f64, 0f64, 0f64);
    for (&a, &r) in actual.iter().zip(reference) {
        let (a, r) = (a as f64, r as f64);
        dot += a * r;
        na += a * a;
        nr += r * r;
        noise += (a - r) * (a - r);
    }
    let cos = dot / (na.sqrt() * nr.sqrt()).max(1e-300);
    let snr = 10.0 * (nr / noise.max(1e-300)).log10();
    (cos, snr)
}

/// Index of the largest value of each row of a [rows, classes] f32 tensor.
pub(crate) fn argmax_rows(t: &Tensor) -> Vec<usize> {
    let classes = *t.shape().last().unwrap();
    t.as_slice::<f32>()
        .unwrap()
        .chunks(classes)
        .map(|row| {
            row.iter()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &v)| {
                    if v > bv {
                        (i, v)
                    } else {
                        (bi, bv)
                    }
                })
                .0
        })
        .collect()
}

/// Deterministic values in [-1, 1) (an LCG from `seed`).
pub(crate) fn noise(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 33) as f64 / (1u64 << 31) as f64 * 2.0 - 1.0) as f32
        })
        .collect()
}
