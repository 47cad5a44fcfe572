//! `calibrate table` and `calibrate report` end to end on the committed digits classifier,
//! its test images split into one `.npy` per sample.

use calibrate::data::{CalibrationData, InputSpec};
use calibrate::report::{compare, ReportOptions};
use calibrate::stats::ActivationType;
use calibrate::{collect_table, CalibrationTable, Method, StatsOptions};
use mote::Tensor;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn digits_model() -> PathBuf {
    repo().join("assets/models/digits_mlp.onnx")
}

/// Writes the first `n` test images as `sample_0000.npy`... (shape `[1, 64]`) and their
/// labels as `labels.npy` (outside the data folder), returns (data dir, labels file).
fn digits_samples(root: &Path, n: usize) -> (PathBuf, PathBuf) {
    let models = repo().join("assets/models");
    let x = mote::npy::read(models.join("digits_test_x.npy")).unwrap();
    let y = mote::npy::read(models.join("digits_test_y.npy")).unwrap();
    let x = x.as_slice::<f32>().unwrap();
    let y = y.as_slice::<i64>().unwrap();
    let dir = root.join("data");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..n {
        let t = Tensor::from_slice(&[1, 64], &x[i * 64..(i + 1) * 64]).unwrap();
        mote::npy::write(dir.join(format!("sample_{i:04}.npy")), &t).unwrap();
    }
    let labels = root.join("labels.npy");
    mote::npy::write(&labels, &Tensor::from_slice(&[n], &y[..n]).unwrap()).unwrap();
    (dir, labels)
}

fn calibrate_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_calibrate"))
}

fn opts(method: Method) -> StatsOptions {
    StatsOptions {
        method,
        activations: ActivationType::U8,
        symmetric: false,
        threads: 1,
        progress: false,
    }
}

#[test]
fn every_activation_of_the_onnx_graph_gets_a_range() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = digits_samples(tmp.path(), 40);
    let model = mote::Model::load(digits_model()).unwrap();
    let data = CalibrationData::open(&dir, &InputSpec::of_model(&model), None).unwrap();
    let cal = collect_table(&digits_model(), &data, &opts(Method::MinMax)).unwrap();
    let names: Vec<&str> = cal.table.ranges.keys().map(String::as_str).collect();
    // The Relu is fused into the Gemm at load; calibration still sees both by ONNX name.
    for expected in [
        "pixels",
        "scaled",
        "fc1",
        "hidden",
        "logits",
        "probabilities",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let hidden = &cal.table.ranges["hidden"];
    assert_eq!(hidden.min, 0.0);
    assert!(hidden.max > 0.0);
    // fc1 is the pre-activation: it goes negative, hidden (its Relu) does not.
    assert!(cal.table.ranges["fc1"].min < 0.0);
    let p = &cal.table.ranges["probabilities"];
    assert!(p.min >= 0.0 && p.max <= 1.0 && p.max > 0.5);
    // Raw pixels are 0..16; scaled = pixels / 16.
    assert_eq!(cal.table.ranges["pixels"].max, 16.0);
    assert_eq!(cal.table.ranges["scaled"].max, 1.0);
    assert_eq!(cal.histograms["pixels"].total(), 40 * 64);

    for method in [Method::Percentile(99.9), Method::Entropy, Method::Mse] {
        let other = collect_table(&digits_model(), &data, &opts(method.clone())).unwrap();
        assert_eq!(other.table.ranges.len(), cal.table.ranges.len());
        for (name, r) in &other.table.ranges {
            let m = &cal.table.ranges[name];
            assert_eq!(r.method, method);
            assert!(r.min >= m.min && r.max <= m.max, "{name}: {r:?} vs {m:?}");
        }
    }
}

#[test]
fn table_command_is_deterministic_and_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = digits_samples(tmp.path(), 30);
    let run = |out: &Path| {
        let status = calibrate_bin()
            .arg("table")
            .arg(digits_model())
            .arg("--data")
            .arg(&dir)
            .args(["--method", "entropy", "-o"])
            .arg(out)
            .status()
            .unwrap();
        assert!(status.success());
        std::fs::read_to_string(out).unwrap()
    };
    let a = run(&tmp.path().join("a.table"));
    let b = run(&tmp.path().join("b.table"));
    assert_eq!(a, b);
    let table = CalibrationTable::from_text(&a).unwrap();
    assert!(table.ranges.len() >= 6);
    assert!(table.ranges.values().all(|r| r.method == Method::Entropy));
    assert_eq!(
        CalibrationTable::from_text(&table.to_text()).unwrap(),
        table
    );
}

#[test]
fn bad_data_fails_with_a_clear_message() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    std::fs::create_dir_all(&dir).unwrap();
    let t = Tensor::from_vec(&[1, 63], vec![0f32; 63]).unwrap();
    mote::npy::write(dir.join("bad.npy"), &t).unwrap();
    let out = calibrate_bin()
        .arg("table")
        .arg(digits_model())
        .arg("--data")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.npy") && err.contains("pixels"), "{err}");
}

#[test]
fn help_has_examples() {
    for args in [
        vec!["--help"],
        vec!["table", "--help"],
        vec!["report", "--help"],
    ] {
        let out = calibrate_bin().args(&args).output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Examples:"), "{args:?}: {text}");
    }
}

#[test]
fn report_of_the_model_against_itself_is_exact() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, labels) = digits_samples(tmp.path(), 50);
    let out = tmp.path().join("report");
    let table = tmp.path().join("hand.table");
    std::fs::write(&table, "hidden\t0\t2.5\tmanual\n").unwrap();
    let status = calibrate_bin()
        .arg("report")
        .arg(digits_model())
        .arg(digits_model())
        .arg("--data")
        .arg(&dir)
        .arg("--labels")
        .arg(&labels)
        .arg("--table")
        .arg(&table)
        .args(["--runs", "3", "--out"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let models = json["models"].as_array().unwrap();
    assert_eq!(models.len(), 2);
    let v = &models[1];
    assert_eq!(v["role"], "variant");
    assert_eq!(v["cosine"].as_f64().unwrap(), 1.0);
    assert_eq!(v["identical_outputs"], true);
    assert_eq!(v["max_abs_error"].as_f64().unwrap(), 0.0);
    assert_eq!(v["top1"], models[0]["top1"]);
    assert!(v["top1"].as_f64().unwrap() > 0.9);
    assert_eq!(v["file_bytes"].as_u64().unwrap(), 19_797);
    assert!(v["latency_ms_median"].as_f64().unwrap() > 0.0);
    assert!(v["planned_peak_bytes"].as_u64().unwrap() > 0);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("inf (identical)") && md.contains("top-1"),
        "{md}"
    );
    let activations = json["activations"].as_array().unwrap();
    assert!(activations.len() >= 6);
    for a in activations {
        let plot = std::fs::read_to_string(out.join(a["plot"].as_str().unwrap())).unwrap();
        assert!(plot.starts_with("<svg"));
        // Only the tensor the table names gets a range, drawn in the plot's title.
        if a["name"] == "hidden" {
            assert_eq!(a["range"], serde_json::json!([0.0, 2.5]));
            assert_eq!(a["method"], "manual");
            assert!(plot.contains("hidden: [0, 2.5] (manual)"));
        } else {
            assert!(a["range"].is_null(), "{a}");
        }
    }
}

/// The u8/s8 QDQ variant of the digits model from the real-model cache, when present.
fn qdq_variant() -> Option<PathBuf> {
    let p = repo().join(".cache/real-models/digits_mlp@qdq_u8s8/model.onnx");
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipped: {} is absent", p.display());
        None
    }
}

#[test]
fn report_of_a_quantized_variant_measures_its_error() {
    let Some(qdq) = qdq_variant() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (dir, labels) = digits_samples(tmp.path(), 120);
    let model = mote::Model::load(digits_model()).unwrap();
    let data = CalibrationData::open(&dir, &InputSpec::of_model(&model), None).unwrap();
    let opts = ReportOptions {
        runs: 3,
        labels: Some(labels),
        progress: false,
        ..ReportOptions::default()
    };
    let report = compare(&digits_model(), &[qdq], &data, &opts).unwrap();
    let (orig, v) = (&report.models[0], &report.models[1]);
    assert!(v.cosine > 0.99 && v.cosine < 1.0, "{v:?}");
    assert!(v.snr_db > 15.0 && v.snr_db.is_finite(), "{v:?}");
    assert!(v.max_abs_error > 0.0 && v.max_abs_error < 0.5, "{v:?}");
    assert_eq!(v.mismatched_outputs, 0);
    let (a, b) = (orig.top1.unwrap(), v.top1.unwrap());
    assert!(a > 0.9 && (a - b).abs() < 0.05, "{a} vs {b}");
    assert!(v.file_bytes < orig.file_bytes);
    let files = report.write(&tmp.path().join("out"), false).unwrap();
    assert_eq!(files.len(), 2);
}

/// Peak resident memory (KiB) of `calibrate table` on `dir`, through `/usr/bin/time -f %M`.
fn table_peak_kib(dir: &Path, out: &Path) -> Option<u64> {
    let result = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(env!("CARGO_BIN_EXE_calibrate"))
        .arg("table")
        .arg(digits_model())
        .arg("--data")
        .arg(dir)
        .args(["--method", "entropy", "-o"])
        .arg(out)
        .output()
        .ok()?;
    assert!(result.status.success());
    let stderr = String::from_utf8_lossy(&result.stderr);
    stderr.lines().last()?.trim().parse().ok()
}

#[test]
fn calibration_memory_does_not_grow_with_the_number_of_samples() {
    let tmp = tempfile::tempdir().unwrap();
    let few = tmp.path().join("few");
    let many = tmp.path().join("many");
    let (dir, _) = digits_samples(&few, 45);
    let (big, _) = digits_samples(&many, 450);
    let (Some(a), Some(b)) = (
        table_peak_kib(&dir, &tmp.path().join("a.table")),
        table_peak_kib(&big, &tmp.path().join("b.table")),
    ) else {
        eprintln!("skipped: /usr/bin/time is not available");
        return;
    };
    // Ten times the samples: the peak may wobble by allocator noise, not grow with them.
    assert!(
        b <= a + a / 5 + 1024,
        "45 samples: {a} KiB, 450 samples: {b} KiB"
    );
}
