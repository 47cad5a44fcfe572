//! Shared by the C-side tests: finding tools, building and finding `libmote`, scratch dirs.
//!
//! A missing tool skips its test with a printed reason, unless `MOTE_REQUIRE_TOOLS=1` (set by
//! `scripts/test.sh` when the tools are installed), where it fails instead.

#![allow(dead_code)] // each test binary uses a different part

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::SystemTime;

pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Whether `tool --version` runs. When it does not: `Some(reason)` to skip, or a panic under
/// `MOTE_REQUIRE_TOOLS=1`.
pub(crate) fn missing_tool(tool: &str) -> Option<String> {
    let found = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return None;
    }
    let reason = format!("`{tool}` is not installed");
    if std::env::var("MOTE_REQUIRE_TOOLS").is_ok_and(|v| v == "1") {
        panic!("{reason}, and MOTE_REQUIRE_TOOLS=1 requires it");
    }
    Some(reason)
}

/// Prints why a test is skipped (visible with --nocapture, as in scripts/test.sh).
pub(crate) fn skip(test: &str, reason: &str) {
    println!("SKIPPED {test}: {reason}");
}

/// Runs a command, panicking with its output if it fails.
#[track_caller]
pub(crate) fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The folder with `libmote.so` and `libmote.a` for the profile this test runs in, built
/// first when missing or older than the sources.
///
/// Integration tests cannot link a cdylib/staticlib crate, so `cargo test` does not build the
/// library; `scripts/test.sh` builds it first (`cargo build --workspace --all-targets`). When
/// it is missing or stale anyway (a single test run by hand), the test asks cargo to build it,
/// so the C side never tests a missing or stale library. That `-p mote-ffi` build resolves
/// some dependency features differently from a workspace build and may rebuild part of the
/// dependency tree once. (The check is by time only: a library built with other features,
/// e.g. `--no-default-features`, counts as fresh.) The test binary lives in
/// `<target>/<profile>/deps/`, which gives both the target folder and the profile.
pub(crate) fn lib_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test binary's path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test binary is in <target>/<profile>/deps")
            .to_path_buf();
        let libs = ["libmote.so", "libmote.a"].map(|l| profile_dir.join(l));
        let sources = newest_source();
        let fresh = libs
            .iter()
            .all(|lib| modified(lib).is_some_and(|t| t >= sources));
        if !fresh {
            let target_dir = profile_dir.parent().expect("<target>/<profile>");
            let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
                Some("debug") => "dev".to_string(),
                Some(name) => name.to_string(),
                None => panic!("unexpected target layout {}", profile_dir.display()),
            };
            println!("building libmote ({profile}) for the C tests");
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            run(Command::new(cargo)
                .current_dir(repo_root())
                .env("CARGO_TARGET_DIR", target_dir)
                .args(["build", "--quiet", "-p", "mote-ffi", "--lib", "--profile"])
                .arg(&profile));
        }
        for lib in &libs {
            assert!(lib.is_file(), "no {}", lib.display());
        }
        profile_dir
    })
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The newest modification time among the sources the library is built from.
fn newest_source() -> SystemTime {
    fn walk(dir: &Path, newest: &mut SystemTime) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, newest);
            } else if let Some(t) = modified(&path) {
                *newest = (*newest).max(t);
            }
        }
    }
    let root = repo_root();
    let mut newest = SystemTime::UNIX_EPOCH;
    for dir in ["ffi/src", "runtime/src", "kernels/src"] {
        walk(&root.join(dir), &mut newest);
    }
    for file in [
        "Cargo.toml",
        "Cargo.lock",
        "ffi/Cargo.toml",
        "runtime/Cargo.toml",
        "kernels/Cargo.toml",
    ] {
        if let Some(t) = modified(&root.join(file)) {
            newest = newest.max(t);
        }
    }
    newest
}

/// A fresh scratch folder for one test.
pub(crate) fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mote-ffi-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch folder");
    dir
}
