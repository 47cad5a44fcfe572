//! The C++ wrapper (`bindings/cpp/mote.hpp`): its test program
//! (`bindings/cpp/tests/test_mote.cpp`) built with g++ against the shared library, run on the
//! demo model's test images; its probabilities equal the Rust API's bit for bit, and its own
//! checks (descriptions, errors thrown as `mote::Error`, moves) pass; under valgrind it has no
//! memory errors and no leaks.

mod common;

use common::{lib_dir, missing_tool, repo_root, run, scratch, skip};
use std::path::{Path, PathBuf};
use std::process::Command;

const TEST: &str = "cpp_bindings";

fn model() -> PathBuf {
    repo_root().join("assets/models/digits_mlp.onnx")
}

/// The test images and their probabilities from the Rust API.
fn images_and_expected() -> (Vec<f32>, Vec<f32>) {
    let x = mote::npy::read(repo_root().join("assets/models/digits_test_x.npy")).unwrap();
    let model = mote::Model::load(model()).unwrap();
    let mut session = model.session(mote::SessionOptions::default()).unwrap();
    let out = session.run(&[("pixels", &x)]).unwrap();
    (
        x.as_slice::<f32>().unwrap().to_vec(),
        out[0].1.as_slice::<f32>().unwrap().to_vec(),
    )
}

fn write_f32(path: &Path, values: &[f32]) {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap();
}

fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// g++ as C++17 with every warning an error, seeing `mote.h` and `mote.hpp`.
fn strict_gxx() -> Command {
    let mut gxx = Command::new("g++");
    gxx.args(["-std=c++17", "-Wall", "-Wextra", "-Werror", "-pedantic"])
        .arg("-I")
        .arg(repo_root().join("include"))
        .arg("-I")
        .arg(repo_root().join("bindings/cpp"));
    gxx
}

fn build(dir: &Path) -> PathBuf {
    let exe = dir.join("test_mote");
    run(strict_gxx()
        .arg("-O1")
        .arg(repo_root().join("bindings/cpp/tests/test_mote.cpp"))
        .arg("-o")
        .arg(&exe)
        .arg(format!("-L{}", lib_dir().display()))
        .arg("-lmote")
        .arg(format!("-Wl,-rpath,{}", lib_dir().display())));
    exe
}

#[test]
fn cpp_wrapper_matches_the_rust_api_and_is_valgrind_clean() {
    if let Some(reason) = missing_tool("g++") {
        return skip(TEST, &reason);
    }
    let dir = scratch("cpp-bindings");
    let (pixels, expected) = images_and_expected();
    let n = pixels.len() / 64;
    assert_eq!(n, 450);
    let input = dir.join("pixels.f32");
    write_f32(&input, &pixels);
    let exe = build(&dir);

    let output = dir.join("probabilities.f32");
    let out = run(Command::new(&exe)
        .arg(model())
        .arg(&input)
        .arg(n.to_string())
        .arg(&output));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n");
    let got = read_f32(&output);
    assert_eq!(got.len(), expected.len());
    // Same library, same kernels, same machine: the same bits.
    assert!(
        got.iter()
            .zip(&expected)
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        "the C++ wrapper's probabilities differ from the Rust API's"
    );

    match missing_tool("valgrind") {
        None => {
            let output = dir.join("probabilities-valgrind.f32");
            let out = run(Command::new("valgrind")
                .args(["--error-exitcode=1", "--leak-check=full", "--quiet"])
                .arg(&exe)
                .arg(model())
                .arg(&input)
                .arg(n.to_string())
                .arg(&output));
            assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n");
            // valgrind's CPU lacks AVX-512, so other kernel variants run: close, not equal.
            let got = read_f32(&output);
            assert_eq!(got.len(), expected.len());
            for (i, (a, b)) in got.iter().zip(&expected).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-5,
                    "probability {i}: {a} vs {b} under valgrind"
                );
            }
        }
        Some(reason) => skip(&format!("{TEST} (valgrind part)"), &reason),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cpp_header_compiles_alone() {
    if let Some(reason) = missing_tool("g++") {
        return skip("cpp_header_compiles_alone", &reason);
    }
    let dir = scratch("cpp-header");
    let source = dir.join("alone.cpp");
    std::fs::write(&source, "#include \"mote.hpp\"\n").unwrap();
    run(strict_gxx().arg("-fsyntax-only").arg(&source));
    let _ = std::fs::remove_dir_all(&dir);
}
