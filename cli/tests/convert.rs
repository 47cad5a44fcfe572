//! `mote convert` end to end: the `.mote` file it writes runs (through `mote run`) to
//! byte-identical outputs, and `mote inspect` reads it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn mote(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_mote"))
        .args(args)
        .output()
        .expect("run mote");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "mote {args:?} failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

fn run_to(model: &Path, input: &Path, dir: &Path) -> Vec<u8> {
    let input = format!("pixels={}", input.display());
    mote(&[
        "run",
        model.to_str().unwrap(),
        "--input",
        &input,
        "--output-dir",
        dir.to_str().unwrap(),
    ]);
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    files
        .iter()
        .flat_map(|f| std::fs::read(f).unwrap())
        .collect()
}

#[test]
fn converted_model_runs_identically() {
    let tmp = std::env::temp_dir().join(format!("mote-cli-convert-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let onnx = repo().join("assets/models/digits_mlp.onnx");
    let input = repo().join("assets/models/digits_test_x.npy");
    let out = tmp.join("digits.mote");
    let report = mote(&[
        "convert",
        onnx.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(report.contains("wrote"), "{report}");
    assert!(std::fs::read(&out).unwrap().starts_with(b"MOTE\0\r\n\x1a"));

    let (a, b) = (tmp.join("onnx"), tmp.join("mote"));
    let from_onnx = run_to(&onnx, &input, &a);
    let from_mote = run_to(&out, &input, &b);
    assert!(from_onnx == from_mote, "outputs differ");

    let inspect = mote(&["inspect", out.to_str().unwrap()]);
    assert!(
        inspect.contains("(.mote)") && inspect.contains("input      pixels"),
        "{inspect}"
    );
    let _ = std::fs::remove_dir_all(&tmp);
}
