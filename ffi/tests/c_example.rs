//! The C example app (`examples/c/digits.c`) built with gcc against the static and the shared
//! library, each through the pkg-config file `ffi/make_pc.sh` writes; run on the demo model's
//! test images; its predictions equal the Rust API's; and under valgrind it has no memory
//! errors and no leaks. Its CMake file (`examples/c/CMakeLists.txt`) configures and builds it
//! the same two ways, with the same answers.

mod common;

use common::{lib_dir, missing_tool, repo_root, run, scratch, skip};
use std::path::{Path, PathBuf};
use std::process::Command;

const TEST: &str = "c_example";

fn model() -> PathBuf {
    repo_root().join("assets/models/digits_mlp.onnx")
}

fn images() -> PathBuf {
    repo_root().join("assets/models/digits_test_x.npy")
}

/// What the example must print: "INDEX DIGIT" per image, from the Rust API.
fn expected_output() -> String {
    let model = mote::Model::load(model()).unwrap();
    let mut session = model.session(mote::SessionOptions::default()).unwrap();
    let x = mote::npy::read(images()).unwrap();
    let out = session.run(&[("pixels", &x)]).unwrap();
    let probs = out[0].1.as_slice::<f32>().unwrap();
    probs
        .chunks(10)
        .enumerate()
        .map(|(i, row)| {
            let digit = (0..10).fold(0, |best, d| if row[d] > row[best] { d } else { best });
            format!("{i} {digit}\n")
        })
        .collect()
}

/// Installs one flavour of the library under `prefix` (lib/, include/, lib/pkgconfig/mote.pc)
/// the way a package would, so the build below goes through the pkg-config file.
fn install(prefix: &Path, lib: &str) {
    std::fs::create_dir_all(prefix.join("lib/pkgconfig")).unwrap();
    std::fs::create_dir_all(prefix.join("include")).unwrap();
    std::fs::copy(lib_dir().join(lib), prefix.join("lib").join(lib)).unwrap();
    std::fs::copy(
        repo_root().join("include/mote.h"),
        prefix.join("include/mote.h"),
    )
    .unwrap();
    let pc = run(Command::new("bash")
        .arg(repo_root().join("ffi/make_pc.sh"))
        .arg(prefix));
    std::fs::write(prefix.join("lib/pkgconfig/mote.pc"), pc.stdout).unwrap();
}

/// Compiler and linker flags for `prefix` from pkg-config, or written out by hand (the same
/// flags as mote.pc) when pkg-config is missing.
fn flags(prefix: &Path, static_link: bool) -> Vec<String> {
    if missing_tool("pkg-config").is_none() {
        let mut cmd = Command::new("pkg-config");
        cmd.env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
            .args(["--cflags", "--libs"]);
        if static_link {
            cmd.arg("--static");
        }
        let out = run(cmd.arg("mote"));
        return String::from_utf8(out.stdout)
            .unwrap()
            .split_whitespace()
            .map(String::from)
            .collect();
    }
    skip(
        TEST,
        "pkg-config is missing: linking with hand-written flags",
    );
    let mut f = vec![
        format!("-I{}", prefix.join("include").display()),
        format!("-L{}", prefix.join("lib").display()),
        "-lmote".into(),
    ];
    if static_link {
        f.extend(
            "-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc -Wl,-z,noexecstack"
                .split(' ')
                .map(String::from),
        );
    }
    f
}

fn build(dir: &Path, static_link: bool) -> PathBuf {
    let flavour = if static_link { "static" } else { "shared" };
    let prefix = dir.join(format!("prefix-{flavour}"));
    install(
        &prefix,
        if static_link {
            "libmote.a"
        } else {
            "libmote.so"
        },
    );
    let exe = dir.join(format!("digits-{flavour}"));
    let mut cmd = Command::new("gcc");
    cmd.args([
        "-std=c99",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-pedantic",
        "-O2",
    ])
    .arg(repo_root().join("examples/c/digits.c"))
    .arg("-o")
    .arg(&exe)
    .args(flags(&prefix, static_link));
    if !static_link {
        cmd.arg(format!("-Wl,-rpath,{}", prefix.join("lib").display()));
    }
    run(&mut cmd);
    exe
}

/// Whether the executable asks the dynamic loader for libmote.so.
fn needs_shared_libmote(exe: &Path) -> bool {
    let out = run(Command::new("readelf").arg("-d").arg(exe));
    String::from_utf8_lossy(&out.stdout).contains("libmote.so")
}

#[test]
fn c_example_matches_the_rust_api_static_and_shared_and_is_valgrind_clean() {
    if let Some(reason) = missing_tool("gcc") {
        return skip(TEST, &reason);
    }
    let dir = scratch("c-example");
    let expected = expected_output();
    assert_eq!(expected.lines().count(), 450);
    let valgrind = match missing_tool("valgrind") {
        None => true,
        Some(reason) => {
            skip(&format!("{TEST} (valgrind part)"), &reason);
            false
        }
    };
    for static_link in [true, false] {
        let exe = build(&dir, static_link);
        match missing_tool("readelf") {
            None => assert_eq!(
                needs_shared_libmote(&exe),
                !static_link,
                "{} links the wrong library",
                exe.display()
            ),
            Some(reason) => skip(&format!("{TEST} (which library is linked)"), &reason),
        }
        let out = run(Command::new(&exe).arg(model()).arg(images()));
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            expected,
            "{} disagrees with the Rust API",
            exe.display()
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("input pixels: f32 [N, 64]"),
            "the symbolic dimension is reported: {stderr}"
        );
        if valgrind {
            let out = run(Command::new("valgrind")
                .args(["--error-exitcode=1", "--leak-check=full", "--quiet"])
                .arg(&exe)
                .arg(model())
                .arg(images()));
            assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Configures and builds `examples/c` with CMake against the library installed under
/// `prefix` (found through its mote.pc), shared or `-DMOTE_STATIC=ON`; returns the program.
fn cmake_build(dir: &Path, prefix: &Path, static_link: bool) -> PathBuf {
    let build = dir.join(if static_link {
        "cmake-static"
    } else {
        "cmake-shared"
    });
    run(Command::new("cmake")
        .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
        .arg("-S")
        .arg(repo_root().join("examples/c"))
        .arg("-B")
        .arg(&build)
        .arg(format!(
            "-DMOTE_STATIC={}",
            if static_link { "ON" } else { "OFF" }
        ))
        .arg("-DCMAKE_BUILD_TYPE=Release")
        .arg("-DCMAKE_C_FLAGS=-Wall -Wextra -Werror -pedantic"));
    run(Command::new("cmake").arg("--build").arg(&build));
    build.join("digits")
}

#[test]
fn cmake_example_builds_static_and_shared_and_matches_the_rust_api() {
    const CMAKE_TEST: &str = "cmake_example";
    for tool in ["cmake", "gcc", "pkg-config"] {
        if let Some(reason) = missing_tool(tool) {
            return skip(CMAKE_TEST, &reason);
        }
    }
    let dir = scratch("cmake-example");
    let expected = expected_output();
    // One prefix with both libraries, as a package installs them: the CMake file picks one.
    let prefix = dir.join("prefix");
    install(&prefix, "libmote.so");
    install(&prefix, "libmote.a");
    for static_link in [false, true] {
        let exe = cmake_build(&dir, &prefix, static_link);
        match missing_tool("readelf") {
            None => assert_eq!(
                needs_shared_libmote(&exe),
                !static_link,
                "{} links the wrong library",
                exe.display()
            ),
            Some(reason) => skip(&format!("{CMAKE_TEST} (which library is linked)"), &reason),
        }
        // No LD_LIBRARY_PATH: the shared build finds libmote.so through its build rpath.
        let out = run(Command::new(&exe)
            .env_remove("LD_LIBRARY_PATH")
            .arg(model())
            .arg(images()));
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            expected,
            "{} disagrees with the Rust API",
            exe.display()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_library_exports_the_whole_api() {
    // Every function the header declares is exported by libmote.so.
    if let Some(reason) = missing_tool("nm") {
        return skip("the_library_exports_the_whole_api", &reason);
    }
    let header = std::fs::read_to_string(repo_root().join("include/mote.h")).unwrap();
    let declared: Vec<&str> = header
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("mote_"))
        .filter(|w| header.contains(&format!("{w}(")))
        .collect();
    let out = run(Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(lib_dir().join("libmote.so")));
    let symbols = String::from_utf8(out.stdout).unwrap();
    let exported: Vec<&str> = symbols
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .filter(|s| s.starts_with("mote_"))
        .collect();
    for f in &declared {
        assert!(
            exported.contains(f),
            "{f} is declared in mote.h but not exported"
        );
    }
    for f in &exported {
        assert!(
            declared.contains(f),
            "{f} is exported but not declared in mote.h"
        );
    }
    assert!(exported.len() > 20, "{exported:?}");
}
