//! The `calibrate` binary: help, output formats by extension, dynamic quantization and FP16
//! end to end, and clear refusals.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Output};

fn calibrate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_calibrate"))
        .args(args)
        .output()
        .expect("calibrate starts")
}

/// Runs `calibrate` and fails the test, with its stderr, unless it succeeds.
fn calibrate_ok(args: &[&str]) -> Output {
    let out = calibrate(args);
    assert!(
        out.status.success(),
        "calibrate {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn digits() -> std::path::PathBuf {
    repo_root().join("assets/models/digits_mlp.onnx")
}

fn top1(t: &mote::Tensor) -> f64 {
    let y = mote::npy::read(repo_root().join("assets/models/digits_test_y.npy")).unwrap();
    let y = y.as_slice::<i64>().unwrap();
    let p = argmax_rows(t);
    100.0 * p.iter().zip(y).filter(|(a, b)| **a as i64 == **b).count() as f64 / y.len() as f64
}

#[test]
fn help_lists_commands_and_examples() {
    let out = calibrate(&["--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for word in ["quantize", "fp16", "Examples"] {
        assert!(text.contains(word), "{text}");
    }
    let out = calibrate(&["quantize", "--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for word in [
        "--dynamic",
        "--per-tensor",
        "--activations",
        "--table",
        "--equalize",
        "--bias-correction",
        "Defaults",
        "Examples",
    ] {
        assert!(text.contains(word), "{text}");
    }
}

#[test]
fn refusals_are_clear() {
    let dir = scratch("cli-refusals");
    let bad = dir.join("out.txt");
    let out = calibrate(&[
        "quantize",
        digits().to_str().unwrap(),
        "--dynamic",
        "-o",
        bad.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(".onnx or .mote"));
    assert!(!bad.exists());
    let o = dir.join("q.onnx");
    let out = calibrate(&[
        "quantize",
        digits().to_str().unwrap(),
        "--dynamic",
        "--bias-correction",
        "-o",
        o.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
    // Equalization and bias correction calibrate the edited model: they need --data.
    for flag in ["--equalize", "--bias-correction"] {
        let out = calibrate(&[
            "quantize",
            digits().to_str().unwrap(),
            flag,
            "--table",
            "t.table",
            "-o",
            o.to_str().unwrap(),
        ]);
        assert!(!out.status.success());
        assert!(!o.exists());
    }
    let out = calibrate(&[
        "quantize",
        digits().to_str().unwrap(),
        "-o",
        o.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--data"));
    let out = calibrate(&["fp16", "/nonexistent.onnx", "-o", o.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.onnx"));
}

/// `--dynamic` on the demo MLP (its two Gemms): onnxruntime runs the .onnx as a drop-in
/// replacement within 1 point of FP32 top-1, and the .mote file loads and agrees.
#[test]
fn dynamic_quantization_onnx_and_mote() {
    let Some(py) = python() else { return };
    let dir = scratch("cli-dynamic");
    let x = mote::npy::read(repo_root().join("assets/models/digits_test_x.npy")).unwrap();
    let onnx_out = dir.join("d.onnx");
    let mote_out = dir.join("d.mote");
    for o in [&onnx_out, &mote_out] {
        calibrate_ok(&[
            "quantize",
            digits().to_str().unwrap(),
            "--dynamic",
            "-o",
            o.to_str().unwrap(),
        ]);
    }
    let fp = ort_run(&py, &digits(), &[("pixels", &x)], &dir.join("fp"));
    let q = ort_run(&py, &onnx_out, &[("pixels", &x)], &dir.join("q"));
    assert_eq!(fp.io["inputs"], q.io["inputs"]);
    assert_eq!(fp.io["outputs"], q.io["outputs"]);
    assert_eq!(fp.io["ir_version"], q.io["ir_version"]);
    assert!(q.io["ops"].to_string().contains("MatMulInteger"));
    let (a, b) = (top1(&fp.outputs[0]), top1(&q.outputs[0]));
    eprintln!("digits_mlp dynamic: top-1 fp32 {a:.2}% int8 {b:.2}%");
    assert!(a - b <= 1.0, "top-1 {a} -> {b}");
    let m = mote::Model::from_mote_file(&mote_out).expect("Mote loads the .mote output");
    let mut s = m.session(Default::default()).unwrap();
    let out = s.run(&[("pixels", &x)]).unwrap();
    let agree = argmax_rows(&out[0].1)
        .iter()
        .zip(argmax_rows(&q.outputs[0]))
        .filter(|(a, b)| **a == *b)
        .count();
    assert!(agree >= 445, "Mote and ORT agree on {agree}/450");
}

#[test]
fn fp16_to_mote_runs() {
    let dir = scratch("cli-fp16");
    let o = dir.join("h.mote");
    calibrate_ok(&[
        "fp16",
        digits().to_str().unwrap(),
        "--keep-io-fp32",
        "-o",
        o.to_str().unwrap(),
    ]);
    let m = mote::Model::from_mote_file(&o).unwrap();
    let x = mote::npy::read(repo_root().join("assets/models/digits_test_x.npy")).unwrap();
    let h = m
        .session(Default::default())
        .unwrap()
        .run(&[("pixels", &x)])
        .unwrap();
    assert!(top1(&h[0].1) >= 96.0, "fp16 top-1 {}", top1(&h[0].1));
    assert!(Path::new(&o).metadata().unwrap().len() > 0);
}

/// 100 training rows of the demo, one `.npy` sample per file.
fn digits_data_dir(py: &Path, dir: &Path) -> std::path::PathBuf {
    let all = dir.join("train100.npy");
    run_script(py, "digits_train.py", &["100", all.to_str().unwrap()]);
    let x = mote::npy::read(&all).unwrap();
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    for (i, row) in x.as_slice::<f32>().unwrap().chunks(64).enumerate() {
        let t = mote::Tensor::from_slice(&[1, 64], row).unwrap();
        mote::npy::write(data.join(format!("{i:03}.npy")), &t).unwrap();
    }
    data
}

/// Issue #6's demo target through the binary: `calibrate quantize digits_mlp.onnx --data
/// <100 samples> -o q.onnx` with default settings loses at most 0.5 points of top-1 on the
/// test split as onnxruntime scores it; `-o q.mote` loads and agrees; `--table` with the
/// table `calibrate table` writes gives the same model as `--data`.
#[test]
fn static_quantization_end_to_end() {
    let Some(py) = python() else { return };
    let dir = scratch("cli-static");
    let data = digits_data_dir(&py, &dir);
    let x = mote::npy::read(repo_root().join("assets/models/digits_test_x.npy")).unwrap();
    let fp = ort_run(&py, &digits(), &[("pixels", &x)], &dir.join("fp"));
    let base = top1(&fp.outputs[0]);
    let src = digits();
    let src = src.to_str().unwrap();
    let q = dir.join("q.onnx");
    calibrate_ok(&[
        "quantize",
        src,
        "--data",
        data.to_str().unwrap(),
        "-o",
        q.to_str().unwrap(),
    ]);
    let run = ort_run(&py, &q, &[("pixels", &x)], &dir.join("q"));
    assert_eq!(fp.io["inputs"], run.io["inputs"]);
    assert_eq!(fp.io["outputs"], run.io["outputs"]);
    assert_eq!(fp.io["ir_version"], run.io["ir_version"]);
    assert_eq!(fp.io["opsets"], run.io["opsets"]);
    let acc = top1(&run.outputs[0]);
    eprintln!("digits_mlp calibrate quantize (defaults, 100 samples): top-1 fp32 {base:.2}% int8 {acc:.2}%");
    assert!(base - acc <= 0.5, "top-1 {base} -> {acc}");

    let m = dir.join("q.mote");
    calibrate_ok(&[
        "quantize",
        src,
        "--data",
        data.to_str().unwrap(),
        "-o",
        m.to_str().unwrap(),
    ]);
    let model = mote::Model::from_mote_file(&m).unwrap();
    let mote_out = model
        .session(Default::default())
        .unwrap()
        .run(&[("pixels", &x)])
        .unwrap();
    let agree = argmax_rows(&mote_out[0].1)
        .iter()
        .zip(argmax_rows(&run.outputs[0]))
        .filter(|(a, b)| **a == *b)
        .count();
    assert!(
        agree >= 445,
        "Mote's .mote and ORT's .onnx agree on {agree}/450"
    );

    let table = dir.join("t.table");
    calibrate_ok(&[
        "table",
        src,
        "--data",
        data.to_str().unwrap(),
        "-o",
        table.to_str().unwrap(),
    ]);
    let q2 = dir.join("q2.onnx");
    calibrate_ok(&[
        "quantize",
        src,
        "--table",
        table.to_str().unwrap(),
        "-o",
        q2.to_str().unwrap(),
    ]);
    assert!(
        std::fs::read(&q).unwrap() == std::fs::read(&q2).unwrap(),
        "--table and --data wrote different models"
    );

    // An edited line is applied: `hidden` (the first Gemm's Relu output) given max 10.
    let text = std::fs::read_to_string(&table).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("hidden\t"))
        .expect("hidden in the table");
    let min: f32 = line.split('\t').nth(1).unwrap().parse().unwrap();
    let edited = text.replace(line, &format!("hidden\t{min}\t10\tmanual"));
    std::fs::write(&table, edited).unwrap();
    let q3 = dir.join("q3.onnx");
    calibrate_ok(&[
        "quantize",
        src,
        "--table",
        table.to_str().unwrap(),
        "-o",
        q3.to_str().unwrap(),
    ]);
    let m = calibrate::onnx::load(&q3).unwrap();
    let g = calibrate::onnx::graph_of(&m).unwrap();
    let scale = calibrate::onnx::graph::initializer(g, "hidden_scale").expect("hidden_scale");
    let scale = calibrate::onnx::tensor::to_f32(scale).unwrap()[0];
    let want = calibrate::qdq::params::compute(min, 10.0, calibrate::qdq::QType::S8, false).scale;
    assert_eq!(scale, want, "the edited range was not applied");

    // The other methods and options run; their accuracy is reported, not asserted.
    for extra in [
        &["--method", "percentile"][..],
        &["--method", "entropy"],
        &["--method", "mse"],
        &["--per-tensor"],
        &["--activations", "u8"],
        &["--symmetric"],
        &["--bias-correction"],
        &["--per-tensor", "--bias-correction"],
        &["--equalize"],
    ] {
        let o = dir.join("v.onnx");
        let mut args = vec![
            "quantize",
            src,
            "--data",
            data.to_str().unwrap(),
            "-o",
            o.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = calibrate(&args);
        assert!(
            out.status.success(),
            "{extra:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let r = ort_run(&py, &o, &[("pixels", &x)], &dir.join("v"));
        eprintln!(
            "digits_mlp {extra:?}: top-1 int8 {:.2}%",
            top1(&r.outputs[0])
        );
    }
}
