//! `include/mote.h` compiles on its own as strict C99 and as C++17 (and its ABI macros work),
//! with gcc and g++.

mod common;

use common::{missing_tool, repo_root, scratch, skip};
use std::process::Command;

const ALONE: &str = "#include \"mote.h\"\n";

/// The header's macros in use: a wrong ABI must fail to compile, a right one must not.
const MACROS: &str = "#include \"mote.h\"\n\
MOTE_REQUIRE_ABI(MOTE_ABI_VERSION);\n\
MOTE_REQUIRE_ABI(MOTE_ABI_VERSION);\n\
int check(void);\n\
int check(void) {\n\
  MoteSessionOptions options;\n\
  return MOTE_SESSION_OPTIONS_INIT(&options) == MOTE_STATUS_OK && MOTE_ABI_MATCHES();\n\
}\n";

fn compile(compiler: &str, std: &str, file: &str, source: &str) -> std::process::Output {
    let dir = scratch(&format!("header-{compiler}-{std}"));
    let path = dir.join(file);
    std::fs::write(&path, source).unwrap();
    let mut cmd = Command::new(compiler);
    cmd.arg(format!("-std={std}"))
        .args([
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-fsyntax-only",
            "-I",
        ])
        .arg(repo_root().join("include"))
        .arg(&path);
    cmd.output().expect("the compiler starts")
}

#[test]
fn header_compiles_alone_as_c99_and_cpp17() {
    for (compiler, std, file) in [("gcc", "c99", "alone.c"), ("g++", "c++17", "alone.cpp")] {
        if let Some(reason) = missing_tool(compiler) {
            skip("header_compiles_alone_as_c99_and_cpp17", &reason);
            continue;
        }
        for source in [ALONE, MACROS] {
            let out = compile(compiler, std, file, source);
            assert!(
                out.status.success(),
                "{compiler} -std={std} rejects mote.h:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let wrong = MACROS.replace(
            "MOTE_REQUIRE_ABI(MOTE_ABI_VERSION);\nMOTE_REQUIRE_ABI",
            "MOTE_REQUIRE_ABI(MOTE_ABI_VERSION + 1);\nMOTE_REQUIRE_ABI",
        );
        let out = compile(compiler, std, file, &wrong);
        assert!(
            !out.status.success(),
            "{compiler}: MOTE_REQUIRE_ABI accepted another ABI version"
        );
    }
}

#[test]
fn header_compiles_in_c11_too() {
    // C11 takes the _Static_assert branch of MOTE_STATIC_ASSERT.
    if let Some(reason) = missing_tool("gcc") {
        return skip("header_compiles_in_c11_too", &reason);
    }
    let out = compile("gcc", "c11", "c11.c", MACROS);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
