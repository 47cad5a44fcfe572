#!/usr/bin/env bash
# Runs every test of the project, from a fresh clone: creates the Python venv, generates the
# ONNX node tests and the com.microsoft contrib-op tests, fetches the real models with their
# onnxruntime reference outputs, makes their INT8/FP16 variants (with reference outputs too)
# and the small QDQ Resize models of the 8-bit Resize (with onnxruntime outputs),
# then builds and runs the whole workspace's tests (optimized: the conformance suite and the real
# models need it). The README's test command; CI runs it through .ci/run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PY="$(scripts/setup_venv.sh)"
"$PY" scripts/gen_node_tests.py >&2
"$PY" scripts/gen_contrib_tests.py >&2
"$PY" scripts/fetch_real_models.py >&2
"$PY" scripts/make_quant_models.py >&2
"$PY" scripts/make_qresize_cases.py >&2

# The C ABI tests (ffi/tests/) compile the header and the C example with gcc/g++, link them
# through pkg-config, build the example's CMake file with cmake and run the example under
# valgrind. Install what is missing (as root or through passwordless sudo; no failure if
# neither works), then make those tests fail instead of skipping only when every tool is there.
c_tools=(gcc g++ valgrind pkg-config readelf nm cmake)
apt_tools=(valgrind pkg-config cmake)
if ! command -v valgrind >/dev/null || ! command -v pkg-config >/dev/null \
    || ! command -v cmake >/dev/null; then
  if [[ $(id -u) -eq 0 ]]; then sudo=(); else sudo=(sudo -n); fi
  { ${sudo[@]+"${sudo[@]}"} apt-get install -y -qq "${apt_tools[@]}" \
      || { ${sudo[@]+"${sudo[@]}"} apt-get update -qq && ${sudo[@]+"${sudo[@]}"} apt-get install -y -qq "${apt_tools[@]}"; }
  } >&2 || echo "test.sh: could not install ${apt_tools[*]}; the C ABI tests skip those parts" >&2
fi
missing=()
for t in "${c_tools[@]}"; do command -v "$t" >/dev/null || missing+=("$t"); done
if [[ ${#missing[@]} -eq 0 ]]; then
  export MOTE_REQUIRE_TOOLS=1
else
  echo "test.sh: missing ${missing[*]}: the C ABI tests skip what needs them" >&2
fi

# Profile `opt` (Cargo.toml): optimized like `--release` but without its fat LTO, which would
# make every test binary a whole-program link.
# The C ABI tests link target/opt/libmote.{so,a}, which `cargo test` does not build (a
# cdylib is no test dependency). Build them first with the feature set `cargo test` uses
# (--all-targets, as .ci/run's build step, after which this is a no-op).
cargo build --profile opt --workspace --all-targets

# The data-driven tests fail (instead of skipping) when their data is missing.
export MOTE_REQUIRE_TEST_DATA=1

# The Python bindings in a fresh venv, bundling the libmote just built (about 15 s).
bash scripts/test_python_bindings.sh >&2

# --nocapture shows the measured numbers (conformance counts, real-model cosines).
exec cargo test --profile opt --workspace -- --nocapture
