//! Until it is implemented, `calibrate` must refuse clearly instead of pretending to work.

#[test]
fn calibrate_says_not_yet_and_fails() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_calibrate"))
        .arg("model.onnx")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not yet implemented"));
}
