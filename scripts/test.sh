#!/usr/bin/env bash
# Runs every test of the project, from a fresh clone: creates the Python venv, generates the
# ONNX node tests and the com.microsoft contrib-op tests, fetches the real models with their
# onnxruntime reference outputs, makes their INT8/FP16 variants (with reference outputs too),
# then builds and runs the whole workspace's tests (optimized: the conformance suite and the real
# models need it). The README's test command; CI runs it through .ci/run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PY="$(scripts/setup_venv.sh)"
"$PY" scripts/gen_node_tests.py >&2
"$PY" scripts/gen_contrib_tests.py >&2
"$PY" scripts/fetch_real_models.py >&2
"$PY" scripts/make_quant_models.py >&2

# The data-driven tests fail (instead of skipping) when their data is missing.
export MOTE_REQUIRE_TEST_DATA=1
# --nocapture shows the measured numbers (conformance counts, real-model cosines).
exec cargo test --release --workspace -- --nocapture
